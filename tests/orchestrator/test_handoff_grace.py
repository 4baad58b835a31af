"""A run whose agent hands off is a success: reconciliation lets its turn finish (final message
and token usage) within agent.handoff_grace_ms, records why it ended in words, and only a
person's move to another inactive or terminal state still stops a run at once.

The orchestrator runs in-process on the local tracker with the built-in agent on the stub model
(the rig of the SPEC §17.4 conformance tests), polling every 50 ms so reconciliation sees the
hand-off while the agent's last answer is still streaming.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any

from tack.server import fragments
from tack.store import Store
from tests.conformance.test_17_4_orchestrator_dispatch_reconciliation_retry import rig_factory
from tests.e2e.harness import await_until as until

__all__ = ["rig_factory"]

MOVE = {"tool_calls": [{"name": "tracker", "arguments": {"action": "move",
                                                          "state": "Human Review"}}],
        "usage": {"input_tokens": 100, "output_tokens": 10}}
# The agent's last word comes a while after the move, with the turn's largest usage.
FINAL = {"text": "Moved to Human Review; the change is ready.", "delay_ms": 1500,
         "usage": {"input_tokens": 500, "output_tokens": 640}}
FAST_POLL = {"interval_ms": 50}


def ended(rig: Any, identifier: str) -> Any:
    runs = rig.store.runs_for(identifier)
    return runs and runs[-1]["ended_at"] and runs[-1]


async def test_a_run_that_hands_off_finishes_its_turn_and_is_recorded_as_succeeded(
    rig_factory: Any,
) -> None:
    rig = await rig_factory([MOVE, FINAL], polling=FAST_POLL, agent={"max_turns": 1})
    issue = rig.add("hand off and say so")
    run = await until(lambda: ended(rig, issue.identifier), what="the run to end")
    assert run["status"] == "succeeded", dict(run)
    assert run["end_reason"] == "handed off: moved to 'Human Review'"
    assert run["error"] is None
    # The final answer's usage is counted whole, not cut off with the turn.
    assert run["output_tokens"] >= 650 and run["input_tokens"] >= 600, dict(run)
    messages = [e["message"] for e in rig.store.events_for(issue.identifier, limit=100)]
    assert any("the change is ready" in m for m in messages)
    assert any("letting the agent finish its turn" in m for m in messages)
    shown = rig.orch.snapshot()["recent_runs"][0]
    assert (shown["status"], shown["end_reason"]) == ("succeeded", run["end_reason"])
    row = str(fragments.recent_runs(rig.orch.snapshot()))
    assert 'class="ok">succeeded' in row and "handed off: moved to &#39;Human Review&#39;" in row
    assert issue.id not in rig.orch.running


async def test_a_turn_that_outlasts_the_grace_is_stopped_and_still_counts_as_handed_off(
    rig_factory: Any,
) -> None:
    rig = await rig_factory([MOVE, {"hang": True}], polling=FAST_POLL,
                            agent={"max_turns": 1, "handoff_grace_ms": 300})
    issue = rig.add("hands off, then never finishes")
    run = await until(lambda: ended(rig, issue.identifier), what="the run to be stopped")
    assert run["status"] == "succeeded" and run["error"] is None, dict(run)
    assert run["end_reason"] == "handed off: moved to 'Human Review'"
    messages = [e["message"] for e in rig.store.events_for(issue.identifier, limit=100)]
    assert any("did not end within 300 ms of the hand-off" in m for m in messages), messages
    await until(lambda: issue.id not in rig.orch.claimed, what="the issue released")
    assert issue.id not in rig.orch.retrying


async def test_a_person_moving_the_issue_to_a_terminal_state_still_stops_the_run_at_once(
    rig_factory: Any,
) -> None:
    # A grace far longer than the wait below: were it applied here, the wait would time out.
    rig = await rig_factory([{"hang": True}], polling=FAST_POLL,
                            agent={"handoff_grace_ms": 600_000})
    issue = rig.add("finished by someone else")
    await until(lambda: issue.id in rig.orch.running, what="running")
    rig.tracker.move_sync(issue.identifier, "Done")
    run = await until(lambda: ended(rig, issue.identifier), 20, what="the run stopped")
    assert (run["status"], run["error"]) == ("canceled", "canceled: terminal"), dict(run)
    assert run["end_reason"] == "stopped: the issue was moved to 'Done'"


def test_a_state_db_made_before_end_reasons_opens_and_keeps_its_runs(tmp_path: Path) -> None:
    path = tmp_path / "state.db"
    with sqlite3.connect(path) as db:  # the runs table as the first Tack release made it
        db.execute("CREATE TABLE runs (id INTEGER PRIMARY KEY AUTOINCREMENT, issue_id TEXT NOT "
                   "NULL, identifier TEXT NOT NULL, attempt INTEGER, status TEXT NOT NULL, "
                   "started_at REAL NOT NULL, ended_at REAL, error TEXT, workspace TEXT, "
                   "session_id TEXT, turn_count INTEGER NOT NULL DEFAULT 0, input_tokens "
                   "INTEGER NOT NULL DEFAULT 0, output_tokens INTEGER NOT NULL DEFAULT 0, "
                   "total_tokens INTEGER NOT NULL DEFAULT 0, last_event TEXT, last_message "
                   "TEXT, last_event_at REAL, issue_state TEXT, issue_url TEXT, owner_pid "
                   "INTEGER)")
        db.execute("INSERT INTO runs(issue_id, identifier, status, started_at, ended_at) "
                   "VALUES ('1', 'TACK-1', 'failed', 1.0, 2.0)")
    store = Store(path)
    try:
        run_id = store.start_run(issue_id="2", identifier="TACK-2", attempt=None)
        store.finish_run(run_id, "succeeded", reason="handed off: moved to 'Human Review'")
        assert store.run(run_id)["end_reason"] == "handed off: moved to 'Human Review'"
        assert [r["status"] for r in store.recent_runs()] == ["succeeded", "failed"]
    finally:
        store.close()
