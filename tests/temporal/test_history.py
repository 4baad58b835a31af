"""What an issue run writes to Temporal's history, and that histories written by earlier
versions still replay with today's workflow code (runs in flight across an upgrade)."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest
from temporalio.client import WorkflowHistory
from temporalio.worker import Replayer
from temporalio.worker.workflow_sandbox import SandboxedWorkflowRunner, SandboxRestrictions

from tack.orchestrator.temporal.workflows import IssueRunWorkflow
from tack.testing import StubModelServer
from tests.e2e.harness import TackUp, wait_for
from tests.orchestrator.test_handoff_grace import MOVE
from tests.temporal.conftest import temporal_json
from tests.temporal.workers import TackWorker, temporal_project

HISTORIES = Path(__file__).parent / "histories"


@pytest.mark.parametrize("recorded", [
    # Recorded with the workflow of commit abf91a5~1: prepare, turn, hand-off activities.
    "before_fused_steps.json",
    # Recorded with the workflow of commit 56da5fe: one turn, `workflow.patched` marker.
    "fused_with_patch_marker.json",
])
def test_histories_recorded_by_earlier_versions_replay(recorded: str) -> None:
    history = WorkflowHistory.from_json(f"tack-{recorded}", (HISTORIES / recorded).read_text())
    # The worker's runner: tack's modules pass through the sandbox (temporal/worker.py).
    replayer = Replayer(workflows=[IssueRunWorkflow], workflow_runner=SandboxedWorkflowRunner(
        restrictions=SandboxRestrictions.default.with_passthrough_modules("tack")))
    asyncio.run(replayer.replay_workflow(history))


@pytest.mark.slow
def test_a_run_writes_no_patch_marker_nor_search_attribute_update(
    tmp_path: Path, temporal_server: str, cleanup: list[Any]
) -> None:
    stub = StubModelServer({"mode": "ordered", "steps": [MOVE, {"text": "Ready for review."}]})
    stub.start_in_thread()
    cleanup.append(stub)
    project = temporal_project(tmp_path, stub.url, temporal_server,
                               {"polling": {"interval_ms": 200}})
    ident = project.add_issue("hand off")
    issue_id = project.issue(ident)["id"]
    worker = TackWorker(project, "worker-a")
    cleanup.append(worker)
    worker.wait_ready()
    up = TackUp(project)
    cleanup.append(up)

    wait_for(lambda: (d := up.detail(ident)) and d["runs"] and d["runs"][0]["ended_at"], 90,
             "the run to end")
    data = temporal_json("workflow", "show", "--workflow-id", f"tack-{issue_id}",
                         address=temporal_server)
    assert isinstance(data, dict)
    kinds = [e["eventType"].removeprefix("EVENT_TYPE_") for e in data["events"]]
    # Each costs the dev server a history event, and the update a visibility write, per run.
    assert "MARKER_RECORDED" not in kinds and "UPSERT_WORKFLOW_SEARCH_ATTRIBUTES" not in kinds
    assert kinds[-1] == "WORKFLOW_EXECUTION_COMPLETED", kinds
