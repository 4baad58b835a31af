"""A hand-off whose publish fails is retried from the state db: the fake GitHub answers 503 on
its pull-request endpoint beyond the transport's own retries, the orchestrator (in-process, on
its own thread, with the built-in agent against the stub model) queues the next attempt in the
store, and a later attempt, or a fresh orchestrator after a restart, opens the PR."""

from __future__ import annotations

import asyncio
import sqlite3
import threading
import time
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any, TypeVar

import pytest
import yaml

from tack.errors import TackError
from tack.orchestrator import Orchestrator
from tack.orchestrator.handoff import retry_delay_ms
from tack.orchestrator.state import RunningEntry
from tack.store import Store
from tack.testing import StubModelServer
from tack.workflow import WorkflowWatcher
from tests.conftest import git
from tests.e2e.harness import wait_for
from tests.tracker_remote.conftest import TOKEN, write_workflow
from tests.tracker_remote.fake_apis import FakeApis, ServerThread, gh_issue
from tests.tracker_remote.test_up_hosted import COMMIT, DONE, FAST_RETRIES, HANDOFF

IDENT = "r#1"
T = TypeVar("T")


def outage(fake: FakeApis) -> None:
    """503 on the pull-request endpoint for longer than the transport's own retries; with
    `Retry-After: 0` those retries do not wait, so each publish attempt fails at once."""
    fake.fail("/repos/o/r/pulls", 503, 1_000_000, headers={"Retry-After": "0"})


class GatedApis(FakeApis):
    """The fake GitHub with a gate: while `hold(prefix)` is on, requests under that path wait
    (at most 60 s) until `release()`, like an API that hangs."""

    def __init__(self, token: str) -> None:
        super().__init__(token)
        self.held: str | None = None
        self.opened = threading.Event()
        self.waiting = 0  # requests that reached the gate

    def hold(self, path_prefix: str) -> None:
        with self.lock:
            self.opened.clear()
            self.held = path_prefix

    def release(self) -> None:
        with self.lock:
            self.held = None
        self.opened.set()

    def app(self) -> Any:
        inner = super().app()

        async def gated(scope: Any, receive: Any, send: Any) -> None:
            held = self.held
            if scope["type"] == "http" and held and scope["path"].startswith(held):
                with self.lock:
                    self.waiting += 1
                await asyncio.to_thread(self.opened.wait, 60)
            await inner(scope, receive, send)

        return gated


@pytest.fixture
def gated() -> Iterator[GatedApis]:
    apis = GatedApis(TOKEN)
    with ServerThread(apis.app()) as server:
        apis.url = server.url
        try:
            yield apis
        finally:
            apis.release()


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

    def run_events(self, run_id: int) -> list[str]:
        with sqlite3.connect(self.db_path) as db:
            return [r[0] for r in db.execute(
                "SELECT message FROM events WHERE run_id = ? ORDER BY id", (run_id,))]

    def due_at(self, run_id: int) -> float:
        with sqlite3.connect(self.db_path) as db:
            [(due,)] = db.execute("SELECT due_at FROM publish_queue WHERE run_id = ?",
                                  (run_id,)).fetchall()
        return float(due)


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

        return self.call(take)

    def call(self, fn: Callable[[], Awaitable[T]]) -> T:
        """Run `fn()` on the orchestrator's event loop and return its result."""
        async def run() -> T:
            return await fn()

        return asyncio.run_coroutine_threadsafe(run(), self.loop).result(30)

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


def in_outage(tmp_path: Path, fake: FakeApis, rigs: list[Any], attempts: int,
              backoff_ms: int) -> tuple[Rig, Running]:
    """GitHub answers 503 to everything, and an orchestrator hands off one issue."""
    outage(fake)
    rig = Rig(tmp_path, fake, {"retry_attempts": attempts, "retry_backoff_ms": backoff_ms})
    rigs.append(rig)
    return rig, start(rigs, rig)


def start(rigs: list[Any], rig: Rig) -> Running:
    running = Running(rig.workflow)
    rigs.append(running)
    return running


def test_a_publish_that_fails_is_retried_until_the_pr_opens(
        tmp_path: Path, fake: FakeApis, rigs: list[Any]) -> None:
    rig, up = in_outage(tmp_path, fake, rigs, 10, 200)

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
    rig, _ = in_outage(tmp_path, fake, rigs, 3, 200)

    wait_for(lambda: rig.said("publish failed (attempt 3 of 3), giving up: GitHub refused"),
             60, "the give-up message")
    assert len(rig.said("publish failed (attempt 1 of 3)")) == 1
    assert rig.said("publish failed (attempt 2 of 3)")[0].endswith("retrying in 0.4 s")
    assert rig.queue() == [] and not fake.gh_pulls
    assert not rig.said("published ")


def test_a_retry_pending_at_shutdown_fires_after_a_restart(
        tmp_path: Path, fake: FakeApis, rigs: list[Any]) -> None:
    rig, first = in_outage(tmp_path, fake, rigs, 8, 500)
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


def tasks_named(name: str) -> Callable[[], Awaitable[list[str]]]:
    """On the orchestrator's loop: the coroutine names of the tasks called `name`."""
    async def names() -> list[str]:
        return [t.get_coro().__name__ for t in asyncio.all_tasks()  # type: ignore[union-attr]
                if t.get_name() == name]

    return names


def test_a_publish_cut_off_by_a_shutdown_is_made_by_the_next_orchestrator(
        tmp_path: Path, rigs: list[Any], gated: GatedApis) -> None:
    gated.hold("/repos/o/r/pulls")  # the first attempt pushes, then hangs at GitHub
    rig = Rig(tmp_path, gated, {"retry_attempts": 5, "retry_backoff_ms": 200})
    rigs.append(rig)
    first = start(rigs, rig)
    wait_for(lambda: gated.waiting, 60, "the first publish attempt to reach GitHub")

    # Queued before anything failed, so a kill -9 right now would leave the row too.
    [(run_id, ident, attempt, error)] = rig.queue()
    assert (ident, attempt, error) == (IDENT, 1, None)
    assert first.snapshot()["pending_publishes"] == []  # merely in flight: not pending
    # The row comes due while the attempt still hangs: the loop must not start it again.
    due = rig.due_at(run_id)
    wait_for(lambda: time.time() > due, 30, "the queue row to come due")
    ticks = first.orch.tick_count
    wait_for(lambda: first.orch.tick_count >= ticks + 5, 30, "more steps of the loop")
    name = f"publish:{run_id}"  # the publisher's task for the run (first attempt or retry)
    assert first.call(tasks_named(name)) == ["publish"] and gated.waiting == 1

    async def cancel() -> None:
        # What the shutdown does to a background task still running after its 30 s grace.
        [task] = [t for t in asyncio.all_tasks() if t.get_name() == name]
        task.cancel()
        await asyncio.wait([task])

    first.call(cancel)
    first.stop()
    assert rig.said("publish interrupted (attempt 1): the orchestrator stopped")
    assert [(r[0], r[2]) for r in rig.queue()] == [(run_id, 1)] and not gated.gh_pulls

    gated.release()
    start(rigs, rig)  # a fresh Orchestrator and Store on the same state db
    wait_for(lambda: gated.gh_pulls, 60, "the pull request from the restarted orchestrator")
    wait_for(lambda: not rig.queue(), 30, "the queue row to go")
    wait_for(lambda: rig.said("published "), 30, "the success on the timeline")
    assert not rig.said("publish failed")
    with sqlite3.connect(rig.db_path) as db:
        [(recorded,)] = db.execute("SELECT run_id FROM pull_requests").fetchall()
    assert recorded == run_id


def test_an_unexpected_error_in_a_retry_is_counted_and_waits_like_a_failure(
        tmp_path: Path, fake: FakeApis, rigs: list[Any]) -> None:
    rig, _ = in_outage(tmp_path, fake, rigs, 4, 300)
    wait_for(lambda: rig.said("publish failed (attempt 1 of 4)"), 60, "the first failure")
    [(run_id, *_)] = rig.queue()
    # A damaged run row: rebuilding the hand-off from it raises ValueError, not a TackError,
    # and the message quotes the (secret) value.
    with sqlite3.connect(rig.db_path) as db:
        db.execute("UPDATE runs SET turn_count = ? WHERE id = ?", (TOKEN, run_id))

    wait_for(lambda: rig.said("publish failed (attempt 4 of 4), giving up: ValueError: "
                              "invalid literal for int()"), 60, "the retries to give up")
    assert rig.queue() == [] and not fake.gh_pulls
    # Every unexpected failure was an attempt: waited for, on the timeline, at most 3 of them.
    unexpected = rig.said("ValueError")
    assert 1 <= len(unexpected) <= 3, unexpected
    assert all("retrying in" in m for m in unexpected[:-1])
    assert TOKEN not in "".join(rig.timeline())


def test_a_retry_superseded_by_a_newer_handoff_does_not_come_back(
        tmp_path: Path, rigs: list[Any], gated: GatedApis) -> None:
    outage(gated)
    rig = Rig(tmp_path, gated, {"retry_attempts": 10, "retry_backoff_ms": 200})
    rigs.append(rig)
    up = start(rigs, rig)
    wait_for(lambda: rig.said("publish failed (attempt 1 of 10)"), 60, "the first failure")
    [(old_run, *_)] = rig.queue()
    gated.hold("/repos/o/r/pulls")  # the old run's next retry hangs at GitHub...
    wait_for(lambda: gated.waiting, 30, "a retry of the old run in flight")
    with sqlite3.connect(rig.db_path) as db:
        [(issue_id, workspace)] = db.execute(
            "SELECT issue_id, workspace FROM runs WHERE id = ?", (old_run,)).fetchall()

    async def hand_off_again() -> int:
        # What the orchestrator does when a newer run of the issue hands off (core.py).
        orch = up.orch
        [issue] = await orch.tracker.fetch_issues_by_ids([issue_id])
        run_id = orch.store.start_run(issue_id=issue.id, identifier=issue.identifier,
                                      attempt=1, issue_state=issue.state)
        orch.store.update_run(run_id, workspace=workspace)
        orch.store.finish_run(run_id, "succeeded")
        entry = RunningEntry(issue=issue, run_id=run_id, attempt=1, workspace=workspace,
                             last_message="Second hand-off: reworked.")
        orch.publisher.start(entry)
        return run_id

    new_run = up.call(hand_off_again)
    wait_for(lambda: [r[0] for r in rig.queue()] == [new_run], 30, "the newer queue row")
    gated.release()  # ...and fails (still 503) after the newer hand-off replaced its row
    wait_for(lambda: [m for m in rig.run_events(old_run) if m.startswith(
        f"publish stopped: a newer hand-off of the issue (run {new_run}) replaced it")],
        30, "the old retry to stop")
    wait_for(lambda: [m for m in rig.run_events(new_run)
                      if m.startswith("publish failed (attempt 1 of 10)")],
             30, "the newer hand-off's first failure")
    assert [r[0] for r in rig.queue()] == [new_run]

    gated.recover()
    wait_for(lambda: gated.gh_pulls, 60, "the pull request")
    wait_for(lambda: not rig.queue(), 30, "the queue row to go")
    [pr] = gated.gh_pulls.values()
    assert "Second hand-off: reworked." in pr["body"]
    with sqlite3.connect(rig.db_path) as db:
        [(recorded,)] = db.execute("SELECT run_id FROM pull_requests").fetchall()
    assert recorded == new_run
    assert not [m for m in rig.run_events(old_run) if m.startswith("published")]


def test_a_retry_is_dropped_when_the_issue_leaves_the_handoff_state(
        tmp_path: Path, fake: FakeApis, rigs: list[Any]) -> None:
    rig, _ = in_outage(tmp_path, fake, rigs, 10, 300)
    wait_for(lambda: rig.said("publish failed (attempt 1 of 10)"), 60, "the first failure")
    with fake.lock:  # a person closes the issue before the retry
        fake.gh_issues[1] = {**fake.gh_issues[1], "state": "closed",
                             "closed_at": "2024-05-02T12:00:00Z"}
    fake.recover()  # GitHub is back: only the state check stops the retry now

    wait_for(lambda: rig.said("publish retry dropped: the issue is now"), 60, "the drop")
    assert rig.queue() == []
    assert not fake.gh_pulls and not rig.said("published ")


def test_a_retry_while_the_tracker_is_down_is_not_counted(
        tmp_path: Path, fake: FakeApis, rigs: list[Any]) -> None:
    rig, _ = in_outage(tmp_path, fake, rigs, 10, 300)
    wait_for(lambda: rig.said("publish failed (attempt 1 of 10)"), 60, "the first failure")
    issue_path = "/repos/o/r/issues/1"  # what a retry reads the issue from
    fake.fail(issue_path, 503, 1_000_000, headers={"Retry-After": "0"})

    def tracker_down() -> list[tuple[int, str, int, str]]:
        return [r for r in rig.queue() if (r[3] or "").startswith("tracker: ")]

    [(_, _, attempt, _)] = wait_for(tracker_down, 30, "a retry to meet the tracker outage")
    hits = fake.hits[f"GET {issue_path}"]
    wait_for(lambda: fake.hits[f"GET {issue_path}"] > hits, 30, "another retry")
    assert [r[2] for r in tracker_down()] == [attempt]  # waited, but not counted
    failures = rig.said("publish failed (attempt")
    assert len(failures) == attempt - 1

    with fake.lock:  # the tracker is back; the pull-request endpoint still fails
        fake.faults = [f for f in fake.faults if f.path_prefix != issue_path]
    wait_for(lambda: len(rig.said("publish failed (attempt")) > len(failures), 30,
             "the next counted attempt")
    assert rig.said("publish failed (attempt")[len(failures)].startswith(
        f"publish failed (attempt {attempt} of 10)")
    fake.recover()
    wait_for(lambda: fake.gh_pulls, 60, "the pull request")
    wait_for(lambda: not rig.queue(), 30, "the queue row to go")
