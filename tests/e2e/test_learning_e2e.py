"""The learning loop and the plan gate from outside, through `tack up` and the CLI: a
thumbs-down on one run becomes a lesson that the next run's prompt carries, and an issue
that needs a plan waits for a person's approval before any implementation starts."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from tack.testing import StubModelServer
from tests.e2e.harness import Project, TackUp, wait_for

pytestmark = pytest.mark.slow

HANDOFF = [
    {"tool_calls": [{"name": "tracker", "arguments": {"action": "move", "state": "Human Review"}}]},
    {"text": "handed off"},
]
LESSON = {"lessons": [{
    "title": "Run the date tests before handing off",
    "lesson": "The first date fix was handed off with failing tests: run pytest tests/test_dates.py "
              "and hand off only when it passes.",
    "cause": "skipped verification", "tags": ["dates", "tests"], "paths": []}]}
# The harness's short prompt, plus the lessons loop the default WORKFLOW.md also has.
PROMPT = ("Work on {{ issue.identifier }}: {{ issue.title }}\n"
          "{% for lesson in lessons %}Lesson {{ lesson.id }}: {{ lesson.title }}\n"
          "{{ lesson.body }}\n{% endfor %}")
PLAN = "Goal: export reports as CSV.\n\n1. Add the CSV writer.\n2. Add the --csv flag."


def first_user(request: Any) -> str:
    messages = (request.body or {}).get("messages") or []
    return next((str(m.get("content")) for m in messages if m.get("role") == "user"), "")


def test_a_thumbs_down_becomes_a_lesson_in_the_next_runs_prompt(
        tmp_path: Path, cleanup: list[Any]) -> None:
    stub = StubModelServer({"conversations": [
        {"match": r"What went wrong in run", "steps": [{"text": json.dumps(LESSON)}]},
        {"match": r"Work on TACK-\d", "steps": HANDOFF},
    ]})
    stub.start_in_thread()
    cleanup.append(stub)
    project = Project(tmp_path, stub.url)
    project.write_workflow({"agent": {"max_turns": 1}}, prompt=PROMPT)
    first = project.add_issue("Fix the date parser for leap years")
    up = TackUp(project)
    cleanup.append(up)
    wait_for(lambda: project.issue(first)["state"] == "Human Review", 30, "first run handed off")
    run_id = wait_for(lambda: (d := up.detail(first)) and d["runs"] and d["runs"][-1]["run_id"],
                      20, "first run recorded")

    down = project.tack("feedback", str(run_id), "--down", "-m",
                        "The tests were failing when you handed this off. Run them first.")
    assert down.returncode == 0, down.stderr
    learned = project.tack("learn", "--json")
    assert learned.returncode == 0, learned.stderr
    lessons = list((project.repo / "lessons").glob("L*.md"))
    assert len(lessons) == 1, lessons
    assert "Run the date tests before handing off" in lessons[0].read_text()
    again = project.tack("learn", "--json")  # nothing new to learn from: no new lesson
    assert again.returncode == 0 and len(list((project.repo / "lessons").glob("L*.md"))) == 1

    second = project.add_issue("Fix the date formatter for time zones")
    wait_for(lambda: project.issue(second)["state"] == "Human Review", 30, "second run handed off")
    prompts = [first_user(r) for r in list(stub.requests) if f"Work on {second}" in first_user(r)]
    assert prompts, "the second run never reached the model"
    assert "Run the date tests before handing off" in prompts[0]
    events = [e["message"] for e in up.detail(second)["recent_events"]]
    assert any(m.startswith("lessons in the prompt: L0001") for m in events), events


def test_the_plan_gate_holds_implementation_until_a_person_approves(
        tmp_path: Path, cleanup: list[Any]) -> None:
    stub = StubModelServer({"conversations": [
        {"match": r"^Plan issue", "steps": [{"text": PLAN}]},
        {"match": r"Work on TACK-1", "steps": HANDOFF},
    ]})
    stub.start_in_thread()
    cleanup.append(stub)
    project = Project(tmp_path, stub.url, {"agent": {"max_turns": 1}})
    ident = project.add_issue("Export reports", "--label", "plan")
    up = TackUp(project)
    cleanup.append(up)
    wait_for(lambda: project.issue(ident)["state"] == "Plan Review", 30, "plan written")
    issue = project.issue(ident)
    assert any("Add the CSV writer" in c["body"] for c in issue["comments"])
    start = int(up.state()["health"]["ticks"])
    wait_for(lambda: int(up.state()["health"]["ticks"]) >= start + 5, 20, "five poll ticks")
    assert not any(f"Work on {ident}" in first_user(r) for r in list(stub.requests)), \
        "implementation started before the plan was approved"

    approved = project.tack("plan", "approve", ident)
    assert approved.returncode == 0, approved.stderr
    wait_for(lambda: project.issue(ident)["state"] == "Human Review", 30, "implemented after approval")
    prompts = [first_user(r) for r in list(stub.requests) if f"Work on {ident}" in first_user(r)]
    assert prompts, "the approved issue never reached the model"
