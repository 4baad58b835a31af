"""`tack up` applies WORKFLOW.md's `sandbox:` to what it runs: the built-in agent's shell
calls and (with `sandbox.hooks`) the hooks, seen from outside through the model's transcript
and the file system."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from tack.testing import StubModelServer
from tests.e2e.harness import Project, TackUp, wait_for

pytestmark = pytest.mark.slow

API_KEY = "sk-orchestrated-sandbox-secret"


def test_tack_up_runs_the_agents_shell_and_hooks_in_the_sandbox(
        tmp_path: Path, cleanup: list[Any]) -> None:
    owned = tmp_path / "owned-by-agent"
    hook_owned = tmp_path / "owned-by-hook"
    script = (f"echo key=${{OPENAI_API_KEY:-absent}}; cat {tmp_path}/.tack/state.db | wc -c; "
              f"echo x > {owned}; cat hook-mark")
    steps = [
        {"tool_calls": [{"name": "shell", "arguments": {"command": script}}]},
        {"tool_calls": [{"name": "tracker",
                         "arguments": {"action": "move", "state": "Human Review"}}]},
        {"text": "done"},
    ]
    server = StubModelServer({"conversations": [{"steps": steps}]})
    server.start_in_thread()
    cleanup.append(server)
    project = Project(tmp_path, server.url, {
        "builtin": {"api_key": "$OPENAI_API_KEY"},
        "hooks": {"after_create": f"echo made > hook-mark; echo x > {hook_owned}; true"},
        "sandbox": {"hooks": True},
    })
    ident = project.add_issue("try to get out")
    up = TackUp(project, env={"OPENAI_API_KEY": API_KEY})
    cleanup.append(up)
    wait_for(lambda: project.issue(ident)["state"] == "Human Review", 60, "the hand-off")
    results = [m for r in server.requests for m in r.body.get("messages", [])
               if m.get("role") == "tool"]
    shell = json.dumps(results[0])
    assert "key=absent" in shell and API_KEY not in shell
    assert "state.db: No such file or directory" in shell
    assert not owned.exists()  # it went to the sandbox's private /tmp
    assert "made" in shell  # the hook wrote its workspace ...
    assert not hook_owned.exists()  # ... and nothing outside it
