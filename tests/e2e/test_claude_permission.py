"""Claude's permission prompt through `tack up`: Bash is not in `claude.allowed_tools`, so the
real claude CLI asks Tack's `--permission-prompt-tool`; the question parks the run (issue in
`Needs Input`, slot free); a person allows it through the API; the resumed session runs the
command, and the stub holds that its output reached the model (else it answers 400 and the
issue never reaches `Human Review`)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tack.agents.claude import PERMISSION_PARKED
from tack.agents.mcp_tracker import CLAUDE_TOOL_NAME
from tack.testing.stub_model import StubModelServer
from tests.agents.test_claude import CLAUDE_BIN, claude_env, needs_claude
from tests.e2e.harness import Project, TackUp, wait_for

pytestmark = [pytest.mark.slow, needs_claude]

# Not a command acceptEdits lets through by itself.
BASH = {"name": "Bash", "arguments": {"command": "python3 -c 'print(\"tack-\" + str(6 * 7))'",
                                      "description": "print the answer"}}
STEPS = [
    {"tool_calls": [BASH]},
    {"expect": PERMISSION_PARKED, "text": "Waiting for the decision."},
    {"expect": "A person allowed Bash", "tool_calls": [BASH]},
    {"expect": "tack-42", "tool_calls": [{"name": CLAUDE_TOOL_NAME, "arguments": {
        "action": "move", "state": "Human Review"}}]},
    {"text": "Ran it and handed off."},
]


def test_a_permission_prompt_parks_and_an_api_allow_resumes_the_call(
        tmp_path: Path, cleanup: list[Any]) -> None:
    stub = StubModelServer({"conversations": [{"match": "Work on TACK-1", "steps": STEPS}]})
    stub.start_in_thread()
    cleanup.append(stub)
    project = Project(tmp_path / "project", stub.url, {
        "agent": {"backend": "claude", "max_turns": 1},
        "claude": {"command": CLAUDE_BIN, "env": claude_env(tmp_path / "home", stub),
                   "allowed_tools": [CLAUDE_TOOL_NAME]},
        # With Tack's sandbox on, Claude Code runs Bash inside its own sandbox without asking
        # (`autoAllowBashIfSandboxed`); an unsandboxed Bash call is the one a person decides.
        "sandbox": {"enabled": False},
    })
    ident = project.add_issue("Print the answer")
    up = TackUp(project)
    cleanup.append(up)
    wait_for(lambda: project.issue(ident)["state"] == "Needs Input", 60,
             f"the issue to wait in Needs Input\n{up.output()}")
    wait_for(lambda: not up.running_ids(), 20, "the slot to be freed")
    (question,) = up.client.get("/api/v1/questions").raise_for_status().json()["questions"]
    assert (question["source"], question["options"], question["recommended"]) == (
        "claude.permission", ["allow", "deny"], 2)
    assert "Bash" in question["text"] and "tack-" in question["text"]
    assert "permission to use Bash" in project.issue(ident)["comments"][-1]["body"]
    allowed = up.client.post(f"/api/v1/questions/{question['id']}/answer", json={"option": 1})
    assert allowed.status_code == 202, allowed.text
    wait_for(lambda: project.issue(ident)["state"] == "Human Review", 90,
             f"the hand-off after the allowed call\n{up.output()}")
    assert any(r.step == 3 for r in stub.requests)  # the call ran: its output was sent
