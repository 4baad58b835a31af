"""A hand-off whose publish fails is retried from the state db: the fake GitHub answers 503 on
its pull-request endpoint beyond the transport's own retries, the orchestrator (in-process, on
its own thread, with the built-in agent against the stub model) queues the next attempt in the
store, and a later attempt, or a fresh orchestrator after a restart, opens the PR."""

from __future__ import annotations

import asyncio
import sqlite3
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from tack.errors import TackError
from tack.orchestrator import Orchestrator
from tack.orchestrator.handoff import retry_delay_ms
from tack.store import Store
from tack.testing import StubModelServer
from tack.workflow import WorkflowWatcher
from tests.conftest import git
from tests.e2e.harness import wait_for
from tests.tracker_remote.conftest import TOKEN, write_workflow
from tests.tracker_remote.fake_apis import FakeApis, gh_issue
from tests.tracker_remote.test_up_hosted import COMMIT, DONE, FAST_RETRIES, HANDOFF

IDENT = "r#1"


def outage(fake: FakeApis) -> None:
    """503 on the pull-request endpoint for longer than the transport's own retries; with
    `Retry-After: 0` those retries do not wait, so each publish attempt fails at once."""
    fake.fail("/repos/o/r/pulls", 503, 1_000_000, headers={"Retry-After": "0"})


class Rig:
    """A repository with a bare `origin`, a WORKFLOW.md on the fake GitHub, and the stub model
    scripted to commit and hand off."""

    def __init__(self, root: Path, fake: FakeApis, pull_requests: dict[str, Any]) -> None:
        self.root, self.fake = root, fake
        repo = root / "repo"
        repo.mkdir()
        git(repo, "init", "-q", "-b", "main")
        (repo / "app.py").write_text("VALUE = 1\n")
        git(repo, "add", "-A")
        git(repo, "commit", "-q", "-m", "initial")
        self.origin = root / "origin.git"
        git(root, "init", "-q", "--bare", "-b", "main", str(self.origin))
        git(repo, "remote", "add", "origin", str(self.origin))
        git(repo, "push", "-q", "origin", "main")
        self.stub = StubModelServer({"conversations": [{"steps": [COMMIT, HANDOFF, DONE]}]})
        self.stub.start_in_thread()
        config = {
            "tracker": {"kind": "github", "endpoint": fake.url, "api_key": "$GITHUB_TOKEN",
                        "provider": {"repo": "o/r", **FAST_RETRIES}},
            "pull_requests": {"endpoint": fake.url, "repo": "o/r", **pull_requests},
            "polling": {"interval_ms": 200},
            "workspace": {"root": "./ws", "repo": "./repo"},
            "agent": {"backend": "builtin", "max_turns": 4},
            "builtin": {"base_url": self.stub.url, "model": "stub", "api": "chat"},
        }
        self.workflow = root / "WORKFLOW.md"
        self.workflow.write_text(f"---\n{yaml.safe_dump(config)}---\nWork on "
                                 "{{ issue.identifier }}: {{ issue.title }}\n")
        self.db_path = WorkflowWatcher(self.workflow).current.store_path()
        fake.gh_issues[1] = gh_issue("o/r", 1, "Add the feature", body="Please add feature().")

    def timeline(self) -> list[str]:
        with sqlite3.connect(self.db_path) as db:
            return [r[0] for r in db.execute(
                "SELECT message FROM events WHERE identifier = ? ORDER BY id", (IDENT,))]

    def queue(self) -> list[tuple[int, str, int, str]]:
        with sqlite3.connect(self.db_path) as db:
            return db.execute(
                "SELECT run_id, identifier, attempt, error FROM publish_queue").fetchall()

    def said(self, text: str) -> list[str]:
        return [m for m in self.timeline() if text in m]


class Running:
    """An Orchestrator with its own Store, running on its own event loop in a thread, so the
    test can poll with `wait_for` and stop it like a shutdown."""

    def __init__(self, workflow: Path) -> None:
        self.workflow = workflow
        self.ready = threading.Event()
        self.error: BaseException | None = None
        self.thread = threading.Thread(target=self._main, daemon=True)
        self.thread.start()
        assert self.ready.wait(30), "the orchestrator did not start"

    def _main(self) -> None:
        try:
            asyncio.run(self._run())
        except BaseException as exc:  # noqa: BLE001 - re-raised by stop()
            self.error = exc
            self.ready.set()

    async def _run(self) -> None:
        store = Store(WorkflowWatcher(self.workflow).current.store_path())
        try:
            self.orch = Orchestrator(WorkflowWatcher(self.workflow), store)
            self.loop = asyncio.get_running_loop()
            self.ready.set()
            await self.orch.run()
        finally:
            store.close()

    def snapshot(self) -> dict[str, Any]:
        async def take() -> dict[str, Any]:
            return self.orch.snapshot()

        return asyncio.run_coroutine_threadsafe(take(), self.loop).result(30)

    def stop(self) -> None:
        if self.thread.is_alive():
            self.loop.call_soon_threadsafe(self.orch.stop)
            self.thread.join(60)
        assert not self.thread.is_alive(), "the orchestrator did not stop"
        if self.error is not None:
            raise self.error


@pytest.fixture
def rigs(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[Any]]:
    monkeypatch.setenv("GITHUB_TOKEN", TOKEN)
    started: list[Any] = []
    yield started
    for item in reversed(started):
        if isinstance(item, Running):
            item.stop()
        else:
            item.stub.stop_thread()


def start(rigs: list[Any], rig: Rig) -> Running:
    running = Running(rig.workflow)
    rigs.append(running)
    return running


def test_a_publish_that_fails_is_retried_until_the_pr_opens(
        tmp_path: Path, fake: FakeApis, rigs: list[Any]) -> None:
    outage(fake)
    rig = Rig(tmp_path, fake, {"retry_attempts": 10, "retry_backoff_ms": 200})
    rigs.append(rig)
    up = start(rigs, rig)

    wait_for(lambda: rig.said("publish failed (attempt 1 of 10): GitHub refused to list pull "
                              "requests in o/r (503"), 60, "the first publish to fail")
    assert rig.said("; retrying in 0.2 s")
    pending = wait_for(lambda: up.snapshot()["pending_publishes"], 30, "a pending publish")
    assert pending[0]["identifier"] == IDENT and pending[0]["attempt"] >= 2
    assert "503" in pending[0]["error"] and pending[0]["due_at"]
    assert not fake.gh_pulls and TOKEN not in "".join(rig.timeline())

    fake.recover()
    wait_for(lambda: fake.gh_pulls, 60, "the pull request once GitHub is back")
    wait_for(lambda: not rig.queue(), 30, "the queue row to go")
    [pr] = fake.gh_pulls.values()
    assert pr["head"]["ref"].startswith("tack/") and "Closes #1" in pr["body"]
    assert "feature.py" in pr["body"]  # the retry rebuilt the run's change from the store
    wait_for(lambda: rig.said("published "), 30, "the success on the timeline")
    assert not rig.said("giving up")
    assert up.snapshot()["pending_publishes"] == []


def test_every_attempt_failing_gives_up_and_empties_the_queue(
        tmp_path: Path, fake: FakeApis, rigs: list[Any]) -> None:
    outage(fake)
    rig = Rig(tmp_path, fake, {"retry_attempts": 3, "retry_backoff_ms": 200})
    rigs.append(rig)
    start(rigs, rig)

    wait_for(lambda: rig.said("publish failed (attempt 3 of 3), giving up: GitHub refused"),
             60, "the give-up message")
    assert len(rig.said("publish failed (attempt 1 of 3)")) == 1
    assert rig.said("publish failed (attempt 2 of 3)")[0].endswith("retrying in 0.4 s")
    assert rig.queue() == [] and not fake.gh_pulls
    assert not rig.said("published ")


def test_a_retry_pending_at_shutdown_fires_after_a_restart(
        tmp_path: Path, fake: FakeApis, rigs: list[Any]) -> None:
    outage(fake)
    rig = Rig(tmp_path, fake, {"retry_attempts": 8, "retry_backoff_ms": 500})
    rigs.append(rig)
    first = start(rigs, rig)
    wait_for(rig.queue, 60, "a queued publish retry")
    first.stop()

    [(run_id, ident, attempt, error)] = rig.queue()  # durable: still there after shutdown
    assert ident == IDENT and attempt >= 2 and "503" in error and not fake.gh_pulls

    fake.recover()
    start(rigs, rig)  # a fresh Orchestrator and Store on the same state db
    wait_for(lambda: fake.gh_pulls, 60, "the pull request from the restarted orchestrator")
    wait_for(lambda: not rig.queue(), 30, "the queue row to go")
    wait_for(lambda: rig.said("published "), 30, "the success on the timeline")
    with sqlite3.connect(rig.db_path) as db:
        [(recorded,)] = db.execute("SELECT run_id FROM pull_requests").fetchall()
    assert recorded == run_id  # the PR is tied to the run that handed off


def test_retry_settings_are_validated_and_the_wait_doubles_to_a_cap(tmp_path: Path) -> None:
    cfg = write_workflow(tmp_path, "tracker: {kind: local}\n")
    assert (cfg.pull_requests.retry_attempts, cfg.pull_requests.retry_backoff_ms) == (6, 30000)
    with pytest.raises(TackError) as bad:
        write_workflow(tmp_path, "tracker: {kind: local}\npull_requests: {retry_attempts: 0}\n")
    assert "retry_attempts" in bad.value.message and "WORKFLOW.md" in bad.value.message
    assert [retry_delay_ms(30000, n) for n in (1, 2, 3, 5, 6, 40)] == [
        30000, 60000, 120000, 480000, 600000, 600000]
