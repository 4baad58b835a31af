"""Stress: many issues hand off at once against a GitHub that answers 429 + Retry-After, cuts
connections at random (seeded) and lists issues from a replica that lags two seconds, and
still every issue gets exactly one agent session (counted at the stub model), one run and one
agent comment (counted at the fake GitHub).

The orchestrator runs in-process on its own thread with the built-in agent on the stub model;
three agents run at a time, so hand-offs overlap with each other's polls and state refreshes.
"""

from __future__ import annotations

import copy
import json
import random
import re
import sqlite3
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from starlette.requests import Request
from starlette.responses import Response

from tack.testing import StubModelServer
from tests.conftest import git
from tests.e2e.harness import wait_for
from tests.tracker_remote.conftest import TOKEN
from tests.tracker_remote.fake_apis import FakeApis, ServerThread, gh_issue
from tests.tracker_remote.test_publish_retry import Running
from tests.tracker_remote.test_up_hosted import COMMENT, DONE, HANDOFF

pytestmark = pytest.mark.slow

ISSUES = 24
HANDOFF_LABEL = "Human Review"


class FlakyGitHub(FakeApis):
    """The fake GitHub, rate limited and unreliable around hand-offs: while any issue is
    being handed off (from its agent's comment until its move), each request may be answered
    429 with Retry-After or have its reply cut after the server acted on it, and listings
    lag behind. The faults come from a seeded generator, so a run's fault sequence is known."""

    def __init__(self, token: str, seed: int, list_lag_s: float) -> None:
        super().__init__(token)
        self.rng = random.Random(seed)
        self.in_handoff: set[int] = set()
        self.faults_injected: Counter[str] = Counter()
        # Listing is served from a replica `list_lag_s` behind: the issues as they were then
        # (reading one issue by number is current, as on GitHub).
        self.list_lag_s = list_lag_s
        self.history: list[tuple[float, dict[int, dict[str, Any]]]] = []

    def _remember(self) -> None:
        with self.lock:
            self.history.append((time.monotonic(), copy.deepcopy(self.gh_issues)))

    async def gh_list_issues(self, request: Request) -> Response:
        cutoff = time.monotonic() - self.list_lag_s
        with self.lock:
            seen = [issues for at, issues in self.history if at <= cutoff]
        current, self.gh_issues = self.gh_issues, seen[-1] if seen else self.gh_issues
        try:  # the base handler does not await: no other request sees the swap
            return await super().gh_list_issues(request)
        finally:
            self.gh_issues = current

    def _fault(self) -> str | None:
        with self.lock:
            if not self.in_handoff:
                return None
            roll = self.rng.random()
            kind = "429" if roll < 0.15 else "cut" if roll < 0.25 else None
            if kind:
                self.faults_injected[kind] += 1
            return kind

    def app(self) -> Any:
        inner = super().app()
        number = re.compile(r"^/repos/o/r/issues/(\d+)")

        async def flaky(scope: Any, receive: Any, send: Any) -> None:
            if scope["type"] != "http" or not scope["path"].startswith("/repos/o/r/issues"):
                await inner(scope, receive, send)
                return
            match = number.match(scope["path"])
            n = int(match.group(1)) if match else 0
            if scope["method"] == "POST" and scope["path"].endswith("/comments"):
                with self.lock:
                    self.in_handoff.add(n)
            fault = self._fault()
            if fault == "429":
                # Like a rate limiter in front of the API, answered before the request body is
                # read: the server then drops the connection under the client's next request,
                # which is lost whatever it was (a move, a comment).
                body = json.dumps({"message": "API rate limit exceeded"}).encode()
                await send({"type": "http.response.start", "status": 429, "headers": [
                    (b"retry-after", b"1"), (b"content-type", b"application/json"),
                    (b"content-length", str(len(body)).encode())]})
                await send({"type": "http.response.body", "body": body})
                return
            sent: list[dict[str, Any]] = []

            async def keep(message: dict[str, Any]) -> None:
                sent.append(message)

            await inner(scope, receive, keep)
            if scope["method"] == "PATCH" and n:
                self._remember()
                with self.lock:
                    self.in_handoff.discard(n)
            if fault == "cut":
                # The server acted; the reply stops after its headers, as when a proxy or the
                # network drops the connection.
                await send(sent[0])
                raise ConnectionResetError("injected: connection cut mid-reply")
            for message in sent:
                await send(message)

        return flaky


@pytest.fixture
def flaky(monkeypatch: pytest.MonkeyPatch) -> Iterator[FlakyGitHub]:
    monkeypatch.setenv("GITHUB_TOKEN", TOKEN)
    apis = FlakyGitHub(TOKEN, seed=23, list_lag_s=2.0)
    with ServerThread(apis.app()) as server:
        apis.url = server.url
        yield apis


def sessions_per_issue(stub: StubModelServer) -> Counter[int]:
    """Agent sessions the model saw start, per issue number (step 0 = a new conversation)."""
    out: Counter[int] = Counter()
    for request in stub.requests:
        if request.step != 0:
            continue
        first = next(m for m in request.body["messages"] if m["role"] == "user")
        found = re.search(r"Work on r#(\d+):", str(first["content"]))
        assert found, first
        out[int(found.group(1))] += 1
    return out


def test_many_hand_offs_under_rate_limits_and_cut_replies_dispatch_each_issue_once(
    tmp_path: Path, flaky: FlakyGitHub, cleanup: list[Any]
) -> None:
    repo = tmp_path / "repo"
    repo.mkdir()
    git(repo, "init", "-q", "-b", "main")
    (repo / "app.py").write_text("VALUE = 1\n")
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", "initial")
    for n in range(1, ISSUES + 1):
        flaky.gh_issues[n] = gh_issue("o/r", n, f"Task {n}")
    flaky._remember()
    stub = StubModelServer({"conversations": [{"steps": [COMMENT, HANDOFF, DONE]}]})
    stub.start_in_thread()
    cleanup.append(stub)
    config = {
        "tracker": {"kind": "github", "endpoint": flaky.url, "api_key": "$GITHUB_TOKEN",
                    "provider": {"repo": "o/r", "retry_base_ms": 50, "max_attempts": 8}},
        "pull_requests": {"publish": "off"},
        "polling": {"interval_ms": 100},
        "workspace": {"root": "./ws", "repo": "./repo"},
        "agent": {"backend": "builtin", "max_turns": 3, "max_concurrent_agents": 3},
        "builtin": {"base_url": stub.url, "model": "stub", "api": "chat"},
    }
    workflow = tmp_path / "WORKFLOW.md"
    workflow.write_text(f"---\n{yaml.safe_dump(config)}---\nWork on "
                        "{{ issue.identifier }}: {{ issue.title }}\n")
    running = Running(workflow)
    try:
        def settled() -> bool:
            moved = all(HANDOFF_LABEL in [x["name"] for x in i["labels"]]
                        for i in flaky.gh_issues.values())
            snap = running.snapshot()
            return moved and not snap["running"] and not snap["retrying"]

        wait_for(settled, 150, "every issue handed off and the orchestrator idle")
        # Idle for longer than the listing lags (30 polls of 100 ms): a stale listing read now
        # would start a second session here.
        ticks = running.orch.tick_count
        wait_for(lambda: running.orch.tick_count >= ticks + 30, 60, "30 more polls")
        assert settled()
        db_path = running.orch.store.path
    finally:
        running.stop()

    sessions = sessions_per_issue(stub)
    comments = {n: len(flaky.gh_comments.get(n, [])) for n in flaky.gh_issues}
    with sqlite3.connect(db_path) as db:
        runs = Counter(int(ident.split("#")[1]) for (ident,) in
                       db.execute("SELECT identifier FROM runs"))
    assert flaky.faults_injected["429"] and flaky.faults_injected["cut"], flaky.faults_injected
    assert {n: c for n, c in sessions.items() if c != 1} == {}, sessions
    assert set(sessions) == set(range(1, ISSUES + 1))
    assert {n: c for n, c in comments.items() if c != 1} == {}, comments
    assert {n: c for n, c in runs.items() if c != 1} == {}, runs
