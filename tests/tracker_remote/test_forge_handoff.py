"""Handoff: a real push to a local bare repository, the PR opened (then updated, never
duplicated) on the fake GitHub, and review feedback read back into the state db."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from tack.forge import publish_handoff, sync_feedback
from tack.store import Store
from tack.store.feedback import FeedbackStore
from tack.tracker.base import Issue
from tests.conftest import git
from tests.tracker_remote.conftest import TOKEN, branch_with_remote, write_workflow
from tests.tracker_remote.fake_apis import (
    FakeApis,
    gh_comment,
    gh_reaction,
    gh_review,
    gh_review_comment,
)

ISSUE = Issue(id="12", identifier="widgets#12", title="Fix the login redirect", state="Todo",
              url="https://github.com/o/r/issues/12",
              native_ref={"repo": "o/r", "number": 12, "node_id": "I_12"})


@pytest.fixture
def workspace(git_repo: Path, tmp_path: Path) -> tuple[Path, Path]:
    remote = branch_with_remote(git_repo, tmp_path, "tack/widgets_12", "login.py",
                                "def redirect():\n    return '/home'\n", "Fix the login redirect")
    return git_repo, remote


async def test_publish_pushes_opens_then_updates_the_pr_and_feedback_lands_per_run(
    tmp_path: Path, fake: FakeApis, workspace: tuple[Path, Path],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    repo, remote = workspace
    monkeypatch.setenv("GITHUB_TOKEN", TOKEN)
    cfg = write_workflow(tmp_path, f"""
tracker:
  kind: github
  endpoint: {fake.url}
  provider: {{repo: o/r}}
""")
    store = Store(tmp_path / "state.db")
    summary = {"run_id": 7, "message": "Redirect to /home after login.",
               "checks": [{"name": "pytest", "status": "passed", "summary": "12 passed"}],
               "tokens": {"input": 1200, "output": 340, "total": 1540}, "turns": 3}

    first = await publish_handoff(cfg, repo, "tack/widgets_12", ISSUE, summary, db=store.db)
    head = git(repo, "rev-parse", "tack/widgets_12").strip()
    assert git(remote, "rev-parse", "refs/heads/tack/widgets_12").strip() == head
    assert first.created and first.number == 100 and first.commit == head
    [(_, path, sent)] = [r for r in fake.requests if r[0] == "POST"]
    assert path == "/repos/o/r/pulls"
    assert sent["head"] == "tack/widgets_12" and sent["base"] == "main"
    assert sent["title"] == "widgets#12: Fix the login redirect"
    body = sent["body"]
    assert "Closes #12" in body and "login.py | 2 ++" in body
    assert "Fix the login redirect" in body and "`pytest` passed — 12 passed" in body
    assert "| 1200 | 340 | 1540 | 3 | 7 |" in body

    (repo / "login.py").write_text("def redirect():\n    return '/dashboard'\n")
    git(repo, "commit", "-q", "-am", "Redirect to the dashboard instead")
    second = await publish_handoff(cfg, repo, "tack/widgets_12", ISSUE,
                                   {**summary, "run_id": 7}, db=store.db)
    assert not second.created and second.number == first.number
    assert len(fake.gh_pulls) == 1
    assert "Redirect to the dashboard instead" in fake.gh_pulls[100]["body"]
    assert git(remote, "rev-parse", "refs/heads/tack/widgets_12").strip() == second.commit

    fake.gh_reviews[100] = [
        gh_review("o/r", 100, 501, "ana", "CHANGES_REQUESTED", "Please add a test."),
        gh_review("o/r", 100, 502, "ben", "APPROVED", ""),
    ]
    fake.gh_review_comments[100] = [
        gh_review_comment("o/r", 100, 601, "ana", "Use the named route here.", "login.py", 2)]
    fake.gh_comments[100] = [gh_comment("o/r", 701, "carl", "Nice.")]
    fake.gh_reactions["issue:100"] = [gh_reaction(801, "dana", "+1")]
    fake.gh_reactions["rc:601"] = [gh_reaction(802, "ben", "-1")]
    fake.gh_reactions["comment:701"] = [gh_reaction(803, "ana", "heart")]

    report = await sync_feedback(cfg, store.db)
    assert report.pull_requests == 1 and report.new_items == 7
    rows = FeedbackStore(store.db).feedback(run_id=7)
    got = {(r.item.kind, r.item.author, r.item.state, r.item.sentiment) for r in rows}
    assert got == {
        ("review", "ana", "CHANGES_REQUESTED", -1), ("review", "ben", "APPROVED", 1),
        ("review_comment", "ana", None, 0), ("comment", "carl", None, 0),
        ("reaction", "dana", "+1", 1), ("reaction", "ben", "-1", -1),
        ("reaction", "ana", "heart", 0),
    }
    rc = next(r for r in rows if r.item.kind == "review_comment")
    assert (rc.item.path, rc.item.line, rc.pr.branch, rc.pr.issue_id) == (
        "login.py", 2, "tack/widgets_12", "12")

    fake.gh_pulls[100].update(state="closed", merged=True, merged_at="2024-05-02T00:00:00Z")
    again = await sync_feedback(cfg, store.db)
    assert again.new_items == 1 and again.states == {"o/r#100": "merged"}
    raw = sqlite3.connect(tmp_path / "state.db").execute(
        "SELECT kind, sentiment, run_id FROM review_feedback WHERE kind='outcome'").fetchall()
    assert raw == [("outcome", 1, 7)]
    assert (await sync_feedback(cfg, store.db)).pull_requests == 0  # merged PRs are done
    assert TOKEN not in git(repo, "config", "--list")  # the token never lands in git config


async def test_push_only_when_there_is_no_forge(tmp_path: Path, workspace: tuple[Path, Path]
                                                ) -> None:
    repo, remote = workspace
    cfg = write_workflow(tmp_path, "tracker: {kind: local}\npull_requests: {forge: none}\n")
    result = await publish_handoff(cfg, repo, "tack/widgets_12", ISSUE, {})
    assert result.published and result.number is None
    assert git(remote, "for-each-ref", "--format=%(refname:short)", "refs/heads").split() == ["main", "tack/widgets_12"]
    off = write_workflow(tmp_path, "tracker: {kind: local}\npull_requests: {publish: agent}\n")
    skipped = await publish_handoff(off, repo, "tack/widgets_12", ISSUE, {})
    assert not skipped.published and "agent" in (skipped.reason or "")
