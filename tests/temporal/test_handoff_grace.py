"""A Temporal run whose agent hands off is a success: reconciliation lets the workflow finish
its turn (within agent.handoff_grace_ms) instead of cancelling it, and the run is recorded as
succeeded, with why it ended and every token its workflow reported."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tack.testing import StubModelServer
from tests.e2e.harness import TackUp, wait_for
from tests.orchestrator.test_handoff_grace import MOVE
from tests.temporal.workers import TackWorker, temporal_project

pytestmark = pytest.mark.slow

# The last answer comes well after the move, so a 100 ms poll sees the hand-off first.
FINAL = {"text": "Moved to Human Review; the change is ready.", "delay_ms": 3000,
         "usage": {"input_tokens": 500, "output_tokens": 640}}


def test_a_temporal_run_that_hands_off_is_recorded_as_succeeded_with_all_its_tokens(
    tmp_path: Path, temporal_server: str, cleanup: list[Any]
) -> None:
    stub = StubModelServer({"mode": "ordered", "steps": [MOVE, FINAL]})
    stub.start_in_thread()
    cleanup.append(stub)
    project = temporal_project(tmp_path, stub.url, temporal_server,
                               {"polling": {"interval_ms": 100}})
    ident = project.add_issue("hand off, then say so")
    worker = TackWorker(project, "worker-a")
    cleanup.append(worker)
    worker.wait_ready()
    up = TackUp(project)
    cleanup.append(up)

    run = wait_for(lambda: (d := up.detail(ident)) and d["runs"] and d["runs"][0]["ended_at"]
                   and d["runs"][0], 90, "the run to end")
    assert run["status"] == "succeeded" and run["error"] is None, run
    assert run["end_reason"] == "handed off: moved to 'Human Review'"
    assert run["tokens"]["output_tokens"] >= 650, run
    events = [e["message"] for e in up.detail(ident)["recent_events"]]
    assert any("letting the agent finish its turn" in m for m in events), events
    assert [r.step for r in stub.requests] == [0, 1]


def test_a_temporal_run_that_ends_before_reconciliation_sees_its_hand_off_is_published(
    tmp_path: Path, temporal_server: str, cleanup: list[Any]
) -> None:
    # An hour between polls: only the workflow's result can tell the orchestrator that the
    # issue was handed off, as when a run ends between two ticks.
    stub = StubModelServer({"mode": "ordered", "steps": [MOVE, {"text": "Ready for review."}]})
    stub.start_in_thread()
    cleanup.append(stub)
    project = temporal_project(tmp_path, stub.url, temporal_server,
                               {"polling": {"interval_ms": 3_600_000}})
    ident = project.add_issue("hand off quickly")
    worker = TackWorker(project, "worker-a")
    cleanup.append(worker)
    worker.wait_ready()
    up = TackUp(project)
    cleanup.append(up)

    run = wait_for(lambda: (d := up.detail(ident)) and d["runs"] and d["runs"][0]["ended_at"]
                   and d["runs"][0], 90, "the run to end")
    assert run["status"] == "succeeded", run
    assert run["end_reason"] == "handed off: moved to 'Human Review'", run
    wait_for(lambda: any(e["message"].startswith("published ")
                         for e in up.detail(ident)["recent_events"]), 60,
             "the hand-off to be published")
