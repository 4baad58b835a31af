"""A full issue through `tack up` with the real claude CLI against the stub model server."""

from __future__ import annotations

from pathlib import Path

from tack.agents.mcp_tracker import CLAUDE_TOOL_NAME
from tack.testing.stub_model import StubModelServer
from tests.agents.test_claude import CLAUDE_BIN, claude_env, needs_claude
from tests.e2e.harness import Project, TackUp, wait_for


@needs_claude
def test_claude_runs_an_issue_through_tack_up(tmp_path: Path) -> None:
    script = {"conversations": [{"match": "Work on TACK-1", "steps": [
        {"tool_calls": [{"name": "Bash", "arguments": {
            "command": "sed -i 's/VALUE = 1/VALUE = 2/' app.py && git commit -qam 'Set 2'",
            "description": "edit and commit"}}]},
        {"tool_calls": [{"name": CLAUDE_TOOL_NAME,
                         "arguments": {"action": "move", "state": "Human Review"}}]},
        {"text": "VALUE is 2 now."},
    ]}]}
    with StubModelServer(script) as stub:
        project = Project(tmp_path, stub.url, {
            "agent": {"backend": "claude", "max_turns": 1},
            "claude": {"command": CLAUDE_BIN, "env": claude_env(tmp_path / "home", stub)},
        })
        ident = project.add_issue("Make VALUE two")
        up = TackUp(project)
        try:
            wait_for(lambda: project.issue(ident)["state"] == "Human Review", 60,
                     f"{ident} handed off\n{up.output()}")
            state = wait_for(lambda: (s := up.state())["codex_totals"]["total_tokens"] > 0
                             and s, 20, "tokens in /api/v1/state")
        finally:
            up.stop()
    assert state["codex_totals"]["input_tokens"] > 0
    workspace = tmp_path / "workspaces" / ident
    assert (workspace / "app.py").read_text() == "VALUE = 2\n"
