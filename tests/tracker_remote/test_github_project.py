"""The `github` tracker with a Projects v2 board as its state source: states from the items'
single-select Status over GraphQL (paged), moves through `updateProjectV2ItemFieldValue`,
issues added to the board when missing, closed for a terminal state."""

from __future__ import annotations

from pathlib import Path

import pytest

from tack.errors import TrackerError
from tack.tracker import build_tracker
from tack.tracker.github import GitHubTracker
from tests.tracker_remote.conftest import TOKEN, write_workflow
from tests.tracker_remote.fake_apis import FakeApis, gh_issue
from tests.tracker_remote.fake_project import FakeBoard


def _tracker(tmp_path: Path, fake: FakeApis, project: str = "{owner: octo-org, number: 5}",
             ) -> GitHubTracker:
    cfg = write_workflow(tmp_path, f"""
tracker:
  kind: github
  endpoint: {fake.url}
  api_key: $GITHUB_TOKEN
  provider:
    repo: o/r
    project: {project}
    page_size: 2
    retry_base_ms: 10
""")
    tracker = build_tracker(cfg.tracker, tack_dir=tmp_path / ".tack")
    assert isinstance(tracker, GitHubTracker)
    return tracker


@pytest.fixture
def board(fake: FakeApis, monkeypatch: pytest.MonkeyPatch) -> FakeBoard:
    monkeypatch.setenv("GITHUB_TOKEN", TOKEN)
    fake.board = FakeBoard("octo-org", 5, "o/r")
    for n in range(1, 8):
        fake.gh_issues[n] = gh_issue("o/r", n, f"Task {n}", labels=["Todo"] if n == 5 else [],
                                     state="closed" if n == 6 else "open")
    fake.board.add(1, "Todo")
    fake.board.add(2, "In Progress")
    fake.board.add(3, "Human Review")
    fake.board.add(4, "Todo", repo="o/elsewhere")
    fake.board.add(0, "Todo", kind="DraftIssue")
    fake.board.add(9, "Todo", kind="PullRequest")
    fake.board.add(6, "Todo")  # closed on GitHub: closed wins over a stale Status
    fake.board.add(7, None)  # on the board without a Status
    return fake.board


async def test_states_come_from_the_board_status_across_pages(
    tmp_path: Path, fake: FakeApis, board: FakeBoard
) -> None:
    tracker = _tracker(tmp_path, fake)
    try:
        active = await tracker.fetch_issues_by_states(["todo", "In Progress"])
        assert {(i.identifier, i.state) for i in active} == {("r#1", "Todo"),
                                                            ("r#2", "In Progress")}
        pages = [r for r in fake.requests if r[1] == "/graphql"]
        assert len(pages) == 4  # 8 items, 2 per page
        [review] = await tracker.fetch_issues_by_states(["Human Review"])
        assert review.identifier == "r#3"
        by_id = await tracker.fetch_issues_by_ids(["3", "5", "6"])
        assert {i.id: i.state for i in by_id} == {"3": "Human Review", "5": "Todo", "6": "Done"}
    finally:
        await tracker.close()


async def test_move_updates_the_status_field_and_adds_missing_issues(
    tmp_path: Path, fake: FakeApis, board: FakeBoard
) -> None:
    tracker = _tracker(tmp_path, fake)
    try:
        moved = await tracker.move("r#1", "human review")
        assert moved.state == "Human Review" and board.status_of(1) == "Human Review"
        assert board.mutations[-1] == {"set": {"projectId": "PVT_board", "itemId": "PVTI_0",
                                               "fieldId": "PVTSSF_status", "optionId": "opt_2"}}
        assert not [r for r in fake.requests if r[0] == "PATCH"]  # labels untouched

        added = await tracker.move("5", "In Progress")  # not on the board yet
        assert added.state == "In Progress" and board.status_of(5) == "In Progress"
        assert board.mutations[-2] == {"add": {"projectId": "PVT_board", "contentId": "I_5"}}

        done = await tracker.move("2", "Done")
        assert done.state == "Done" and board.status_of(2) == "Done"
        [(_, path, sent)] = [r for r in fake.requests if r[0] == "PATCH"]
        assert path == "/repos/o/r/issues/2"
        assert sent == {"state": "closed", "state_reason": "completed"}

        with pytest.raises(TrackerError) as raised:
            await tracker.move("1", "Blocked")
        assert "Todo, In Progress, Human Review, Done" in raised.value.message
    finally:
        await tracker.close()


async def test_board_config_and_lookup_errors_say_what_to_fix(
    tmp_path: Path, fake: FakeApis, board: FakeBoard
) -> None:
    with pytest.raises(TrackerError) as bad:
        _tracker(tmp_path, fake, project="octo-org/5")
    assert bad.value.code == "invalid_tracker_config"
    assert "project: {owner: octo-org, number: 5}" in bad.value.message

    tracker = _tracker(tmp_path, fake, project="{owner: octo-org, number: 6}")
    try:
        with pytest.raises(TrackerError) as missing:
            await tracker.fetch_issues_by_states(["Todo"])
        assert "Could not resolve to a ProjectV2" in missing.value.message
    finally:
        await tracker.close()
