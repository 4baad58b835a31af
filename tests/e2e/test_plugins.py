"""A plug-in installed as a package (an entry point in the `tack` group) is found by
`tack up` and its hooks run during a real run: the local tracker, the built-in agent on the
stub model server, a real git repo."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path
from typing import Any

import pytest

from tack.testing import StubModelServer
from tests.e2e.harness import Project, TackUp, wait_for

pytestmark = pytest.mark.slow

FIXTURE = Path(__file__).parent.parent / "fixtures" / "plugin" / "tack_recorder.py"


def install_plugin(site: Path) -> None:
    """What `pip install` leaves behind: the module and a dist-info with its entry point."""
    site.mkdir()
    shutil.copy(FIXTURE, site / "tack_recorder.py")
    dist = site / "tack_recorder-0.1.dist-info"
    dist.mkdir()
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: tack-recorder\nVersion: 0.1\n")
    (dist / "entry_points.txt").write_text("[tack]\nrecorder = tack_recorder\n")


def test_an_installed_plugin_sees_a_tack_up_run(tmp_path: Path, cleanup: list[Any]) -> None:
    site = tmp_path / "site"
    install_plugin(site)
    log = tmp_path / "hooks.jsonl"
    # The model hands off only when the plug-in's prompt variable reached the prompt, and the
    # agent's shell shows the plug-in's environment variable.
    steps = [
        {"tool_calls": [{"name": "shell", "arguments": {
            "command": "echo \"recorder=$TACK_RECORDER\" > recorder.txt"}}]},
        {"tool_calls": [{"name": "tracker",
                         "arguments": {"action": "move", "state": "Human Review"}}]},
        {"text": "handed off"},
    ]
    server = StubModelServer({"conversations": [
        {"match": r"recorder says hello to TACK-1\b", "steps": steps}]})
    server.start_in_thread()
    cleanup.append(server)
    project = Project(tmp_path / "project", server.url,
                      {"pull_requests": {"publish": "off"}})
    project.write_workflow({"pull_requests": {"publish": "off"}},
                           prompt="Work on {{ issue.identifier }}. {{ recorder_greeting }}")
    ident = project.add_issue("make VALUE 2")
    path = os.pathsep.join(p for p in (str(site), os.environ.get("PYTHONPATH")) if p)
    up = TackUp(project, env={"PYTHONPATH": path, "TACK_RECORDER_LOG": str(log)})
    cleanup.append(up)

    def calls() -> list[dict[str, Any]]:
        return [json.loads(line) for line in log.read_text().splitlines()] if log.exists() else []

    wait_for(lambda: any(c["hook"] == "handed_off" for c in calls()), 60, "the hand-off hook")
    seen = calls()
    hooks = [c["hook"] for c in seen]
    assert hooks[:2] == ["workspace_prepared", "prompt_context"], hooks
    assert "turn_event" in hooks
    ended = [c for c in seen if c["hook"] == "run_ended"]
    assert ended and ended[0]["status"] == "succeeded" and ended[0]["issue"] == ident
    assert hooks.index("run_ended") < hooks.index("handed_off")
    run_ids = {c["run_id"] for c in seen}
    assert len(run_ids) == 1 and None not in run_ids  # one run, seen with its store row
    workspace = Path(seen[0]["workspace"])
    assert (workspace / "recorder.txt").read_text() == "recorder=on\n"
    assert project.issue(ident)["state"] == "Human Review"
