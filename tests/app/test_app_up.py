"""`tack up` with an `app:` section: the built-in agent on the stub model fixes the fixture
app's seeded bug through its `app` tool and hands off with evidence; a `kill -9` of Tack
mid-session leaves no app or browser once Tack starts again (issue 14 §2, §6, §8)."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import httpx
import pytest

from tack.app.home import AppHome
from tack.app.procs import group_alive, read_records
from tests.app.conftest import FIXTURE_APP, needs_chromium
from tests.conftest import git
from tests.e2e.harness import Project, TackUp, wait_for
from tests.e2e.test_scenarios import conv, make

pytestmark = [pytest.mark.slow, needs_chromium]

APP = {"app": {"start": "python3 server.py $TACK_APP_PORT", "ready": "log:listening on"}}


def app(command: str, **args: object) -> dict[str, Any]:
    return {"tool_calls": [{"name": "app", "arguments": {"command": command, **args}}]}


FIX = [
    app("snapshot"), app("click", target="e5"), app("snapshot"),
    {"tool_calls": [{"name": "edit_file", "arguments": {
        "path": "counter.js", "old": "count += 0", "new": "count += 1"}}]},
    app("open"), app("click", target="#add"), app("snapshot"),
    app("screenshot", value="counter-fixed.png"),
    {"tool_calls": [{"name": "tracker", "arguments": {"action": "move",
                                                      "state": "Human Review"}}]},
    {"text": "Fixed the counter; screenshot attached."},
]


def with_fixture_app(project: Project) -> None:
    for path in FIXTURE_APP.iterdir():
        shutil.copy(path, project.repo / path.name)
    git(project.repo, "add", "-A")
    git(project.repo, "commit", "-q", "-m", "counter app")


def test_tack_up_agent_fixes_the_app_and_hands_off_with_evidence(
        tmp_path: Path, cleanup: list[Any]) -> None:
    project, server = make(tmp_path, [conv("TACK-1", FIX)], APP)
    cleanup.append(server)
    with_fixture_app(project)
    ident = project.add_issue("The counter does not count")
    up = TackUp(project)
    cleanup.append(up)
    wait_for(lambda: project.issue(ident)["state"] == "Human Review", 120, "the hand-off")
    detail = wait_for(lambda: (d := up.detail(ident)) and d.get("runs") and
                      d["runs"][0].get("artifacts") and d, 60, "the run's evidence")
    run_id = detail["runs"][0]["run_id"]
    assert detail["runs"][0]["artifacts"] == ["counter-fixed.png"]
    shot = httpx.get(f"{up.url}/api/v1/runs/{run_id}/artifacts/counter-fixed.png", timeout=10)
    assert shot.status_code == 200 and shot.content[:4] == b"\x89PNG"
    comments = wait_for(lambda: [c for c in project.issue(ident)["comments"]
                                 if "counter-fixed.png" in c["body"]], 30, "evidence comment")
    assert f"/api/v1/runs/{run_id}/artifacts/counter-fixed.png" in comments[0]["body"]
    ws = tmp_path / "workspaces" / ident
    assert "count += 1" in (ws / "counter.js").read_text()
    assert not (AppHome(ws).pids).exists()  # the run stopped its app session
    assert (ws / ".agents" / "skills" / "tack-app" / "SKILL.md").is_file()  # taught, unasked
    assert ".agents" not in git(ws, "show", "--stat", "HEAD")  # and never committed


def test_kill_9_of_tack_up_leaves_no_app_or_browser_after_the_next_start(
        tmp_path: Path, cleanup: list[Any]) -> None:
    project, server = make(tmp_path, [conv("TACK-1", [app("open"), {"hang": True}])], APP)
    cleanup.append(server)
    with_fixture_app(project)
    ident = project.add_issue("Look at the counter")
    up = TackUp(project)
    home = AppHome(tmp_path / "workspaces" / ident)
    records = wait_for(lambda: (r := read_records(home)) and {"daemon", "app", "browser"} <= set(r)
                       and r, 90, "the app session")
    up.kill9()
    again = TackUp(project)
    cleanup.append(again)
    for role, entry in records.items():
        pgid = int(str(entry["pgid"]))
        wait_for(lambda pgid=pgid: not group_alive(pgid), 20, f"the {role} to end")
