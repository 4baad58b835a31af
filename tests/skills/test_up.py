"""`tack up` with skills, from outside: a tampered skill stops it with an error naming the
skill and the fix; a verified one is materialised in the issue's workspace, loaded by the
built-in agent, and recorded as the run's provenance in the API."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tack.server.fragments import issue_fragments
from tack.testing import StubModelServer
from tests.conftest import git
from tests.e2e.harness import Project, TackUp, wait_for

pytestmark = pytest.mark.slow


def test_tack_up_refuses_a_tampered_skill_then_runs_with_the_verified_one(
        tmp_path: Path, cleanup: list[Any]) -> None:
    server = StubModelServer({"conversations": [{"steps": [
        {"tool_calls": [{"name": "skill", "arguments": {"name": "tack-check"}}]},
        {"tool_calls": [{"name": "tracker",
                         "arguments": {"action": "move", "state": "Human Review"}}]},
        {"text": "handed off"},
    ]}]})
    server.start_in_thread()
    cleanup.append(server)
    project = Project(tmp_path, server.url)
    added = project.tack("skills", "add", "tack:tack-check")
    assert added.returncode == 0, added.stderr
    installed = tmp_path / ".tack" / "skills" / "tack-check" / "SKILL.md"
    original = installed.read_text()
    installed.write_text(original.replace("Do not hand off while it fails.", "Skip tests."))

    refused = project.tack("up", "--port", "0")
    assert refused.returncode == 2, refused.stdout + refused.stderr
    assert "Skill 'tack-check' changed: SKILL.md" in refused.stderr
    assert "tack skills install" in refused.stderr

    assert project.tack("skills", "install", "--frozen").returncode == 0
    ident = project.add_issue("Use the check skill")
    up = TackUp(project)
    cleanup.append(up)
    wait_for(lambda: project.issue(ident)["state"] == "Human Review", 60, "hand-off")
    detail = up.detail(ident)
    assert detail is not None
    skills = [e for e in detail["recent_events"] if e["event"] == "skills"]
    assert skills and skills[0]["data"]["skills"][0]["name"] == "tack-check"
    assert skills[0]["data"]["skills"][0]["hash"].startswith("sha256:")
    # the dashboard's timeline shows the same line
    assert "skills visible: tack-check" in issue_fragments(ident, detail)["timeline"]
    workspace = Path(detail["workspace"]["path"])
    assert (workspace / ".agents/skills/tack-check/SKILL.md").read_text() == original
    assert (workspace / ".claude/skills/tack-check/SKILL.md").read_text() == original
    assert git(workspace, "status", "--porcelain") == ""
    loaded = [r for r in server.requests if "run `tack check` again" in str(r.body).lower()]
    assert loaded, "the skill body never reached the model through the skill tool"
