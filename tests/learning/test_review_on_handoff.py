"""`review.on_handoff` through `tack up`: after a hand-off the reviewer agent reviews the run's
change, its findings are stored as feedback on the run and noted on the timeline, and when
the hand-off opened a GitHub pull request they are posted there as one review (fake GitHub)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from tack.testing import StubModelServer
from tests.conftest import git
from tests.e2e.harness import Project, TackUp, wait_for
from tests.tracker_remote.fake_apis import FakeApis, ServerThread, gh_comment

pytestmark = pytest.mark.slow

TOKEN = "test-token-review-123456"
COMMIT = {"tool_calls": [{"name": "shell", "arguments": {
    "command": "printf 'import time\\n\\ndef wait():\\n    time.sleep(2)\\n' > feature.py "
               "&& git add -A && git commit -q -m 'Add wait()'"}}]}
# The scripted agent commits with git in its shell, which the sandbox's read-only .git refuses.
UNSANDBOXED: dict[str, Any] = {"sandbox": {"enabled": False}}
HANDOFF = {"tool_calls": [{"name": "tracker", "arguments": {
    "action": "move", "state": "Human Review"}}]}
FINDINGS = {"findings": [
    {"path": "feature.py", "line": 4, "severity": "error",
     "body": "time.sleep(2) waits blind; poll with a deadline."},
    {"severity": "note", "body": "No test covers wait()."}]}


def start_stub(review_reply: str, cleanup: list[Any]) -> StubModelServer:
    stub = StubModelServer({"conversations": [
        {"match": r"^Review the change", "steps": [{"text": review_reply}]},
        {"match": r"^Work on", "steps": [COMMIT, HANDOFF, {"text": "handed off"}]},
    ]})
    stub.start_in_thread()
    cleanup.append(stub)
    return stub


def timeline(up: TackUp, ident: str) -> list[str]:
    return [e["message"] or "" for e in (up.detail(ident) or {}).get("recent_events", [])]


def event(up: TackUp, ident: str, prefix: str) -> str | None:
    return next((m for m in timeline(up, ident) if m.startswith(prefix)), None)


def test_findings_are_stored_on_the_run_and_noted_on_the_timeline_without_a_remote(
        tmp_path: Path, cleanup: list[Any]) -> None:
    stub = start_stub(json.dumps(FINDINGS), cleanup)
    project = Project(tmp_path, stub.url, {"review": {"on_handoff": True},
                                           "agent": {"max_turns": 3}, **UNSANDBOXED})
    ident = project.add_issue("Add a wait helper")
    up = TackUp(project)
    cleanup.append(up)

    noted = wait_for(lambda: event(up, ident, "review: "), 30, "the review on the timeline")
    assert noted.startswith("review: 2 findings (1 errors)"), noted
    assert "feature.py:4: error: time.sleep(2) waits blind" in noted
    messages = timeline(up, ident)
    assert any(m.startswith("not published: no git remote") for m in messages), messages
    assert project.issue(ident)["state"] == "Human Review"

    [run] = up.detail(ident)["runs"]
    stored = [(f["author"], f["kind"], f["state"], f["sentiment"], f["body"])
              for f in run["feedback"]]
    assert stored == [
        ("tack-reviewer", "review_comment", "error", "down",
         "time.sleep(2) waits blind; poll with a deadline."),
        ("tack-reviewer", "review_comment", "note", None, "No test covers wait()."),
    ]
    [prompt] = [r.body["messages"][-1]["content"] for r in list(stub.requests)
                if "Review the change" in str(r.body["messages"][-1]["content"])]
    assert f"run {run['run_id']} ({ident})" in prompt and "time.sleep(2)" in prompt


def test_a_reviewer_failure_is_recorded_and_breaks_nothing(
        tmp_path: Path, cleanup: list[Any]) -> None:
    stub = start_stub("I would rather not say.", cleanup)
    project = Project(tmp_path, stub.url, {"review": {"on_handoff": True},
                                           "agent": {"max_turns": 3}, **UNSANDBOXED})
    ident = project.add_issue("Add a wait helper")
    up = TackUp(project)
    cleanup.append(up)

    failed = wait_for(lambda: event(up, ident, "review failed: "), 30, "the failed review")
    assert "not the JSON asked for" in failed
    assert project.issue(ident)["state"] == "Human Review"
    assert up.state()["running"] == []
    second = project.add_issue("Another helper")  # the orchestrator keeps dispatching
    wait_for(lambda: project.issue(second)["state"] == "Human Review", 30, "the second run")


def test_findings_are_posted_as_one_review_on_the_github_pull_request(
        tmp_path: Path, cleanup: list[Any]) -> None:
    fake = FakeApis(token=TOKEN)
    server = ServerThread(fake.app()).__enter__()
    cleanup.append(server)
    fake.url = server.url
    stub = start_stub(json.dumps(FINDINGS), cleanup)
    project = Project(tmp_path, stub.url, {
        "review": {"on_handoff": True}, "agent": {"max_turns": 3}, **UNSANDBOXED,
        "pull_requests": {"forge": "github", "repo": "o/r", "endpoint": fake.url,
                          "api_key": "$GITHUB_TOKEN"}})
    origin = tmp_path / "origin.git"
    git(tmp_path, "init", "-q", "--bare", "-b", "main", str(origin))
    git(project.repo, "remote", "add", "origin", str(origin))
    git(project.repo, "push", "-q", "origin", "main")
    ident = project.add_issue("Add a wait helper")
    up = TackUp(project, env={"GITHUB_TOKEN": TOKEN})
    cleanup.append(up)

    posted = wait_for(lambda: event(up, ident, "review posted on "), 30, "the posted review")
    assert posted == "review posted on https://github.com/o/r/pull/100"
    [(_, path, sent)] = [r for r in fake.requests if r[1].endswith("/reviews")]
    assert path == "/repos/o/r/pulls/100/reviews"
    assert sent["event"] == "COMMENT"
    assert sent["commit_id"] == git(origin, "rev-parse", fake.gh_pulls[100]["head"]["ref"]).strip()
    assert sent["comments"] == [{"path": "feature.py", "line": 4, "side": "RIGHT",
                                 "body": "**error**: time.sleep(2) waits blind; poll with a "
                                         "deadline.\n\n<!-- tack:review -->"}]
    assert "2 finding(s)" in sent["body"] and "No test covers wait()." in sent["body"]
    assert sent["body"].endswith("<!-- tack:review -->")
    # The review intake reads the PR back (under the same account): Tack's own review and
    # line comment are not feedback; a person's reply is.
    fake.gh_comments[100] = [gh_comment("o/r", 701, "ana", "Agree with the reviewer.")]
    assert up.client.post("/api/v1/refresh").status_code == 202
    wait_for(lambda: "ana" in {f["author"] for f in up.detail(ident)["runs"][0]["feedback"]},
             30, "the person's comment synced from the PR")
    [run] = up.detail(ident)["runs"]
    assert {f["author"] for f in run["feedback"]} == {"tack-reviewer", "ana"}
    assert fake.hits["GET /repos/o/r/pulls/100/reviews"] >= 1
    assert TOKEN not in up.output()


async def test_a_review_github_refuses_for_its_lines_is_posted_with_them_in_the_body() -> None:
    from tack.forge.github import GitHubForge
    from tests.tracker_remote.fake_apis import gh_pull

    fake = FakeApis(token=TOKEN)
    with ServerThread(fake.app()) as server:
        fake.gh_pulls[100] = gh_pull("o/r", 100, "tack/TACK-1", "main", "TACK-1: x", "")
        # GitHub answers 422 when a line comment is outside the diff.
        fake.fail("/repos/o/r/pulls/100/reviews", 422, body={
            "message": "Unprocessable Entity", "errors": ["Line could not be resolved"]})
        forge = GitHubForge("o/r", TOKEN, server.url)
        try:
            url = await forge.post_review(100, body="1 finding", comments=[
                {"path": "feature.py", "line": 99, "body": "**error**: sleeps"}])
        finally:
            await forge.close()
    assert url == "https://api.github.com/repos/o/r/pulls/100"
    [(_, _, sent)] = [r for r in fake.requests if r[1].endswith("/reviews")]
    assert "comments" not in sent
    assert sent["body"] == ("1 finding\n\n- `feature.py:99`: **error**: sleeps\n\n"
                            "<!-- tack:review -->")
    assert fake.status_counts[422] == 1
