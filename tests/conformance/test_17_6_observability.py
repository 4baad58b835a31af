"""SPEC §17.6 Observability — one test per bullet."""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

import httpx
import pytest

from tack.agents.base import AgentEvent, TokenUsage
from tack.logs import configure_logging
from tests.conformance.test_17_4_orchestrator_dispatch_reconciliation_retry import (
    HANDOFF,
    HANG,
    until,
)
from tests.conftest import run_tack


def test_validation_failures_are_operator_visible(tmp_path: Path) -> None:
    """Validation failures are operator-visible"""
    (tmp_path / "WORKFLOW.md").write_text("---\nagent: {max_turns: 0}\n---\nhi\n")
    result = run_tack("up", cwd=tmp_path)
    assert result.returncode == 2
    assert "agent.max_turns" in result.stderr and "WORKFLOW.md:2" in result.stderr


async def test_structured_logging_includes_issue_and_session_context(rig_factory: Any) -> None:
    """Structured logging includes issue/session context fields"""
    buffer = io.StringIO()
    configure_logging("info", stream=buffer)
    rig = await rig_factory(HANDOFF)
    issue = rig.add("logged")
    await until(lambda: "issue_identifier=" in buffer.getvalue(), what="log line")
    assert f"issue_identifier='{issue.identifier}'" in buffer.getvalue()
    assert f"issue_id='{issue.id}'" in buffer.getvalue()


class _BrokenStream(io.StringIO):
    def write(self, text: str) -> int:
        raise OSError("disk full")


async def test_logging_sink_failures_do_not_crash_orchestration(rig_factory: Any) -> None:
    """Logging sink failures do not crash orchestration"""
    configure_logging("debug", stream=_BrokenStream())
    rig = await rig_factory(HANDOFF)
    issue = rig.add("still runs")
    await until(lambda: rig.tracker.get(issue.identifier).state == "Human Review", what="handoff")
    assert not rig.task.done()


async def test_token_and_rate_limit_aggregation_is_correct_across_repeated_updates(
    rig_factory: Any,
) -> None:
    """Token/rate-limit aggregation remains correct across repeated agent updates"""
    rig = await rig_factory(HANG)
    issue = rig.add("counted")
    await until(lambda: issue.id in rig.orch.running, what="running")
    entry = rig.orch.running[issue.id]
    base = rig.orch.totals.total_tokens
    for n in range(5):
        await rig.orch.on_agent_event(
            entry, AgentEvent("token_usage", usage=TokenUsage(10, 5, 15))
        )
        await rig.orch.on_agent_event(
            entry, AgentEvent("rate_limits", data={"remaining": 100 - n})
        )
    snap = rig.orch.snapshot()
    assert snap["codex_totals"]["total_tokens"] == base + 75
    assert snap["running"][0]["tokens"]["input_tokens"] >= 50
    assert snap["rate_limits"] == {"remaining": 96}
    row = rig.store.runs_for(issue.identifier)[0]
    assert row["total_tokens"] == entry.tokens.total_tokens


async def test_status_surface_is_driven_from_orchestrator_state(rig_factory: Any) -> None:
    """If a human-readable status surface is implemented, it is driven from orchestrator state
    and does not affect correctness"""
    from tack.server import create_app

    rig = await rig_factory(HANG)
    issue = rig.add("shown")
    await until(lambda: issue.id in rig.orch.running, what="running")
    transport = httpx.ASGITransport(app=create_app(rig.orch))
    async with httpx.AsyncClient(transport=transport, base_url="http://127.0.0.1") as client:
        page = await client.get("/")
        assert page.status_code == 200 and "/api/v1/state" in page.text
        state = (await client.get("/api/v1/state")).json()
        assert state["running"][0]["issue_identifier"] == issue.identifier
        missing = await client.get("/api/v1/NOPE-9")
        assert missing.status_code == 404 and missing.json()["error"]["code"] == "issue_not_found"
        assert (await client.post("/api/v1/state")).status_code == 405


async def test_humanized_event_summaries_cover_key_event_classes(rig_factory: Any) -> None:
    """If humanized event summaries are implemented, they cover key wrapper/agent event classes
    without changing orchestrator behavior"""
    rig = await rig_factory(HANDOFF)
    issue = rig.add("summarised")
    await until(lambda: rig.tracker.get(issue.identifier).state == "Human Review", what="handoff")
    await until(lambda: issue.id not in rig.orch.running, what="run ended")
    events = rig.store.events_for(issue.identifier, limit=200)
    kinds = {e["kind"] for e in events}
    assert {"orchestrator", "tool_call", "tool_result", "turn_completed"} <= kinds
    assert all(e["message"] for e in events if e["kind"] in {"tool_call", "orchestrator"})


@pytest.fixture(autouse=True)
def _restore_logging() -> Any:
    yield
    configure_logging("warning")
