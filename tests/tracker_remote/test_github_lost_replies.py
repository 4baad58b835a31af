"""GitHub writes whose reply is lost: a move (a PATCH that sets labels and state) is sent
again, and a comment is posted once whether the server made it before the connection dropped
or never saw it."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tack.tracker import build_tracker
from tack.tracker.github import GitHubTracker
from tests.tracker_remote.conftest import TOKEN, write_workflow
from tests.tracker_remote.fake_apis import FakeApis, ServerThread, gh_issue


class DroppingGitHub(FakeApis):
    """The fake GitHub; `drop[(method, path)]` is "after" (the server acts, then the reply
    stops after its headers) or "before" (the connection drops before the server acts), once."""

    def __init__(self, token: str) -> None:
        super().__init__(token)
        self.drop: dict[tuple[str, str], str] = {}

    def app(self) -> Any:
        inner = super().app()

        async def dropping(scope: Any, receive: Any, send: Any) -> None:
            when = self.drop.pop((scope.get("method"), scope.get("path")), None)
            if when is None:
                await inner(scope, receive, send)
                return
            sent: list[dict[str, Any]] = []

            async def keep(message: dict[str, Any]) -> None:
                sent.append(message)

            if when == "after":
                await inner(scope, receive, keep)
            while when == "before" and (await receive()).get("more_body"):
                pass
            await send({"type": "http.response.start", "status": 200,
                        "headers": [(b"content-length", b"1000")]})
            raise ConnectionResetError(f"injected: connection dropped {when} acting")

        return dropping


@pytest.fixture
def dropping(monkeypatch: pytest.MonkeyPatch) -> Iterator[DroppingGitHub]:
    monkeypatch.setenv("GH_TEST_TOKEN", TOKEN)
    apis = DroppingGitHub(TOKEN)
    apis.gh_issues[1] = gh_issue("o/r", 1, "Add the feature")
    with ServerThread(apis.app()) as server:
        apis.url = server.url
        yield apis


def tracker(tmp_path: Path, fake: FakeApis) -> GitHubTracker:
    cfg = write_workflow(tmp_path, f"""
tracker:
  kind: github
  api_key: $GH_TEST_TOKEN
  endpoint: {fake.url}
  provider:
    repo: o/r
    retry_base_ms: 20
""")
    built = build_tracker(cfg.tracker, tack_dir=tmp_path / ".tack")
    assert isinstance(built, GitHubTracker)
    return built


@pytest.mark.parametrize("when", ["before", "after"])
async def test_a_move_whose_reply_is_lost_is_sent_again(
    tmp_path: Path, dropping: DroppingGitHub, when: str
) -> None:
    dropping.drop[("PATCH", "/repos/o/r/issues/1")] = when
    gh = tracker(tmp_path, dropping)
    try:
        moved = await gh.move("1", "Human Review")
    finally:
        await gh.close()
    assert moved.state == "Human Review"
    assert [x["name"] for x in dropping.gh_issues[1]["labels"]] == ["Human Review"]
    # The API saw the dropped request only when it acted on it ("after").
    assert dropping.hits["PATCH /repos/o/r/issues/1"] == (2 if when == "after" else 1)


@pytest.mark.parametrize("when", ["before", "after"])
async def test_a_comment_whose_reply_is_lost_is_posted_exactly_once(
    tmp_path: Path, dropping: DroppingGitHub, when: str
) -> None:
    dropping.drop[("POST", "/repos/o/r/issues/1/comments")] = when
    gh = tracker(tmp_path, dropping)
    try:
        await gh.comment("1", "Added feature.py; ready for review.")
    finally:
        await gh.close()
    assert [c["body"] for c in dropping.gh_comments[1]] == ["Added feature.py; ready for review."]
