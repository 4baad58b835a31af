"""The GitHub tracker over real HTTP against a loopback server replaying GitHub's REST shapes
(every payload is parsed by githubkit's models, generated from GitHub's OpenAPI schema)."""

from __future__ import annotations

from pathlib import Path

import pytest

from tack.errors import TrackerError
from tack.tracker import Tracker, build_tracker
from tack.tracker.github import GitHubTracker
from tests.tracker_remote.conftest import TOKEN, write_workflow
from tests.tracker_remote.fake_apis import FakeApis, gh_issue

REPO = "octo-org/widgets"


def _tracker(tmp_path: Path, fake: FakeApis, extra: str = "") -> GitHubTracker:
    cfg = write_workflow(tmp_path, f"""
tracker:
  kind: github
  api_key: $GH_TEST_TOKEN
  endpoint: {fake.url}
  provider:
    repo: {REPO}
    retry_base_ms: 20
{extra}
""")
    tracker = build_tracker(cfg.tracker, tack_dir=tmp_path / ".tack")
    assert isinstance(tracker, GitHubTracker) and isinstance(tracker, Tracker)
    return tracker


@pytest.fixture(autouse=True)
def _token(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GH_TEST_TOKEN", TOKEN)


def _seed(fake: FakeApis, n: int) -> None:
    n = max(n, 6)
    for i in range(1, n + 1):
        labels = ["Bug "] if i % 3 == 0 else []
        if i % 10 == 0:
            labels.append("In Progress")
        if i % 7 == 0:
            labels.append("P2")
        fake.gh_issues[i] = gh_issue(REPO, i, f"Issue {i}", labels=labels,
                                     created=f"2024-01-01T00:{i // 60 % 60:02d}:{i % 60:02d}Z")
    fake.gh_issues[5]["body"] = "Needs the schema first.\n\nBlocked by #4 and #1300"
    fake.gh_issues[6]["body"] = "Tracking:\n- [x] #1300\n- [ ] #2\n"
    fake.gh_issues[1300] = gh_issue(REPO, 1300, "Old work", state="closed",
                                    state_reason="completed")
    fake.gh_issues[1301] = gh_issue(REPO, 1301, "A PR", pull_request=True)


async def test_pagination_over_1200_issues_normalises_states_labels_priority_blockers(
    tmp_path: Path, fake: FakeApis
) -> None:
    _seed(fake, 1200)
    tracker = _tracker(tmp_path, fake)
    try:
        todo = await tracker.fetch_issues_by_states(["Todo", "in progress"])
        assert len(todo) == 1200  # every open issue, the PR skipped, order kept across pages
        assert [i.id for i in todo] == [str(n) for n in range(1, 1201)]
        assert fake.hits[f"GET /repos/{REPO}/issues"] == 13  # 1200 issues + 1 PR
        by_id = {i.id: i for i in todo}
        assert by_id["10"].state == "In Progress" and by_id["11"].state == "Todo"
        assert by_id["3"].labels == ("bug",)
        assert by_id["14"].priority == 2 and by_id["13"].priority is None
        assert by_id["5"].identifier == "widgets#5"
        assert by_id["5"].url == f"https://github.com/{REPO}/issues/5"
        assert by_id["5"].native_ref == {"repo": REPO, "number": 5, "node_id": "I_5"}
        assert [(b.identifier, b.state) for b in by_id["5"].blocked_by] == [
            ("widgets#4", "Todo"), ("widgets#1300", "Done")]
        assert by_id["5"].dispatchable is False
        assert [b.identifier for b in by_id["6"].blocked_by] == ["widgets#1300", "widgets#2"]
        only_progress = await tracker.fetch_issues_by_states(["In Progress"])
        assert {i.id for i in only_progress} == {str(n) for n in range(10, 1201, 10)}
        done = await tracker.fetch_issues_by_states(["Done"])
        assert [i.id for i in done] == ["1300"]
        assert await tracker.fetch_issues_by_states([]) == []
        assert await tracker.fetch_issues_by_ids([]) == []
    finally:
        await tracker.close()


async def test_repeated_polls_are_conditional_requests_answered_304(
    tmp_path: Path, fake: FakeApis
) -> None:
    _seed(fake, 250)
    tracker = _tracker(tmp_path, fake)
    try:
        first = await tracker.fetch_issues_by_states(["Todo"])
        assert tracker.stats.not_modified == 0
        second = await tracker.fetch_issues_by_states(["Todo"])
        # three list pages plus the closed blocker #1300, all unchanged
        assert tracker.stats.not_modified == 4 and fake.status_counts[304] == 4
        assert [i.id for i in second] == [i.id for i in first]
        fake.gh_issues[2]["labels"] = [{"id": 1, "node_id": "L", "url": "", "name": "In Progress",
                                        "color": "ededed", "default": False, "description": None}]
        third = await tracker.fetch_issues_by_states(["In Progress"])
        assert [i.id for i in third] == ["2"] + [str(n) for n in range(10, 251, 10)]
    finally:
        await tracker.close()


async def test_rate_limit_with_retry_after_then_success(tmp_path: Path, fake: FakeApis) -> None:
    _seed(fake, 6)
    fake.fail(f"/repos/{REPO}/issues", 403, 1, headers={"Retry-After": "1",
                                                         "X-RateLimit-Remaining": "0"},
              body={"message": "You have exceeded a secondary rate limit."})
    fake.fail(f"/repos/{REPO}/issues", 429, 1, headers={"Retry-After": "0"})
    tracker = _tracker(tmp_path, fake)
    try:
        issues = await tracker.fetch_issues_by_states(["Todo"])
        assert len(issues) == 6
        assert tracker.stats.rate_limited == 2
        assert tracker.stats.waits_s[:2] == [1.0, 0.0]  # the server's Retry-After, honoured
        assert fake.hit_times[1] - fake.hit_times[0] >= 0.9
    finally:
        await tracker.close()


async def test_5xx_is_retried_with_backoff_and_an_outage_is_a_tracker_error(
    tmp_path: Path, fake: FakeApis
) -> None:
    _seed(fake, 6)
    fake.fail(f"/repos/{REPO}/issues", 502, 2)
    tracker = _tracker(tmp_path, fake, "    max_attempts: 3")
    try:
        assert len(await tracker.fetch_issues_by_states(["Todo"])) == 6
        assert tracker.stats.retries == 2
        fake.fail(f"/repos/{REPO}/issues", 503, 10)
        with pytest.raises(TrackerError) as err:
            await tracker.fetch_issues_by_states(["Todo"])
        assert err.value.code == "tracker_status"
        assert "503" in err.value.message and TOKEN not in err.value.message
    finally:
        await tracker.close()
    down = _tracker(tmp_path, fake, "    max_attempts: 2\n  endpoint: http://127.0.0.1:9")
    try:
        with pytest.raises(TrackerError) as err:
            await down.fetch_issues_by_states(["Todo"])
        assert err.value.code == "tracker_request"
    finally:
        await down.close()


async def test_move_comment_and_refresh_by_id(tmp_path: Path, fake: FakeApis) -> None:
    _seed(fake, 3)
    fake.gh_issues[2]["labels"] = [{"id": 1, "node_id": "L", "url": "", "name": "keep-me",
                                    "color": "ededed", "default": False, "description": None}]
    tracker = _tracker(tmp_path, fake)
    try:
        moved = await tracker.move("2", "In Progress")
        assert moved.state == "In Progress" and set(moved.labels) == {"keep-me", "in progress"}
        await tracker.comment("widgets#2", "Working on it")
        [fresh] = await tracker.fetch_issues_by_ids(["2", "widgets#2", "999"])
        assert [c.body for c in fresh.comments] == ["Working on it"]
        done = await tracker.move("2", "Done")
        assert done.state == "Done" and fake.gh_issues[2]["state"] == "closed"
        assert fake.gh_issues[2]["state_reason"] == "completed"
        assert "in progress" not in done.labels
    finally:
        await tracker.close()


def test_missing_token_names_the_key_and_the_fix(tmp_path: Path, fake: FakeApis,
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("GH_TEST_TOKEN")
    monkeypatch.delenv("GITHUB_TOKEN", raising=False)
    with pytest.raises(TrackerError) as err:
        _tracker(tmp_path, fake)
    assert err.value.code == "missing_tracker_secret"
    assert "tracker.api_key: $GITHUB_TOKEN" in err.value.message
    assert "export GITHUB_TOKEN" in err.value.message


def test_bad_repo_and_unknown_provider_key_are_config_errors(tmp_path: Path) -> None:
    cfg = write_workflow(tmp_path, "tracker:\n  kind: github\n  api_key: x\n  provider:\n"
                                   "    repo: widgets\n")
    with pytest.raises(TrackerError, match="owner/name"):
        build_tracker(cfg.tracker, tack_dir=tmp_path)
    cfg = write_workflow(tmp_path, "tracker:\n  kind: github\n  api_key: x\n  provider:\n"
                                   "    repo: a/b\n    repository: a/b\n")
    with pytest.raises(TrackerError, match="tracker.provider.repository"):
        build_tracker(cfg.tracker, tack_dir=tmp_path)
