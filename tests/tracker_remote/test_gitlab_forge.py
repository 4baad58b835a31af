"""GitLab merge requests: a real push to a local bare repository, the MR opened then updated
(never duplicated) on a loopback GitLab REST v4, notes and award emoji read back into the
state db, rate limits retried and refused tokens explained."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tack.forge import publish_handoff, sync_feedback
from tack.forge.git import PublishError
from tack.forge.gitlab import GitLabForge
from tack.store import Store
from tack.store.feedback import FeedbackStore
from tack.tracker.base import Issue
from tack.tracker.http import RetryPolicy
from tack.workflow.config import ServiceConfig
from tests.conftest import git
from tests.tracker_remote.conftest import TOKEN, branch_with_remote, write_workflow
from tests.tracker_remote.fake_apis import ServerThread
from tests.tracker_remote.fake_gitlab import FakeGitLab, gl_award, gl_note

PROJECT = "acme/widgets"
BRANCH = "tack/widgets_12"
ISSUE = Issue(id="12", identifier="widgets#12", title="Fix the login redirect", state="Todo",
              url=f"https://gitlab.example/{PROJECT}/-/issues/12",
              native_ref={"project": PROJECT, "iid": 12})
FAST = RetryPolicy(max_attempts=3, base_s=0.01)


@pytest.fixture
def gitlab() -> Iterator[FakeGitLab]:
    fake = FakeGitLab(PROJECT, TOKEN)
    with ServerThread(fake.app()) as server:
        fake.url = server.url
        yield fake


@pytest.fixture
def workspace(git_repo: Path, tmp_path: Path) -> tuple[Path, Path]:
    remote = branch_with_remote(git_repo, tmp_path, BRANCH, "login.py",
                                "def redirect():\n    return '/home'\n", "Fix the login redirect")
    return git_repo, remote


def _gitlab_workflow(tmp_path: Path, gitlab: FakeGitLab) -> ServiceConfig:
    """GitLab as tracker and forge, its token read from $GITLAB_TOKEN."""
    return write_workflow(tmp_path, f"""
tracker:
  kind: gitlab
  api_key: $GITLAB_TOKEN
  endpoint: {gitlab.url}
  provider: {{project: {PROJECT}}}
""")


async def test_handoff_pushes_opens_then_updates_the_merge_request_and_reads_feedback(
    tmp_path: Path, gitlab: FakeGitLab, workspace: tuple[Path, Path],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    repo, remote = workspace
    monkeypatch.setenv("GITLAB_TOKEN", TOKEN)
    cfg = _gitlab_workflow(tmp_path, gitlab)
    store = Store(tmp_path / "state.db")
    summary = {"run_id": 3, "message": "Redirect to /home.", "turns": 2,
               "tokens": {"input": 900, "output": 100, "total": 1000}}

    first = await publish_handoff(cfg, repo, BRANCH, ISSUE, summary, db=store.db)
    head = git(repo, "rev-parse", BRANCH).strip()
    assert git(remote, "rev-parse", f"refs/heads/{BRANCH}").strip() == head
    assert (first.forge, first.repo, first.number, first.created) == ("gitlab", PROJECT, 1, True)
    assert first.url == f"https://gitlab.example/{PROJECT}/-/merge_requests/1"
    [(_, path, sent)] = [r for r in gitlab.requests if r[0] == "POST"]
    assert path == "/api/v4/projects/acme%2Fwidgets/merge_requests"
    assert (sent["source_branch"], sent["target_branch"]) == (BRANCH, "main")
    assert sent["title"] == "widgets#12: Fix the login redirect"
    assert "Closes #12" in sent["description"] and "login.py" in sent["description"]
    assert sent["remove_source_branch"] is True

    (repo / "login.py").write_text("def redirect():\n    return '/dashboard'\n")
    git(repo, "commit", "-q", "-am", "Redirect to the dashboard instead")
    second = await publish_handoff(cfg, repo, BRANCH, ISSUE, summary, db=store.db)
    assert (second.number, second.created) == (1, False) and len(gitlab.mrs) == 1
    assert [m for m, p, _ in gitlab.requests if m == "PUT"] == ["PUT"]
    assert "Redirect to the dashboard instead" in gitlab.mrs[1]["description"]

    gitlab.notes[1] = [
        gl_note(51, "tack-bot", "added 1 commit", system=True),
        gl_note(52, "ana", "Use the named route here.", diff=("login.py", 2)),
        gl_note(53, "carl", "Looks good overall."),
    ]
    gitlab.awards[1] = [gl_award(61, "ben", "thumbsup"), gl_award(62, "dana", "thumbsdown"),
                        gl_award(63, "eve", "tada")]
    report = await sync_feedback(cfg, store.db)
    assert report.pull_requests == 1 and report.new_items == 5
    assert report.states == {f"{PROJECT}#1": "open"}
    rows = FeedbackStore(store.db).feedback(run_id=3)
    got = {(r.item.kind, r.item.author, r.item.state, r.item.sentiment) for r in rows}
    assert got == {("review_comment", "ana", None, 0), ("comment", "carl", None, 0),
                   ("reaction", "ben", "thumbsup", 1), ("reaction", "dana", "thumbsdown", -1),
                   ("reaction", "eve", "tada", 0)}
    diff_note = next(r for r in rows if r.item.kind == "review_comment")
    assert (diff_note.item.path, diff_note.item.line, diff_note.pr.branch) == ("login.py", 2, BRANCH)

    gitlab.mrs[1].update(state="merged", merged_at="2024-05-03T09:00:00.000Z")
    again = await sync_feedback(cfg, store.db)
    assert again.new_items == 1 and again.states == {f"{PROJECT}#1": "merged"}
    outcome = [r.item for r in FeedbackStore(store.db).feedback(run_id=3) if r.item.kind == "outcome"]
    assert [(o.state, o.sentiment) for o in outcome] == [("merged", 1)]
    assert (await sync_feedback(cfg, store.db)).pull_requests == 0  # merged MRs are done
    assert TOKEN not in git(repo, "config", "--list")


async def test_feedback_pages_through_long_threads_and_reads_awards_on_notes(
    tmp_path: Path, gitlab: FakeGitLab, workspace: tuple[Path, Path],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    repo, _ = workspace
    monkeypatch.setenv("GITLAB_TOKEN", TOKEN)
    cfg = _gitlab_workflow(tmp_path, gitlab)
    store = Store(tmp_path / "state.db")
    await publish_handoff(cfg, repo, BRANCH, ISSUE, {"run_id": 4}, db=store.db)
    # 130 notes and 120 award emoji: two pages each at GitLab's largest page size.
    gitlab.notes[1] = [gl_note(1000 + n, f"user{n}", f"note {n}") for n in range(130)]
    gitlab.note_awards[1129] = [gl_award(71, "ana", "thumbsdown", note=1129),
                                gl_award(72, "ben", "thumbsup", note=1129)]
    gitlab.awards[1] = [gl_award(100 + n, f"fan{n}", "thumbsup") for n in range(120)]
    gitlab.deleted_notes = {1005}  # deleted between the list and its award emoji: no error
    report = await sync_feedback(cfg, store.db)
    assert report.new_items == 130 + 2 + 120
    rows = [r.item for r in FeedbackStore(store.db).feedback(run_id=4)]
    assert sum(i.kind == "comment" for i in rows) == 130
    on_note = {(i.author, i.sentiment) for i in rows if i.target_id == "note:1129"}
    assert on_note == {("ana", -1), ("ben", 1)}
    assert sum(i.target_id == "merge_request:1" for i in rows) == 120
    pages = [p for m, p, _ in gitlab.requests if m == "GET" and p.endswith("/notes")]
    assert len(pages) == 2  # the second page followed from the Link header


async def test_draft_merge_request_and_an_explicit_base(gitlab: FakeGitLab) -> None:
    forge = GitLabForge(PROJECT, TOKEN, gitlab.url, policy=FAST)
    try:
        opened = await forge.open_or_update(branch="tack/x", base="release", title="X: y",
                                            body="body", draft=True)
    finally:
        await forge.close()
    assert opened.created and opened.number == 1
    mr = gitlab.mrs[1]
    assert (mr["title"], mr["draft"], mr["target_branch"]) == ("Draft: X: y", True, "release")


async def test_rate_limit_is_retried_and_a_refused_token_is_explained(gitlab: FakeGitLab) -> None:
    gitlab.rate_limited = 2
    forge = GitLabForge(PROJECT, TOKEN, gitlab.url, policy=FAST)
    try:
        assert await forge.default_branch() == "main"
        assert forge.stats.rate_limited == 2 and forge.stats.retries == 2
    finally:
        await forge.close()

    wrong = GitLabForge(PROJECT, "not-the-token", gitlab.url, policy=FAST)
    try:
        with pytest.raises(PublishError) as raised:
            await wrong.open_or_update(branch="b", base="main", title="t", body="", draft=False)
    finally:
        await wrong.close()
    message = str(raised.value)
    assert "401" in message and "GITLAB_TOKEN" in message and "`api` scope" in message
    assert "not-the-token" not in message and not gitlab.mrs
