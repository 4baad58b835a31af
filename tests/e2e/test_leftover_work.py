"""Through `tack up` with the built-in agent: what an agent leaves uncommitted reaches its
branch at the end of each turn, and when its run is stopped mid-turn (reconciliation after
the issue moved), so a hand-off never publishes a branch without the agent's work."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tack.testing import StubModelServer
from tests.conftest import git
from tests.e2e.harness import Project, TackUp, wait_for

pytestmark = pytest.mark.slow


def branch_log(project: Project) -> list[str]:
    return git(project.repo, "log", "--format=%s", "main..tack/tack-1").splitlines()


def start(tmp_path: Path, steps: list[dict[str, Any]], cleanup: list[Any]
          ) -> tuple[Project, TackUp, StubModelServer]:
    server = StubModelServer({"conversations": [{"steps": steps}]})
    server.start_in_thread()
    cleanup.append(server)
    project = Project(tmp_path / "project", server.url, {"agent": {"max_turns": 1}})
    project.add_issue("make VALUE 2")
    up = TackUp(project)
    cleanup.append(up)
    return project, up, server


def test_work_left_after_a_turn_is_committed_on_the_branch(
        tmp_path: Path, cleanup: list[Any]) -> None:
    steps = [
        {"tool_calls": [{"name": "edit_file", "arguments": {
            "path": "app.py", "old": "VALUE = 1", "new": "VALUE = 2"}}]},
        {"text": "VALUE is 2 (not committed)."},
    ]
    project, up, _ = start(tmp_path, steps, cleanup)
    wait_for(lambda: branch_log(project), 30, f"a commit on the branch\n{up.output()}")
    assert branch_log(project) == ["tack: work in progress after turn 1 of TACK-1"]
    assert git(project.repo, "show", "tack/tack-1:app.py") == "VALUE = 2\n"
    lines = wait_for(lambda: [e["message"] for e in up.detail("TACK-1")["recent_events"]
                              if "work left uncommitted after turn 1" in e["message"]],
                     20, "the commit on the timeline")
    assert "M app.py" in lines[0]


def test_work_of_a_run_stopped_mid_turn_is_committed_on_the_branch(
        tmp_path: Path, cleanup: list[Any]) -> None:
    steps = [
        {"tool_calls": [{"name": "write_file",
                         "arguments": {"path": "NOTES.md", "content": "half done\n"}}]},
        {"hang": True},
    ]
    project, up, server = start(tmp_path, steps, cleanup)
    wait_for(lambda: any(r.step == 1 for r in list(server.requests)), 30,
             "the agent to write NOTES.md and ask the model again")
    project.move("TACK-1", "Backlog")  # reconciliation stops the run mid-turn
    wait_for(lambda: branch_log(project), 30, f"a commit on the branch\n{up.output()}")
    assert branch_log(project) == ["tack: work in progress after turn 1 of TACK-1"]
    assert git(project.repo, "show", "tack/tack-1:NOTES.md") == "half done\n"
    run = wait_for(lambda: (d := up.detail("TACK-1")) and d["runs"][-1]["ended_at"] and
                   d["runs"][-1], 20, "the run to end")
    assert run["status"] == "canceled", run
