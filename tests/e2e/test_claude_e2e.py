"""Issues through `tack up` with the real claude CLI against the stub model server: a run to
hand-off, a crash mid-turn that is retried, a stall that is killed, and a run stopped when
its issue leaves the active states, each leaving no claude process behind."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import psutil
import pytest

from tack.agents.mcp_tracker import CLAUDE_TOOL_NAME
from tack.testing.stub_model import StubModelServer
from tests.agents.test_claude import CLAUDE_BIN, claude_env, needs_claude
from tests.e2e.harness import Project, TackUp, wait_for

pytestmark = [pytest.mark.slow, needs_claude]

HANDOFF = [
    {"tool_calls": [{"name": "Bash", "arguments": {
        "command": "sed -i 's/VALUE = 1/VALUE = 2/' app.py && git commit -qam 'Set 2'",
        "description": "edit and commit"}}]},
    {"tool_calls": [{"name": CLAUDE_TOOL_NAME,
                     "arguments": {"action": "move", "state": "Human Review"}}]},
    {"text": "VALUE is 2 now."},
]


def start(tmp_path: Path, conversations: list[dict[str, Any]], cleanup: list[Any],
          **config: Any) -> tuple[Project, TackUp, Path]:
    stub = StubModelServer({"conversations": conversations})
    stub.start_in_thread()
    cleanup.append(stub)
    home = tmp_path / "home"
    project = Project(tmp_path / "project", stub.url, {
        "agent": {"backend": "claude", "max_turns": 1, **config.pop("agent", {})},
        "claude": {"command": CLAUDE_BIN, "env": claude_env(home, stub)},
        **config,
    })
    project.add_issue("Make VALUE two")
    up = TackUp(project)
    cleanup.append(up)
    return project, up, home


def claude_processes(home: Path) -> list[psutil.Process]:
    """Live processes of this test's claude sessions (claude and its MCP tracker server)."""
    found = []
    for proc in psutil.process_iter():
        try:
            if proc.status() == psutil.STATUS_ZOMBIE:
                continue
            if proc.environ().get("CLAUDE_CONFIG_DIR") == str(home / ".claude"):
                found.append(proc)
        except psutil.Error:
            continue
    return found


def hung_claude(stub_requests: Any, home: Path) -> list[psutil.Process]:
    """The claude processes, once the model call they are blocked on has arrived."""
    if not any(r.step == 0 and r.conversation == "Work on TACK-1" for r in list(stub_requests)):
        return []
    return claude_processes(home)


def claude_itself(procs: list[psutil.Process]) -> list[psutil.Process]:
    """claude among its processes (not its MCP server or sandbox proxy). One of the others
    may end between being listed and being looked at: that one is not claude."""
    found = []
    for proc in procs:
        try:
            if proc.cmdline()[:1] == [CLAUDE_BIN]:
                found.append(proc)
        except psutil.Error:
            continue
    return found


def test_claude_runs_an_issue_through_tack_up(tmp_path: Path, cleanup: list[Any]) -> None:
    project, up, home = start(tmp_path, [{"match": "Work on TACK-1", "steps": HANDOFF}],
                              cleanup)
    wait_for(lambda: project.issue("TACK-1")["state"] == "Human Review", 60,
             f"TACK-1 handed off\n{up.output()}")
    state = wait_for(lambda: (s := up.state())["codex_totals"]["total_tokens"] > 0 and s,
                     20, "tokens in /api/v1/state")
    assert state["codex_totals"]["input_tokens"] > 0
    workspace = project.root / "workspaces" / "TACK-1"
    assert (workspace / "app.py").read_text() == "VALUE = 2\n"
    wait_for(lambda: not claude_processes(home), 20, "claude to exit after the run")


def test_a_claude_crash_mid_turn_is_retried_and_the_retry_hands_off(
        tmp_path: Path, cleanup: list[Any]) -> None:
    # The first attempt hangs in a model call and its claude is killed (a crash); the
    # retry's prompt says "attempt 1", which the script answers with the real work.
    project, up, home = start(tmp_path, [
        {"match": "attempt 1", "steps": HANDOFF},
        {"match": "Work on TACK-1", "steps": [{"hang": True}]},
    ], cleanup, agent={"max_retry_backoff_ms": 1000})
    stub = cleanup[0]
    victims = wait_for(lambda: claude_itself(hung_claude(stub.requests, home)), 60,
                       "claude mid-turn")
    for proc in victims:
        proc.kill()
    wait_for(lambda: project.issue("TACK-1")["state"] == "Human Review", 60,
             f"the retry handed off\n{up.output()}")
    detail = wait_for(lambda: (d := up.detail("TACK-1")) and len(d["runs"]) >= 2 and d, 20,
                      "two runs recorded")
    first = min(detail["runs"], key=lambda r: r["run_id"])
    assert first["status"] == "failed" and "claude exited" in first["error"], first
    assert (project.root / "workspaces" / "TACK-1" / "app.py").read_text() == "VALUE = 2\n"
    wait_for(lambda: not claude_processes(home), 20, "no claude left after the retry")


def test_a_stalled_claude_is_killed_and_retried(tmp_path: Path, cleanup: list[Any]) -> None:
    project, up, home = start(
        tmp_path, [{"match": "Work on TACK-1", "steps": [{"hang": True}]}],
        cleanup, codex={"stall_timeout_ms": 5000})
    # Long enough for claude to start on a loaded machine, short enough to wait for.
    entry = wait_for(lambda: up.retrying().get("TACK-1"), 60, "stalled run queued for retry")
    assert "stalled" in entry["error"]
    assert up.detail("TACK-1")["runs"][0]["status"] == "stalled"
    wait_for(lambda: not claude_processes(home), 20, "the stalled claude tree to be gone")


def test_moving_the_issue_out_of_active_states_stops_claude_and_its_tree(
        tmp_path: Path, cleanup: list[Any]) -> None:
    project, up, home = start(
        tmp_path, [{"match": "Work on TACK-1", "steps": [{"hang": True}]}],
        cleanup)
    stub = cleanup[0]
    wait_for(lambda: hung_claude(stub.requests, home), 60, "claude mid-turn")
    project.move("TACK-1", "Backlog")
    wait_for(lambda: "TACK-1" not in up.running_ids(), 20, "the run stopped")
    wait_for(lambda: not claude_processes(home), 20, "claude and its MCP server gone")
    run = up.detail("TACK-1")["runs"][-1]
    assert run["status"] == "canceled", run
    assert not up.retrying().get("TACK-1")
