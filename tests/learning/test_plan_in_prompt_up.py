"""The plan gate through `tack up`: a labelled issue is planned and parked, a person approves
the plan with a note, and the agent that then implements the issue gets the approved plan
and the note in its prompt."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from tack.testing import StubModelServer
from tests.e2e.harness import Project, TackUp, wait_for

pytestmark = pytest.mark.slow

PLAN = "Goal: export reports.\n\n1. Add the CSV writer.\n2. Add the CLI flag."
HANDOFF = {"tool_calls": [{"name": "tracker", "arguments": {
    "action": "move", "state": "Human Review"}}]}


def test_the_agent_implementing_an_approved_plan_gets_it_in_its_prompt(
        tmp_path: Path, cleanup: list[Any]) -> None:
    stub = StubModelServer({"conversations": [
        {"match": r"^Plan issue", "steps": [{"text": PLAN}]},
        {"match": r"^Work on", "steps": [HANDOFF, {"text": "handed off"}]},
    ]})
    stub.start_in_thread()
    cleanup.append(stub)
    project = Project(tmp_path, stub.url)
    ident = project.add_issue("Export reports as CSV", "--label", "plan")
    up = TackUp(project)
    cleanup.append(up)

    wait_for(lambda: project.issue(ident)["state"] == "Plan Review", 30, "the plan written")
    out = project.tack("plan", "approve", ident, "--author", "maya", "-m",
                       "Keep the CSV writer in its own module.")
    assert out.returncode == 0, out.stderr
    wait_for(lambda: project.issue(ident)["state"] == "Human Review", 30, "the implementation")

    first = [json.dumps(r.body) for r in stub.requests
             if r.step == 0 and f"Work on {ident}" in json.dumps(r.body)]
    assert len(first) == 1, first
    assert "## Approved plan" in first[0] and "1. Add the CSV writer." in first[0]
    assert "maya: Plan approved by maya. Keep the CSV writer in its own module." in first[0]
    assert "tack:plan" not in first[0]
    assert up.stop() == 0
