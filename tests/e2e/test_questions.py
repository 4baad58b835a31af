"""Asking a person, from outside: `tack up` with the built-in agent on the stub model. The
agent calls `ask_human`, the run parks (question on the issue, issue in `Needs Input`, slot
free), a person answers (tracker comment, API, CLI, or the deadline's default) and the same
conversation resumes: the stub's `expect` holds that the next model request carries the
answer, else it answers 400 and the issue never reaches `Human Review`."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tack.testing import StubModelServer
from tests.e2e.harness import Project, TackUp, wait_for

pytestmark = pytest.mark.slow

ASK = {"tool_calls": [{"name": "ask_human", "arguments": {
    "question": "Which database should the cache use?",
    "options": ["sqlite", "postgres"], "recommended": 1}}]}


def script(answer: str) -> list[dict[str, Any]]:
    """Ask, then (only once the answer is in the request) hand off."""
    return [
        ASK,
        {"expect": f"A person answered: {answer}",
         "tool_calls": [{"name": "tracker", "arguments": {"action": "move",
                                                          "state": "Human Review"}}]},
        {"text": "handed off"},
    ]


def make(tmp_path: Path, cleanup: list[Any], steps: list[dict[str, Any]],
         config: dict[str, Any] | None = None) -> tuple[Project, StubModelServer, str]:
    server = StubModelServer({"conversations": [{"steps": steps}]})
    server.start_in_thread()
    cleanup.append(server)
    project = Project(tmp_path, server.url, config)
    return project, server, project.add_issue("pick a cache backend")


def parked(project: Project, up: TackUp | None, ident: str) -> dict[str, Any]:
    issue = wait_for(lambda: (i := project.issue(ident))["state"] == "Needs Input" and i,
                     30, "the issue to wait in Needs Input")
    if up is not None:
        wait_for(lambda: not up.running_ids(), 20, "the slot to be freed")
    return issue


def handed_off(project: Project, ident: str) -> None:
    wait_for(lambda: project.issue(ident)["state"] == "Human Review", 40, "the hand-off")


def test_answer_in_a_tracker_comment_resumes_the_same_conversation(
        tmp_path: Path, cleanup: list[Any]) -> None:
    project, server, ident = make(tmp_path, cleanup, script("postgres"))
    up = TackUp(project)
    cleanup.append(up)
    issue = parked(project, up, ident)
    (waiting,) = up.state()["questions"]  # what the dashboard's "Waiting for a person" shows
    assert (waiting["issue_identifier"], waiting["options"]) == (ident, ["sqlite", "postgres"])
    asked = issue["comments"][-1]["body"]
    assert "Which database should the cache use?" in asked
    assert "1. sqlite (recommended)" in asked and "/answer" in asked
    model_calls = len(server.requests)
    project.tack("issue", "comment", ident, "/answer 2")
    handed_off(project, ident)
    resumed = server.requests[model_calls].body["messages"]
    # The same conversation: the original prompt and the ask_human call are still there.
    assert resumed[1]["content"].startswith(f"Work on {ident}")
    assert resumed[-1] == {"role": "tool", "tool_call_id": resumed[-2]["tool_calls"][0]["id"],
                           "content": "A person answered: postgres"}
    listed = project.tack("questions", "list", "--json")
    assert '"answered_by": "tracker:human"' in listed.stdout
    assert '"status": "resumed"' in listed.stdout


def test_kill_9_while_parked_then_answer_through_the_api_resumes(
        tmp_path: Path, cleanup: list[Any]) -> None:
    project, server, ident = make(tmp_path, cleanup, script("sqlite"))
    up = TackUp(project)
    cleanup.append(up)
    parked(project, up, ident)
    up.kill9()
    up = TackUp(project)
    cleanup.append(up)
    (question,) = up.client.get("/api/v1/questions").raise_for_status().json()["questions"]
    assert question["status"] == "open" and question["issue_identifier"] == ident
    bad = up.client.post(f"/api/v1/questions/{question['id']}/answer", json={"option": 5})
    assert bad.status_code == 400 and "1 to 2" in bad.json()["error"]["message"]
    # As the dashboard's option button sends it (htmx: form-encoded `hx-vals`).
    answered = up.client.post(f"/api/v1/questions/{question['id']}/answer", data={"option": "1"})
    assert answered.status_code == 202, answered.text
    handed_off(project, ident)


def test_tack_answer_on_the_cli_and_a_secret_answer_stays_out_of_the_api(
        tmp_path: Path, cleanup: list[Any]) -> None:
    secret_ask = {"tool_calls": [{"name": "ask_human", "arguments": {
        "question": "What is the staging password?", "secret": True}}]}
    steps = [secret_ask, *script("hunter22")[1:]]
    project, server, ident = make(tmp_path, cleanup, steps)
    up = TackUp(project)
    cleanup.append(up)
    parked(project, up, ident)
    refused = project.tack("answer", ident, "--option", "1")
    assert refused.returncode == 2 and "no options" in refused.stderr
    result = project.tack("answer", ident, "hunter22")
    assert result.returncode == 0, result.stderr
    assert "hunter22" not in result.stdout
    handed_off(project, ident)
    api = up.client.get("/api/v1/questions").text + up.client.get(f"/api/v1/{ident}").text
    assert "hunter22" not in api
    shown = project.tack("questions", "show", "1")
    assert "What is the staging password?" in shown.stdout and "hunter22" not in shown.stdout


def test_a_passing_deadline_applies_the_recommended_option_and_says_so(
        tmp_path: Path, cleanup: list[Any]) -> None:
    config = {"questions": {"deadline_ms": 300, "default_action": "recommended"}}
    project, server, ident = make(tmp_path, cleanup, script("sqlite"), config)
    up = TackUp(project)
    cleanup.append(up)
    handed_off(project, ident)
    said = [c["body"] for c in project.issue(ident)["comments"]]
    assert any("by its deadline: going with the recommended option 1" in s for s in said), said
