"""SPEC §17.4 Orchestrator Dispatch, Reconciliation, and Retry — one test per bullet.

The orchestrator runs in-process on a real local tracker, a real store, real git worktrees and
the built-in agent against the stub model server; assertions read its state and the store.
"""

from __future__ import annotations

import asyncio
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any, AsyncIterator, Callable

import pytest
import yaml

from tack.orchestrator import Orchestrator, scheduling
from tack.store import Store
from tack.testing import StubModelServer
from tack.tracker.base import Issue
from tack.workflow import WorkflowWatcher
from tack.workflow.config import TrackerConfig
from tests.conftest import git
from tests.e2e.harness import await_until as until

HANG = [{"hang": True}]
HANDOFF = [
    {"tool_calls": [{"name": "tracker", "arguments": {"action": "move", "state": "Human Review"}}]},
    {"text": "done"},
]
FAIL = [{"error": {"status": 400, "message": "scripted failure"}}]


class Rig:
    def __init__(self, root: Path, steps: list[dict[str, Any]], config: dict[str, Any]) -> None:
        self.root = root
        repo = root / "repo"
        repo.mkdir()
        git(repo, "init", "-q", "-b", "main")
        (repo / "f.txt").write_text("x\n")
        git(repo, "add", "-A")
        git(repo, "commit", "-q", "-m", "init")
        self.server = StubModelServer({"conversations": [{"steps": steps}]})
        cfg: dict[str, Any] = {
            "tracker": {"kind": "local"},
            "polling": {"interval_ms": 100},
            "workspace": {"root": "./ws", "repo": "./repo"},
            "agent": {"backend": "builtin", "max_turns": 2},
            "builtin": {"base_url": "http://127.0.0.1:9/v1", "model": "stub"},
        }
        for key, value in config.items():
            cfg.setdefault(key, {}).update(value)
        self.cfg = cfg
        self.path = root / "WORKFLOW.md"

    async def start(self) -> None:
        await self.server.start()
        self.cfg["builtin"]["base_url"] = self.server.url
        self.path.write_text(f"---\n{yaml.safe_dump(self.cfg)}---\nWork on {{{{ issue.identifier }}}}\n")
        self.watcher = WorkflowWatcher(self.path)
        self.store = Store(self.watcher.current.store_path())
        self.orch = Orchestrator(self.watcher, self.store)
        self.tracker: Any = self.orch.tracker
        self.task = asyncio.create_task(self.orch.run())

    async def stop(self) -> None:
        self.orch.stop()
        await asyncio.wait_for(self.task, 30)
        self.store.close()
        await self.server.stop()

    def add(self, title: str, **kw: Any) -> Issue:
        return self.tracker.add_issue(title, **kw)


@pytest.fixture
async def rig_factory(tmp_path: Path) -> AsyncIterator[Callable[..., Any]]:
    rigs: list[Rig] = []

    async def make(steps: list[dict[str, Any]], **config: Any) -> Rig:
        rig = Rig(tmp_path, steps, config)
        await rig.start()
        rigs.append(rig)
        return rig

    yield make
    for rig in rigs:
        await rig.stop()


def _issue(ident: str, priority: int | None, created: datetime | None, **kw: Any) -> Issue:
    return Issue(id=ident, identifier=ident, title="t", state="Todo", priority=priority,
                 created_at=created, **kw)


def test_dispatch_sort_order_is_priority_then_oldest_creation_time() -> None:
    """Dispatch sort order is priority then oldest creation time"""
    t0 = datetime(2026, 1, 1, tzinfo=timezone.utc)
    issues = [
        _issue("E", None, t0),
        _issue("D", 7, t0),
        _issue("C", 2, t0 + timedelta(hours=1)),
        _issue("B", 2, t0),
        _issue("A", 1, None),
        _issue("F", 2, t0),
    ]
    order = [i.identifier for i in scheduling.sort_for_dispatch(issues)]
    assert order == ["A", "B", "F", "C", "D", "E"]


def test_dispatchable_false_issues_are_not_eligible() -> None:
    """`dispatchable=false` issues are not eligible"""
    cfg = TrackerConfig(kind="local")
    assert scheduling.is_candidate(_issue("A", 1, None), cfg)
    assert not scheduling.is_candidate(_issue("A", 1, None, dispatchable=False), cfg)


def test_required_label_filtering_is_case_insensitive_after_normalization() -> None:
    """Required-label filtering is case-insensitive and applies after adapter normalization"""
    cfg = TrackerConfig(kind="local", required_labels=[" Agent-Ready "])
    assert scheduling.is_candidate(_issue("A", 1, None, labels=("agent-ready",)), cfg)
    assert not scheduling.is_candidate(_issue("A", 1, None, labels=("other",)), cfg)
    assert not scheduling.is_candidate(
        _issue("A", 1, None, labels=("agent-ready",)), TrackerConfig(kind="local", required_labels=[" "])
    )


async def test_active_state_issue_refresh_updates_running_entry_state(rig_factory: Any) -> None:
    """Active-state issue refresh updates running entry state"""
    rig = await rig_factory(HANG)
    issue = rig.add("hangs")
    await until(lambda: issue.id in rig.orch.running, what="running")
    rig.tracker.move_sync(issue.identifier, "In Progress")
    await until(lambda: rig.orch.running[issue.id].issue.state == "In Progress", what="state refreshed")


async def test_non_active_state_stops_running_agent_without_workspace_cleanup(rig_factory: Any) -> None:
    """Non-active state stops running agent without workspace cleanup"""
    rig = await rig_factory(HANG)
    issue = rig.add("parked")
    await until(lambda: issue.id in rig.orch.running, what="running")
    path = rig.orch.workspaces.path_for(issue.identifier)
    # The agent's first model request: the workspace is complete (a directory alone may still
    # be mid-preparation, and a stop then removes the half-made workspace, rightly).
    await until(lambda: rig.server.requests, what="agent started")
    assert path.is_dir()
    rig.tracker.move_sync(issue.identifier, "Backlog")
    await until(lambda: issue.id not in rig.orch.running, what="stopped")
    assert path.is_dir()
    assert issue.id not in rig.orch.claimed


async def test_terminal_state_stops_running_agent_and_cleans_workspace(rig_factory: Any) -> None:
    """Terminal state stops running agent and cleans workspace"""
    rig = await rig_factory(HANG)
    issue = rig.add("finished elsewhere")
    await until(lambda: issue.id in rig.orch.running, what="running")
    path = rig.orch.workspaces.path_for(issue.identifier)
    await until(lambda: path.is_dir(), what="workspace")
    rig.tracker.move_sync(issue.identifier, "Done")
    await until(lambda: issue.id not in rig.orch.running and not path.exists(), what="cleaned")


async def test_reconciliation_with_no_running_issues_is_a_noop(rig_factory: Any) -> None:
    """Reconciliation with no running issues is a no-op"""
    rig = await rig_factory(HANG)
    await until(lambda: rig.orch.tick_count >= 1, what="first tick")
    before = rig.tracker.queries
    await rig.orch.reconcile()
    assert rig.tracker.queries == before
    assert rig.orch.running == {}


async def test_normal_worker_exit_schedules_short_continuation_retry_attempt_1(rig_factory: Any) -> None:
    """Normal worker exit schedules a short continuation retry (attempt 1)"""
    steps = [{"text": "nothing to do"}]
    rig = await rig_factory(steps, agent={"max_turns": 1})
    issue = rig.add("quick")
    retry = await until(lambda: rig.orch.retrying.get(issue.id), what="continuation retry")
    assert retry.attempt == 1 and retry.kind == "continuation" and retry.error is None
    assert retry.due_at - time.time() <= 1.0


async def test_abnormal_worker_exit_increments_retries_with_10s_exponential_backoff(
    rig_factory: Any,
) -> None:
    """Abnormal worker exit increments retries with 10s-based exponential backoff"""
    rig = await rig_factory(FAIL)
    issue = rig.add("fails")
    retry = await until(lambda: rig.orch.retrying.get(issue.id), what="failure retry")
    assert retry.attempt == 1 and retry.kind == "failure"
    # From the failed run's end, not from whenever a loaded machine let this loop look.
    run = rig.store.runs_for(issue.identifier)[-1]  # the first run (newest first)
    assert 10.0 <= retry.due_at - run["ended_at"] <= 11.0
    assert [scheduling.failure_backoff_ms(n, 10**9) for n in (1, 2, 3, 4)] == [
        10_000, 20_000, 40_000, 80_000,
    ]


def test_retry_backoff_cap_uses_configured_max_retry_backoff_ms() -> None:
    """Retry backoff cap uses configured `agent.max_retry_backoff_ms`"""
    assert scheduling.failure_backoff_ms(10, 300_000) == 300_000
    assert scheduling.failure_backoff_ms(3, 25_000) == 25_000
    assert scheduling.failure_backoff_ms(1, 25_000) == 10_000


async def test_retry_queue_entries_include_attempt_due_time_identifier_and_error(
    rig_factory: Any,
) -> None:
    """Retry queue entries include attempt, due time, identifier, and error"""
    rig = await rig_factory(FAIL)
    issue = rig.add("fails")
    await until(lambda: rig.orch.retrying.get(issue.id), what="retry")
    row = rig.orch.snapshot()["retrying"][0]
    assert row["attempt"] == 1
    assert row["issue_identifier"] == issue.identifier
    assert row["due_at"].endswith("Z")
    assert "scripted failure" in row["error"]
    stored = rig.store.load_retries()
    assert [(r.identifier, r.attempt) for r in stored] == [(issue.identifier, 1)]


async def test_stall_detection_kills_stalled_sessions_and_schedules_retry(rig_factory: Any) -> None:
    """Stall detection kills stalled sessions and schedules retry"""
    rig = await rig_factory(HANG, codex={"stall_timeout_ms": 300})
    issue = rig.add("silent")
    retry = await until(lambda: rig.orch.retrying.get(issue.id), what="stall retry")
    assert "stalled" in (retry.error or "")
    assert rig.store.runs_for(issue.identifier)[0]["status"] == "stalled"


async def test_slot_exhaustion_requeues_retries_with_explicit_error_reason(rig_factory: Any) -> None:
    """Slot exhaustion requeues retries with explicit error reason"""
    rig = await rig_factory(HANG, agent={"max_concurrent_agents": 1})
    first = rig.add("holds the slot", priority=1)
    await until(lambda: first.id in rig.orch.running, what="first running")
    second = rig.add("waits")
    rig.orch._schedule_retry(second.id, second.identifier, 1, 0, "test", "failure")
    retry = await until(
        lambda: (r := rig.orch.retrying.get(second.id)) and r.attempt == 2 and r, what="requeued"
    )
    assert retry.error == "no available orchestrator slots"
    assert second.id not in rig.orch.running


async def test_snapshot_api_returns_running_rows_retry_rows_token_totals_and_rate_limits(
    rig_factory: Any,
) -> None:
    """If a snapshot API is implemented, it returns running rows, retry rows, token totals, and rate limits"""
    rig = await rig_factory(HANG)
    issue = rig.add("visible")
    await until(lambda: issue.id in rig.orch.running, what="running")
    snap = rig.orch.snapshot()
    assert snap["counts"] == {"running": 1, "retrying": 0}
    assert snap["running"][0]["issue_identifier"] == issue.identifier
    assert {"turn_count", "session_id", "tokens", "started_at", "last_event"} <= set(snap["running"][0])
    assert set(snap["codex_totals"]) == {"input_tokens", "output_tokens", "total_tokens", "seconds_running"}
    assert "rate_limits" in snap and snap["retrying"] == []


async def test_snapshot_timeout_and_unavailable_cases_are_surfaced(rig_factory: Any) -> None:
    """If a snapshot API is implemented, timeout/unavailable cases are surfaced

    The snapshot is built synchronously in the orchestrator's loop, so it cannot time out;
    what can be unavailable is a run's detail: the API answers 404 with an error envelope
    (tested in tests/server) and the snapshot's `health` carries config and tracker errors."""
    rig = await rig_factory(HANG)
    rig.path.write_text(rig.path.read_text().replace("interval_ms: 100", "interval_ms: [x"))
    await until(lambda: rig.orch.snapshot()["health"]["config_error"], what="config error surfaced")
    assert rig.orch.issue_detail("NOPE-1") is None
