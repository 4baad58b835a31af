"""Stopping a Temporal-run issue: the workflow is cancelled, the activity kills the agent's
process group, and what the agent did is saved on the shared remote."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import psutil
import pytest

from tack.testing import StubModelServer
from tests.conftest import git
from tests.e2e.harness import TackUp, wait_for
from tests.temporal.conftest import temporal_json
from tests.temporal.workers import TackWorker, temporal_project

pytestmark = pytest.mark.slow

LONG_COMMAND = {"tool_calls": [{"name": "shell", "arguments": {
    "command": "echo $$ > agent.pid; exec sleep 300", "timeout_ms": 600000}}]}


def gone(pid: int) -> bool:
    try:
        return psutil.Process(pid).status() == psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return True


def test_closing_the_issue_cancels_the_workflow_and_kills_the_agent_process_group(
    tmp_path: Path, temporal_server: str, cleanup: list[Any]
) -> None:
    stub = StubModelServer({"mode": "ordered", "steps": [LONG_COMMAND, {"text": "done"}]})
    stub.start_in_thread()
    cleanup.append(stub)
    project = temporal_project(tmp_path, stub.url, temporal_server,
                               {"codex": {"stall_timeout_ms": 60000}})
    ident = project.add_issue("run a long command")
    issue_id = project.issue(ident)["id"]
    worker = TackWorker(project, "worker-a")
    cleanup.append(worker)
    worker.wait_ready()
    up = TackUp(project)
    cleanup.append(up)

    pid_file = worker.root / ident / "agent.pid"
    wait_for(pid_file.exists, 40, "the agent's command to start")
    registry = worker.root / ".tack-worker" / "processes"
    # The command runs in the sandbox's pid namespace, so the pid it writes is not a host
    # pid; the group the worker spawned (bubblewrap's) is in the worker's registry.
    records = wait_for(lambda: registry.is_dir() and list(registry.iterdir()), 20,
                       "the agent's process group in the worker's registry")
    assert len(records) == 1 and records[0].read_text().strip() == str(worker.proc.pid)
    pid = int(records[0].name)
    assert not gone(pid)

    project.move(ident, "Done")

    wait_for(lambda: gone(pid), 30, "the agent's process group to be killed")
    wait_for(lambda: not (registry / str(pid)).exists(), 20, "the process record to be dropped")
    described = wait_for(
        lambda: (d := temporal_json("workflow", "describe", "--workflow-id", f"tack-{issue_id}",
                                    address=temporal_server))
        and d["workflowExecutionInfo"]["status"] == "WORKFLOW_EXECUTION_STATUS_CANCELED" and d,
        30, "the workflow to be cancelled",
    )
    assert described
    wait_for(lambda: not up.state()["running"], 20, "the run to end")
    detail = up.detail(ident)
    assert detail is not None and [r["status"] for r in detail["runs"]] == ["canceled"]
    assert [r.step for r in stub.requests] == [0]
    # The stopped turn's work was committed and pushed before the activity ended.
    log = git(tmp_path / "remote.git", "log", "--format=%s", "tack/tack-1").splitlines()
    assert log[0] == f"tack: {ident} turn 1 (stopped)"
