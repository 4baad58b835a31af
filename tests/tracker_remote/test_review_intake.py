"""Review feedback reaches the state db with nothing but `tack up` running: a real `tack up`
opens the PR (fake GitHub) or MR (fake GitLab) at hand-off, people review it there, and the
review intake brings it in on its schedule or on `POST /api/v1/refresh`; `tack learn` syncs
before it learns. Tack's own (marked) comments on the PR are never taken in."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tack.store.feedback import mark_own
from tack.testing import StubModelServer
from tests.conftest import git, run_tack
from tests.e2e.harness import Project, TackUp, wait_for
from tests.learning.conftest import lesson_reply
from tests.tracker_remote.conftest import TOKEN
from tests.tracker_remote.fake_apis import (
    FakeApis,
    ServerThread,
    gh_comment,
    gh_issue,
    gh_review,
    gh_review_comment,
)
from tests.tracker_remote.fake_gitlab import FakeGitLab, gl_award, gl_note

pytestmark = pytest.mark.slow

COMMIT = {"tool_calls": [{"name": "shell", "arguments": {
    "command": "echo 'def feature():\n    return 42' > feature.py && git add -A "
               "&& git commit -q -m 'Add the feature'"}}]}
HANDOFF = {"tool_calls": [{"name": "tracker", "arguments": {
    "action": "move", "state": "Human Review"}}]}
LESSON = lesson_reply("Cover new functions with a test", "Every new function gets a test.")


def start_stub(cleanup: list[Any]) -> StubModelServer:
    stub = StubModelServer({"conversations": [
        {"match": r"What went wrong in run", "steps": [{"text": LESSON}]},
        {"steps": [COMMIT, HANDOFF, {"text": "handed off"}]},
    ]})
    stub.start_in_thread()
    cleanup.append(stub)
    return stub


def with_origin(project: Project) -> None:
    origin = project.root / "origin.git"
    git(project.root, "init", "-q", "--bare", "-b", "main", str(origin))
    git(project.repo, "remote", "add", "origin", str(origin))
    git(project.repo, "push", "-q", "origin", "main")


def feedback(project: Project) -> set[tuple[str, str, str | None]]:
    """(kind, author, state or body) of every row in the state db's feedback table."""
    path = project.root / ".tack" / "state.db"
    if not path.exists():
        return set()
    db = sqlite3.connect(path)
    try:
        rows = db.execute("SELECT kind, author, COALESCE(state, body) FROM review_feedback")
        return set(rows.fetchall())
    except sqlite3.OperationalError:  # the table is created by the first sync
        return set()
    finally:
        db.close()


@pytest.fixture
def fake() -> Iterator[FakeApis]:
    apis = FakeApis(token=TOKEN)
    with ServerThread(apis.app()) as server:
        apis.url = server.url
        yield apis


def test_github_review_reaches_the_state_db_on_schedule_and_tack_learn_syncs_first(
        tmp_path: Path, fake: FakeApis, cleanup: list[Any]) -> None:
    fake.gh_issues[1] = gh_issue("o/r", 1, "Add the feature", body="Please add feature().")
    stub = start_stub(cleanup)
    project = Project(tmp_path, stub.url, {
        "tracker": {"kind": "github", "endpoint": fake.url, "api_key": "$GITHUB_TOKEN",
                    "provider": {"repo": "o/r", "retry_base_ms": 50, "max_attempts": 3}},
        "pull_requests": {"endpoint": fake.url, "repo": "o/r", "feedback_sync_ms": 200},
    })
    with_origin(project)
    up = TackUp(project, env={"GITHUB_TOKEN": TOKEN})
    cleanup.append(up)
    wait_for(lambda: 100 in fake.gh_pulls, 30, "the pull request on the fake GitHub")

    fake.gh_reviews[100] = [
        gh_review("o/r", 100, 501, "ana", "CHANGES_REQUESTED", "Please add a test.")]
    fake.gh_review_comments[100] = [
        gh_review_comment("o/r", 100, 601, "ana", "Name it compute_feature.", "feature.py", 1)]
    # Tack's own comment on its PR, under the same account people may use: never feedback.
    fake.gh_comments[100] = [gh_comment("o/r", 701, "tack-bot",
                                        mark_own("Published by Tack.", "handoff"))]
    expected = {("review", "ana", "CHANGES_REQUESTED"),
                ("review_comment", "ana", "Name it compute_feature.")}
    wait_for(lambda: feedback(project) == expected, 30, "the review in the feedback table")
    assert fake.hits["GET /repos/o/r/pulls/100/comments"] >= 1
    assert up.stop() == 0

    # With `tack up` stopped, `tack learn` reads what was said since before it learns.
    fake.gh_comments[100].append(gh_comment("o/r", 702, "carl", "Please also update the docs."))
    out = run_tack("learn", "--dry-run", "--json", "--workflow", str(project.workflow),
                   cwd=project.root, env={"GITHUB_TOKEN": TOKEN})
    assert out.returncode == 0, out.stderr
    result = json.loads(out.stdout)
    assert result["synced_review_feedback"] == 1
    assert result["feedback_used"] == 3 and result["added"] == ["L0001"]
    assert feedback(project) == expected | {("comment", "carl", "Please also update the docs.")}


def test_gitlab_note_and_thumbs_down_arrive_on_refresh(tmp_path: Path,
                                                       cleanup: list[Any]) -> None:
    gitlab = FakeGitLab("acme/widgets", TOKEN)
    server = ServerThread(gitlab.app()).__enter__()
    cleanup.append(server)
    gitlab.url = server.url
    stub = start_stub(cleanup)
    # An hour between scheduled syncs: only the refresh can bring the review in.
    project = Project(tmp_path, stub.url, {
        "pull_requests": {"forge": "gitlab", "repo": "acme/widgets", "endpoint": gitlab.url,
                          "api_key": "$GITLAB_TOKEN", "feedback_sync_ms": 3_600_000}})
    with_origin(project)
    ident = project.add_issue("Add the feature")
    up = TackUp(project, env={"GITLAB_TOKEN": TOKEN})
    cleanup.append(up)
    wait_for(lambda: 1 in gitlab.mrs, 30, "the merge request on the fake GitLab")
    wait_for(lambda: (up.detail(ident) or {}).get("runs"), 20, "the run in the API")

    gitlab.notes[1] = [gl_note(52, "ana", "Use the named route here.", diff=("feature.py", 1)),
                       gl_note(53, "tack-bot", mark_own("Tack's summary.", "agent"))]
    gitlab.awards[1] = [gl_award(62, "dana", "thumbsdown")]
    assert up.client.post("/api/v1/refresh").status_code == 202
    expected = {("review_comment", "ana", "Use the named route here."),
                ("reaction", "dana", "thumbsdown")}
    wait_for(lambda: feedback(project) == expected, 30, "the MR's review in the feedback table")
    rows = sqlite3.connect(project.root / ".tack" / "state.db").execute(
        "SELECT DISTINCT run_id, forge, pr_number FROM review_feedback").fetchall()
    assert rows == [(1, "gitlab", 1)]
    assert up.stop() == 0


async def test_a_pull_request_that_cannot_be_read_does_not_stop_the_others(
        tmp_path: Path, fake: FakeApis, monkeypatch: pytest.MonkeyPatch) -> None:
    from tack.forge import sync_feedback
    from tack.learning import give_feedback
    from tack.store import Store
    from tack.store.feedback import FeedbackStore, PullRequestRecord
    from tests.tracker_remote.conftest import write_workflow
    from tests.tracker_remote.fake_apis import gh_pull

    monkeypatch.setenv("GITHUB_TOKEN", TOKEN)
    cfg = write_workflow(tmp_path, f"tracker: {{kind: github, endpoint: {fake.url}, "
                                   "provider: {repo: o/r}}\n")
    store = Store(tmp_path / "state.db")
    run = store.start_run(issue_id="1", identifier="r#1", attempt=None)
    give_feedback(store.db, run, sentiment=-1, comment="Too slow.")  # Tack's own run record
    fake.gh_pulls[101] = gh_pull("o/r", 101, "tack/r_2", "main", "r#2: x", "")
    fake.gh_reviews[101] = [gh_review("o/r", 101, 511, "ana", "CHANGES_REQUESTED", "No.")]
    for number in (100, 101):  # #100 is gone from GitHub (404)
        FeedbackStore(store.db).record_pull_request(PullRequestRecord(
            forge="github", repo="o/r", number=number, url=None, run_id=run, issue_id="1",
            identifier="r#1", branch=f"tack/r_{number}"))

    report = await sync_feedback(cfg, store.db)
    assert report.pull_requests == 2 and report.new_items == 1
    assert report.states == {"o/r#101": "open"}
    [error] = report.errors
    assert error.startswith("o/r#100: GitHub refused to read the pull request") and "404" in error
    store.close()
