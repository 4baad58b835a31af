"""`tack up` unchanged on hosted trackers: the real subprocess polls the fake GitHub REST and
Linear GraphQL APIs on loopback, the built-in agent moves and comments through its tracker
tool, a GitHub hand-off pushes to a local bare `origin` and opens the PR on the fake API, and
an outage or rate limit mid-run loses nothing."""

from __future__ import annotations

from collections.abc import Iterator
from itertools import pairwise
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest

from tack.testing import StubModelServer
from tack.workspace.keys import workspace_key
from tests.conftest import git
from tests.e2e.harness import Project, TackUp, wait_for
from tests.tracker_remote.conftest import TOKEN
from tests.tracker_remote.fake_apis import FakeApis, ServerThread, gh_issue
from tests.tracker_remote.test_linear_tracker import linear_issue

pytestmark = pytest.mark.slow

COMMIT = {"tool_calls": [{"name": "shell", "arguments": {
    "command": "echo 'def feature():\n    return 42' > feature.py && git add -A "
               "&& git commit -q -m 'Add the feature'"}}]}
COMMENT = {"tool_calls": [{"name": "tracker", "arguments": {
    "action": "comment", "body": "Added feature.py; ready for review."}}]}
HANDOFF = {"tool_calls": [{"name": "tracker", "arguments": {
    "action": "move", "state": "Human Review"}}]}
DONE = {"text": "handed off"}
FAST_RETRIES = {"retry_base_ms": 50, "max_attempts": 3}


def gate(path: Path) -> dict[str, Any]:
    """A shell step that holds the turn open until the test creates `path` (or 60 s pass)."""
    return {"tool_calls": [{"name": "shell", "arguments": {
        "command": f"for i in $(seq 1 1200); do [ -f '{path}' ] && exit 0; sleep 0.05; done; "
                   "exit 1", "timeout_ms": 90_000}}]}


@pytest.fixture
def fake() -> Iterator[FakeApis]:
    apis = FakeApis(token=TOKEN)
    holder = {"server": ServerThread(apis.app()).__enter__()}
    apis.url = holder["server"].url
    apis.servers = holder  # type: ignore[attr-defined]
    yield apis
    holder["server"].__exit__(None, None, None)



def start_stub(steps: list[dict[str, Any]], cleanup: list[Any]) -> StubModelServer:
    stub = StubModelServer({"conversations": [{"steps": steps}]})
    stub.start_in_thread()
    cleanup.append(stub)
    return stub


def github_project(tmp_path: Path, stub: StubModelServer, fake: FakeApis) -> tuple[Project, Path]:
    project = Project(tmp_path, stub.url, {
        "tracker": {"kind": "github", "endpoint": fake.url, "api_key": "$GITHUB_TOKEN",
                    "provider": {"repo": "o/r", **FAST_RETRIES}},
        "pull_requests": {"endpoint": fake.url, "repo": "o/r"},
        # The scripted agent commits with git in its shell and waits on a file the test
        # creates under /tmp: both outside what the sandbox grants (docs/sandbox.md).
        "sandbox": {"enabled": False},
    })
    origin = tmp_path / "origin.git"
    git(tmp_path, "init", "-q", "--bare", "-b", "main", str(origin))
    git(project.repo, "remote", "add", "origin", str(origin))
    git(project.repo, "push", "-q", "origin", "main")
    return project, origin


def issue_detail(up: TackUp, ident: str) -> dict[str, Any] | None:
    """`up.detail` for identifiers with `#` (GitHub's `r#1`), which must be escaped in a URL."""
    return up.detail(quote(ident, safe=""))


def labels(fake: FakeApis, number: int) -> list[str]:
    return [x["name"] for x in fake.gh_issues[number]["labels"]]


def first_turns(stub: StubModelServer) -> int:
    """Conversations the model saw start: one per dispatched attempt."""
    return sum(1 for r in stub.requests if r.step == 0)


def assert_published(fake: FakeApis, origin: Path, project: Project, branch: str) -> None:
    [pr] = fake.gh_pulls.values()
    assert pr["head"]["ref"] == branch and pr["base"]["ref"] == "main"
    assert pr["title"] == "r#1: Add the feature"
    assert "Closes #1" in pr["body"] and "feature.py" in pr["body"]
    pushed = git(origin, "rev-parse", f"refs/heads/{branch}").strip()
    assert git(project.repo, "log", "-1", "--format=%s", pushed).strip() == "Add the feature"


def test_github_issue_is_dispatched_handed_off_and_gets_a_pr(
    tmp_path: Path, fake: FakeApis, cleanup: list[Any]
) -> None:
    fake.gh_issues[1] = gh_issue("o/r", 1, "Add the feature", body="Please add feature().")
    fake.gh_issues[2] = gh_issue("o/r", 2, "Old work", labels=["Human Review"])
    stub = start_stub([COMMIT, COMMENT, HANDOFF, DONE], cleanup)
    project, origin = github_project(tmp_path, stub, fake)
    up = TackUp(project, env={"GITHUB_TOKEN": TOKEN})
    cleanup.append(up)
    branch = "tack/" + workspace_key("r#1").lower()

    wait_for(lambda: len(fake.gh_pulls) == 1, 30, "the pull request on the fake GitHub")
    assert labels(fake, 1) == ["Human Review"] and fake.gh_issues[1]["state"] == "open"
    # The hand-off summary is marked as Tack's own (hidden in markdown): never feedback.
    assert [c["body"] for c in fake.gh_comments[1]] == [
        "Added feature.py; ready for review.\n\n<!-- tack:agent -->"]
    assert_published(fake, origin, project, branch)
    runs = wait_for(lambda: (issue_detail(up, "r#1") or {}).get("runs"), 20, "the run in the API")
    assert len(runs) == 1
    assert issue_detail(up, "r#2") is None  # not an active state: never dispatched
    assert f"Bearer {TOKEN}" in fake.auth_headers or f"token {TOKEN}" in fake.auth_headers
    assert TOKEN not in up.output()


def test_linear_issue_is_dispatched_commented_and_moved(
    tmp_path: Path, fake: FakeApis, cleanup: list[Any]
) -> None:
    fake.linear_issues = [linear_issue(1), linear_issue(2, state="Done"),
                          linear_issue(3, project="other-project")]
    stub = start_stub([COMMENT, HANDOFF, DONE], cleanup)
    project = Project(tmp_path, stub.url, {
        "tracker": {"kind": "linear", "api_key": "$LINEAR_API_KEY", "project_slug": "tack-abc",
                    "endpoint": f"{fake.url}/graphql", "provider": FAST_RETRIES},
    })
    up = TackUp(project, env={"LINEAR_API_KEY": TOKEN})
    cleanup.append(up)

    issue = fake.linear_issues[0]
    wait_for(lambda: issue["state"]["name"] == "Human Review", 30, "ENG-1 moved on Linear")
    assert [c["body"] for c in issue["comments"]["nodes"]] == [
        "Added feature.py; ready for review."]
    runs = wait_for(lambda: (up.detail("ENG-1") or {}).get("runs"), 20, "the run in the API")
    assert len(runs) == 1
    assert up.detail("ENG-2") is None and up.detail("ENG-3") is None
    assert first_turns(stub) == 1
    # No git remote in this project: the hand-off is recorded as not published.
    wait_for(lambda: any("not published" in e["message"]
                         for e in (up.detail("ENG-1") or {}).get("recent_events", [])),
             20, "the not-published note")


def _health(up: TackUp) -> str:
    return str(up.state()["health"].get("dispatch_error") or "")


def test_outage_and_rate_limit_mid_run_lose_nothing(
    tmp_path: Path, fake: FakeApis, cleanup: list[Any]
) -> None:
    fake.gh_issues[1] = gh_issue("o/r", 1, "Add the feature")
    release = tmp_path / "release-the-agent"
    stub = start_stub([gate(release), COMMIT, HANDOFF, DONE], cleanup)
    project, origin = github_project(tmp_path, stub, fake)
    up = TackUp(project, env={"GITHUB_TOKEN": TOKEN})
    cleanup.append(up)
    wait_for(lambda: "r#1" in up.running_ids(), 20, "r#1 running")

    # 1. 503s: every poll fails after its retries; the run stays, health says why.
    fake.fail("/repos/o/r", 503, count=10**6)
    wait_for(lambda: "503" in _health(up), 20, "the 503 in /api/v1/state health")
    # The refresh of the running issue's state fails too; the run keeps going.
    wait_for(lambda: "503" in str(up.state()["health"]["reconcile_error"] or ""), 20,
             "the failed state refresh in health")
    ticks = up.state()["health"]["ticks"]
    wait_for(lambda: up.state()["health"]["ticks"] >= ticks + 3, 20, "polls during the outage")
    assert up.running_ids() == {"r#1"}

    # 2. Connection refused: the fake API is down altogether, then back on the same port.
    port = int(fake.url.rsplit(":", 1)[1])
    fake.servers["server"].__exit__(None, None, None)  # type: ignore[attr-defined]
    fake.recover()
    wait_for(lambda: "unreachable" in _health(up), 20, "the refused connection in health")
    assert up.running_ids() == {"r#1"}
    fake.servers["server"] = ServerThread(fake.app(), port=port).__enter__()  # type: ignore[attr-defined]

    # 3. Rate limited with Retry-After: honoured, then reported, never fatal.
    limited_from = len(fake.hit_log)
    fake.fail("/repos/o/r/issues", 429, count=10**6, headers={"Retry-After": "1"},
              body={"message": "API rate limit exceeded"})
    wait_for(lambda: "rate limit" in _health(up), 20, "the rate limit in health")
    fake.recover()
    assert up.running_ids() == {"r#1"}
    limited = [(t, what) for t, what, status in fake.hit_log[limited_from:] if status == 429]
    same = [b - a for (a, x), (b, y) in pairwise(limited) if x == y]
    assert same and min(same) >= 0.9, f"Retry-After not honoured: gaps {same}"

    # 4. Recovered: health clears, the held turn finishes, the run hands off with one PR.
    wait_for(lambda: up.state()["health"]["dispatch_error"] is None
             and up.state()["health"]["reconcile_error"] is None, 20, "health to clear")
    release.touch()
    wait_for(lambda: len(fake.gh_pulls) == 1, 30, "the pull request after recovery")
    assert labels(fake, 1) == ["Human Review"]
    assert_published(fake, origin, project, "tack/" + workspace_key("r#1").lower())
    runs = wait_for(lambda: (issue_detail(up, "r#1") or {}).get("runs"), 20, "the run")
    # One run; a poll may see the hand-off state before the turn returns and end it as
    # "canceled" (inactive) — either way the hand-off and the PR happened exactly once.
    assert len(runs) == 1 and runs[0]["status"] in ("succeeded", "canceled"), runs
    assert first_turns(stub) == 1  # one dispatch: nothing was dropped and redone
    assert up.stop() == 0
