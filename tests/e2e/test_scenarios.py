"""Scenarios run from outside, through the CLI and the HTTP API, against `tack up` with the
built-in agent on the stub model server: ordering, blockers, concurrency caps, retries with
backoff, reconciliation, stall kill, hot reload, kill -9 recovery."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

from tack.testing import StubModelServer
from tests.e2e.harness import Project, TackUp, wait_for

pytestmark = pytest.mark.slow

HANDOFF = [
    {"tool_calls": [{"name": "tracker", "arguments": {"action": "move", "state": "Human Review"}}]},
    {"text": "handed off"},
]
HANG = [{"hang": True}]
FAIL = [{"error": {"status": 400, "message": "scripted failure"}}]


def conv(ident: str, steps: list[dict[str, Any]]) -> dict[str, Any]:
    return {"match": rf"{ident}\b", "steps": steps}


def make(tmp_path: Path, conversations: list[dict[str, Any]], config: dict[str, Any] | None = None,
         ) -> tuple[Project, StubModelServer]:
    server = StubModelServer({"conversations": conversations})
    server.start_in_thread()
    return Project(tmp_path, server.url, config), server


def start_hanging(tmp_path: Path, cleanup: list[Any], title: str) -> tuple[Project, TackUp, str]:
    """`tack up` with one issue whose agent hangs in its first model call, once it runs."""
    project, server = make(tmp_path, [{"steps": HANG}])
    cleanup.append(server)
    ident = project.add_issue(title)
    up = TackUp(project)
    cleanup.append(up)
    wait_for(lambda: ident in up.running_ids(), 20, "running")
    return project, up, ident


def ticks(up: TackUp) -> int:
    return int(up.state()["health"]["ticks"])


def wait_ticks(up: TackUp, n: int) -> None:
    start = ticks(up)
    wait_for(lambda: ticks(up) >= start + n, 20, f"{n} poll ticks")


def test_dispatch_order_is_priority_then_age_then_identifier(tmp_path: Path, cleanup: list[Any]) -> None:
    project, server = make(tmp_path, [{"steps": HANDOFF}], {"agent": {"max_concurrent_agents": 1}})
    cleanup.append(server)
    a = project.add_issue("low priority", "--priority", "3")
    b = project.add_issue("urgent", "--priority", "1")
    c = project.add_issue("no priority")
    d = project.add_issue("urgent but newer", "--priority", "1")
    up = TackUp(project)
    cleanup.append(up)
    wait_for(
        lambda: all(project.issue(i)["state"] == "Human Review" for i in (a, b, c, d)),
        60, "all issues handed off",
    )
    started = {i: up.detail(i)["runs"][-1]["started_at"] for i in (a, b, c, d)}
    assert sorted(started, key=started.__getitem__) == [b, d, a, c]


def test_blocked_issue_waits_for_its_blocker_to_finish(tmp_path: Path, cleanup: list[Any]) -> None:
    project, server = make(tmp_path, [conv("TACK-1", HANG), {"steps": HANDOFF}])
    cleanup.append(server)
    blocker = project.add_issue("blocker")
    blocked = project.add_issue("blocked", "--blocked-by", blocker)
    up = TackUp(project)
    cleanup.append(up)
    wait_for(lambda: blocker in up.running_ids(), 20, "blocker running")
    wait_ticks(up, 3)
    assert blocked not in up.running_ids()
    assert project.issue(blocked)["state"] == "Todo"
    project.move(blocker, "Done")
    wait_for(lambda: project.issue(blocked)["state"] == "Human Review", 30, "blocked issue handed off")


def test_global_cap_holds_and_a_reload_raises_it(tmp_path: Path, cleanup: list[Any]) -> None:
    project, server = make(tmp_path, [{"steps": HANG}], {"agent": {"max_concurrent_agents": 2}})
    cleanup.append(server)
    for n in range(4):
        project.add_issue(f"issue {n}")
    up = TackUp(project)
    cleanup.append(up)
    wait_for(lambda: len(up.running_ids()) == 2, 20, "two running")
    wait_ticks(up, 3)
    assert len(up.running_ids()) == 2
    project.write_workflow({"agent": {"max_concurrent_agents": 3}})
    wait_for(lambda: len(up.running_ids()) == 3, 20, "three running after reload")
    wait_ticks(up, 3)
    assert len(up.running_ids()) == 3
    assert up.state()["limits"]["max_concurrent_agents"] == 3


def test_per_state_cap_limits_dispatch_within_a_state(tmp_path: Path, cleanup: list[Any]) -> None:
    project, server = make(
        tmp_path, [{"steps": HANG}], {"agent": {"max_concurrent_agents_by_state": {" TODO ": 1}}}
    )
    cleanup.append(server)
    project.add_issue("one")
    project.add_issue("two")
    project.add_issue("in progress", "--state", "In Progress")
    up = TackUp(project)
    cleanup.append(up)
    wait_for(lambda: len(up.running_ids()) == 2, 20, "two running")
    wait_ticks(up, 3)
    states = sorted(r["state"] for r in up.state()["running"])
    assert states == ["In Progress", "Todo"]


def test_failed_turn_retries_with_capped_exponential_backoff(tmp_path: Path, cleanup: list[Any]) -> None:
    project, server = make(tmp_path, [{"steps": FAIL}], {"agent": {"max_retry_backoff_ms": 1500}})
    cleanup.append(server)
    ident = project.add_issue("always fails")
    up = TackUp(project)
    cleanup.append(up)
    first = wait_for(lambda: up.retrying().get(ident), 20, "first retry queued")
    assert first["attempt"] == 1
    assert "scripted failure" in first["error"]
    assert first["due_in_ms"] <= 1500  # min(10 s, cap)
    # `>= 2`: each retry waits 1.5 s, and a slow poll may first see the third.
    second = wait_for(
        lambda: (r := up.retrying().get(ident)) and r["attempt"] >= 2 and r, 20, "second retry"
    )
    assert second["due_in_ms"] <= 1500
    runs = up.detail(ident)["runs"]  # newest first
    assert [r["status"] for r in runs[-2:]] == ["failed", "failed"]
    assert [r["attempt"] for r in runs[-2:]] == [1, None]


def test_uncapped_backoff_starts_at_ten_seconds(tmp_path: Path, cleanup: list[Any]) -> None:
    project, server = make(tmp_path, [{"steps": FAIL}])
    cleanup.append(server)
    ident = project.add_issue("fails once")
    up = TackUp(project)
    cleanup.append(up)
    entry = wait_for(lambda: up.retrying().get(ident), 20, "retry queued")
    assert entry["due_in_ms"] <= 10_000
    assert entry["kind"] == "failure"
    # Measured from the failed run's end, not from whenever a loaded machine let us look.
    run = up.detail(ident)["runs"][-1]  # the first run (newest first)
    delay = _epoch(entry["due_at"]) - _epoch(run["ended_at"])
    assert 9.99 <= delay <= 11, (entry, run)


def _epoch(stamp: str) -> float:
    return datetime.fromisoformat(stamp).timestamp()


def test_state_change_stops_the_run_and_terminal_state_removes_the_workspace(
    tmp_path: Path, cleanup: list[Any]
) -> None:
    project, up, ident = start_hanging(tmp_path, cleanup, "will be parked")
    workspace = Path(wait_for(lambda: (up.detail(ident)["workspace"] or {}).get("path"), 20,
                              "workspace path"))
    wait_for(workspace.is_dir, 20, "workspace created")
    project.move(ident, "Backlog")
    wait_for(lambda: ident not in up.running_ids(), 20, "stopped after leaving active states")
    assert ident not in up.retrying()
    assert workspace.is_dir(), "a non-terminal state keeps the workspace"
    project.move(ident, "Todo")
    wait_for(lambda: ident in up.running_ids(), 20, "dispatched again")
    project.move(ident, "Done")
    wait_for(lambda: not workspace.exists(), 20, "workspace removed on terminal state")
    assert ident not in up.running_ids()
    statuses = [r["status"] for r in up.detail(ident)["runs"]]
    assert statuses.count("canceled") == 2


def test_stalled_run_is_killed_and_retried(tmp_path: Path, cleanup: list[Any]) -> None:
    project, server = make(tmp_path, [{"steps": HANG}], {"codex": {"stall_timeout_ms": 800}})
    cleanup.append(server)
    ident = project.add_issue("goes quiet")
    up = TackUp(project)
    cleanup.append(up)
    entry = wait_for(lambda: up.retrying().get(ident), 20, "stalled run retried")
    assert "stalled" in entry["error"]
    assert up.detail(ident)["runs"][0]["status"] == "stalled"


def test_broken_workflow_edit_keeps_last_good_config(tmp_path: Path, cleanup: list[Any]) -> None:
    """A broken edit is reported, running work carries on under the last good config, and new
    dispatch waits until the file is fixed (SPEC §5.5, §6.2)."""
    project, server = make(tmp_path, [conv("TACK-1", HANG), {"steps": HANDOFF}])
    cleanup.append(server)
    running = project.add_issue("keeps running through the broken edit")
    up = TackUp(project)
    cleanup.append(up)
    wait_for(lambda: running in up.running_ids(), 20, "first issue running")
    good = project.workflow.read_text()
    project.workflow.write_text(good.replace("max_turns: 2", "max_turns: [oops"))
    health = wait_for(lambda: up.state()["health"]["config_error"], 20, "YAML error reported")
    assert "not valid YAML" in health
    project.workflow.write_text(good.replace("max_turns: 2", "max_turns: 0"))
    health = wait_for(
        lambda: "max_turns" in (e := up.state()["health"]["config_error"] or "") and e, 20,
        "invalid value reported",
    )
    assert "WORKFLOW.md" in health
    assert "reload failed" in up.output()
    waiting = project.add_issue("waits for a good config")
    wait_ticks(up, 3)
    assert up.running_ids() == {running}, "running work continues; no new dispatch"
    assert project.issue(waiting)["state"] == "Todo"
    project.workflow.write_text(good)
    wait_for(lambda: up.state()["health"]["config_error"] is None, 20, "error cleared")
    wait_for(lambda: project.issue(waiting)["state"] == "Human Review", 30, "dispatched after fix")
    assert up.proc.poll() is None


def _store(project: Project) -> sqlite3.Connection:
    return sqlite3.connect(project.root / ".tack" / "state.db")


def test_kill_9_resumes_running_and_queued_issues_without_losing_events(
    tmp_path: Path, cleanup: list[Any]
) -> None:
    sleeper = [{"tool_calls": [{"name": "shell", "arguments": {"command": "sleep 300", "timeout_ms": 600000}}]}]
    # Unsandboxed, so the agent's command outlives a SIGKILLed Tack and the next start must
    # sweep it (a sandboxed command dies with Tack: tests/sandbox/test_escapes.py).
    project, server = make(tmp_path, [conv("TACK-1", sleeper), conv("TACK-2", FAIL), {"steps": HANDOFF}],
                           {"sandbox": {"enabled": False}})
    cleanup.append(server)
    running = project.add_issue("runs a long command")
    failing = project.add_issue("fails and waits for retry")
    up = TackUp(project)
    wait_for(lambda: running in up.running_ids(), 20, "running")
    retry_before = wait_for(lambda: up.retrying().get(failing), 20, "retry queued")
    pgid = wait_for(lambda: _store(project).execute("SELECT pgid FROM processes").fetchone(), 20,
                    "agent shell process recorded")[0]
    events_before = _store(project).execute("SELECT id, kind, message FROM events").fetchall()
    up.kill9()
    os.killpg(pgid, 0)  # the agent's command outlived the orchestrator

    up2 = TackUp(project)
    cleanup.append(up2)
    wait_for(lambda: _gone(pgid), 20, "leftover agent process group killed")
    detail = wait_for(lambda: (d := up2.detail(running)) and len(d["runs"]) >= 2 and d, 20, "resumed")
    assert detail["runs"][-1]["status"] == "interrupted"
    retry_after = up2.retrying().get(failing)
    if retry_after is not None and retry_after["attempt"] == retry_before["attempt"]:
        assert retry_after["due_at"] == retry_before["due_at"]  # the same entry, reloaded
    else:  # it came due since (a 10 s backoff, a slow restart) and ran as that attempt
        attempts = [r["attempt"] for r in up2.detail(failing)["runs"]]
        assert retry_before["attempt"] in attempts, (retry_before, attempts)
    # Never dispatched afresh: the only first attempt is the one from before the kill.
    assert [r["attempt"] for r in up2.detail(failing)["runs"]].count(None) == 1
    events_after = set(_store(project).execute("SELECT id, kind, message FROM events").fetchall())
    assert set(events_before) <= events_after
    concurrent = _store(project).execute(
        "SELECT issue_id, COUNT(*) FROM runs WHERE status = 'running' GROUP BY issue_id HAVING COUNT(*) > 1"
    ).fetchall()
    assert concurrent == []


def _gone(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return True
    return False


def test_second_orchestrator_on_the_same_store_is_refused(tmp_path: Path, cleanup: list[Any]) -> None:
    project, server = make(tmp_path, [{"steps": HANDOFF}])
    cleanup.append(server)
    up = TackUp(project)
    cleanup.append(up)
    result = project.tack("up")
    assert result.returncode == 2
    assert "already running" in result.stderr
    assert "Traceback" not in result.stderr


def test_sigterm_shuts_down_cleanly_and_the_run_resumes_next_start(
    tmp_path: Path, cleanup: list[Any]
) -> None:
    project, server = make(tmp_path, [{"steps": HANG}])
    cleanup.append(server)
    ident = project.add_issue("interrupted politely")
    up = TackUp(project)
    wait_for(lambda: ident in up.running_ids(), 20, "running")
    assert up.stop(signal.SIGTERM) == 0
    up2 = TackUp(project)
    cleanup.append(up2)
    detail = wait_for(lambda: (d := up2.detail(ident)) and d["status"] == "running" and d, 20, "resumed")
    assert [r["status"] for r in detail["runs"]][-1] == "interrupted"


def test_an_operator_cancel_holds_the_issue_until_it_moves_or_is_retried(
    tmp_path: Path, cleanup: list[Any]
) -> None:
    project, up, ident = start_hanging(tmp_path, cleanup, "cancel me")
    assert up.client.post(f"/api/v1/{ident}/cancel").status_code == 202
    wait_for(lambda: ident not in up.running_ids(), 20, "canceled")
    held = wait_for(lambda: up.state()["held"], 20, "held")
    assert [h["issue_identifier"] for h in held] == [ident]
    start = ticks(up)
    wait_for(lambda: ticks(up) >= start + 5, 20, "five poll ticks")
    assert ident not in up.running_ids(), "a canceled issue was dispatched again"
    assert up.client.post(f"/api/v1/{ident}/retry").status_code == 202
    wait_for(lambda: ident in up.running_ids(), 20, "dispatched after retry")
    assert not up.state()["held"]
    assert up.client.post(f"/api/v1/{ident}/cancel").status_code == 202
    wait_for(lambda: up.state()["held"], 20, "held again")
    project.move(ident, "In Progress")  # people acted on it: the hold is released
    wait_for(lambda: ident in up.running_ids(), 20, "dispatched after the move")


def test_a_handoff_pushes_the_branch_to_the_remote(tmp_path: Path, cleanup: list[Any]) -> None:
    project, server = make(tmp_path, [{"steps": HANDOFF}])
    cleanup.append(server)
    remote = tmp_path / "remote.git"
    subprocess.run(["git", "init", "-q", "--bare", str(remote)], check=True)
    subprocess.run(["git", "-C", str(project.repo), "remote", "add", "origin", str(remote)],
                   check=True)
    ident = project.add_issue("make VALUE 2")
    up = TackUp(project)
    cleanup.append(up)
    wait_for(lambda: project.issue(ident)["state"] == "Human Review", 30, "handed off")

    def remote_branch() -> str:
        done = subprocess.run(["git", "-C", str(remote), "rev-parse", "--verify", "-q",
                               "refs/heads/tack/tack-1"], capture_output=True, text=True)
        return done.stdout.strip()

    pushed = wait_for(remote_branch, 30, "tack/tack-1 pushed to the remote")
    workspace = project.root / "workspaces" / ident
    head = subprocess.run(["git", "-C", str(workspace), "rev-parse", "HEAD"],
                          capture_output=True, text=True, check=True).stdout.strip()
    assert pushed == head
    events = wait_for(lambda: [e["message"] for e in up.detail(ident)["recent_events"]
                               if e["message"].startswith("published")], 20, "published event")
    assert "tack/tack-1" in events[0]


def test_an_operator_cancel_survives_a_restart(tmp_path: Path, cleanup: list[Any]) -> None:
    project, up, ident = start_hanging(tmp_path, cleanup, "cancel me, then restart")
    assert up.client.post(f"/api/v1/{ident}/cancel").status_code == 202
    wait_for(lambda: up.state()["held"], 20, "held")
    assert up.stop() == 0
    again = TackUp(project)
    cleanup.append(again)
    held = wait_for(lambda: again.state()["held"], 20, "held after the restart")
    assert [h["issue_identifier"] for h in held] == [ident]
    wait_ticks(again, 5)
    assert ident not in again.running_ids(), "a held issue was dispatched after a restart"
