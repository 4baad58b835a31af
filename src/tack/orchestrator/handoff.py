"""After a hand-off: push the run's branch and open or update its pull request (tack.forge),
then tell the plug-ins (`handed_off`; Tack's reviewer at hand-off is one), all in the
background. Each publish is queued in the store before its first attempt, so a failed or
interrupted one is retried from the orchestrator's loop, even after a restart; every failure is
recorded on the issue's timeline, never fatal to the orchestrator.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import sqlite3
import time
from collections.abc import Callable, Coroutine
from pathlib import Path
from typing import TYPE_CHECKING, Any

import structlog

from tack.agents.base import TokenUsage
from tack.app.artifacts import listing as artifact_listing
from tack.errors import TackError
from tack.eval.records import best_of_for_run
from tack.orchestrator.host import plugin_run
from tack.orchestrator.state import RunningEntry
from tack.store import PublishRow
from tack.tracker.base import Issue
from tack.workflow.config import ServiceConfig, normalize_state

if TYPE_CHECKING:
    from tack.forge import Handoff
    from tack.orchestrator.host import RunHost

log = structlog.get_logger(__name__)

MAX_RETRY_DELAY_MS = 600_000


def reached_handoff(cfg: ServiceConfig, entry: RunningEntry) -> bool:
    """The run ended with its issue in the hand-off state: the publisher takes it over."""
    return (entry.workspace is not None
            and normalize_state(entry.issue.state) == normalize_state(cfg.tracker.handoff_state))


def handed_off(cfg: ServiceConfig, entry: RunningEntry) -> bool:
    """The run ended with its issue in the hand-off state, and Tack publishes or reviews it."""
    return ((cfg.pull_requests.publish == "tack" or cfg.review.on_handoff)
            and entry.workspace is not None
            and normalize_state(entry.issue.state) == normalize_state(cfg.tracker.handoff_state))


def retry_delay_ms(backoff_ms: int, failed_attempt: int) -> int:
    """The wait after failed attempt `failed_attempt`: doubling from `backoff_ms`, capped."""
    return min(int(backoff_ms * 2 ** min(failed_attempt - 1, 30)), MAX_RETRY_DELAY_MS)


def _in_handoff(cfg: ServiceConfig, issue: Issue) -> bool:
    return normalize_state(issue.state) == normalize_state(cfg.tracker.handoff_state)


def _entry_from_run(run: sqlite3.Row, issue: Issue) -> RunningEntry:
    """What `_publish` reads of a finished run, from its row in the store."""
    return RunningEntry(
        issue=issue, run_id=int(run["id"]), attempt=run["attempt"], workspace=run["workspace"],
        turn_count=int(run["turn_count"] or 0), last_message=run["last_message"] or "",
        tokens=TokenUsage(input_tokens=int(run["input_tokens"] or 0),
                          output_tokens=int(run["output_tokens"] or 0),
                          total_tokens=int(run["total_tokens"] or 0)))


class HandoffPublisher:
    """Publishes hand-offs and owns the publish queue's in-flight attempts: a run's publish
    is never started twice, since the publisher knows which runs it is publishing."""

    def __init__(self, host: RunHost,
                 spawn: Callable[[asyncio.Task[None]], None]) -> None:
        self.host = host
        self._spawn = spawn
        self._in_flight: dict[int, asyncio.Task[None]] = {}

    def start(self, entry: RunningEntry) -> None:
        """Publish a run that just ended in the hand-off state, in the background."""
        self._track(entry.run_id, self.publish(entry))

    def _track(self, run_id: int, coro: Coroutine[Any, Any, None]) -> None:
        task = asyncio.create_task(coro, name=f"publish:{run_id}")
        self._in_flight[run_id] = task
        task.add_done_callback(lambda t: self._in_flight.pop(run_id, None)
                               if self._in_flight.get(run_id) is t else None)
        self._spawn(task)

    async def publish(self, entry: RunningEntry) -> None:
        cfg = self.host.workflow.config
        if cfg.pull_requests.publish == "tack":
            for queued in self.host.store.load_publishes():
                if queued.issue_id == entry.issue.id:  # this newer hand-off supersedes it
                    self.host.store.delete_publish(queued.run_id)
            # Queued before the first attempt, not after it fails: a restart never dispatches a
            # handed-off issue again, so a shutdown or a kill -9 mid-publish must leave the row
            # for the next orchestrator. A retry rebuilds the PR body from the run row.
            self.host.store.update_run(entry.run_id, last_message=entry.last_message)
            first_wait_ms = retry_delay_ms(cfg.pull_requests.retry_backoff_ms, 1)
            self.host.store.save_publish(PublishRow(entry.run_id, entry.issue.id, entry.identifier,
                                                    1, time.time() + first_wait_ms / 1000, None))
            self.host.notify()
            await self._attempt(entry, 1)
        else:
            await self._handed_off(entry, None)

    async def _handed_off(self, entry: RunningEntry, result: Handoff | None) -> None:
        """Tell the plug-ins (Tack's reviewer among them) that the run handed off."""
        await self.host.plugins.handed_off(plugin_run(self.host, entry), result)

    async def _attempt(self, entry: RunningEntry, attempt: int) -> None:
        """Publish attempt `attempt` (1 is the first), then either queue the next one in the store
        or finish: `handed_off` (the reviewer) runs once, after the first successful publish or
        on giving up."""
        row = PublishRow(entry.run_id, entry.issue.id, entry.identifier, attempt, 0.0, None)
        try:
            result = await self._publish(entry)
        except asyncio.CancelledError:
            # Shutdown: the row stays queued and the next orchestrator makes this attempt again.
            with contextlib.suppress(Exception):  # the store may be closed already
                self._note(row, f"publish interrupted (attempt {attempt}): the orchestrator "
                           "stopped; it is tried again when it next runs")
            raise
        except Exception as exc:  # noqa: BLE001 - any failure is retried, never fatal
            error = self._error_text(exc)
            log.warning("publish failed", issue_identifier=entry.identifier, attempt=attempt,
                        error=error)
            if self._superseded(row) or self._failed(row, error):
                return
            result = None
        self.host.store.delete_publish(entry.run_id)
        self.host.notify()
        await self._handed_off(entry, result)

    def _failed(self, row: PublishRow, error: str) -> bool:
        """After failed attempt `row.attempt`: queue the next one (True), or give up and empty the
        queue row (False)."""
        prc = self.host.workflow.config.pull_requests
        which = f"attempt {row.attempt} of {prc.retry_attempts}"
        if row.attempt < prc.retry_attempts:
            delay_ms = retry_delay_ms(prc.retry_backoff_ms, row.attempt)
            self._note(row, f"publish failed ({which}): {error}; retrying in {delay_ms / 1000:g} s")
            self.host.store.save_publish(dataclasses.replace(
                row, attempt=row.attempt + 1, due_at=time.time() + delay_ms / 1000, error=error))
            self.host.notify()
            return True
        self._note(row, f"publish failed ({which}), giving up: {error}")
        self.host.store.delete_publish(row.run_id)
        self.host.notify()
        return False

    def _superseded(self, row: PublishRow) -> bool:
        """A newer hand-off of the issue replaced this run's queue row (`publish` deletes older
        runs' rows): its attempt must neither publish nor queue the old run again."""
        queued = self.host.store.load_publishes()
        newer = [q.run_id for q in queued if q.issue_id == row.issue_id and q.run_id > row.run_id]
        if not newer and any(q.run_id == row.run_id for q in queued):
            return False
        self.host.store.delete_publish(row.run_id)
        why = f"a newer hand-off of the issue (run {max(newer)}) replaced it" if newer else \
            "its queue row is gone"
        self._note(row, f"publish stopped: {why}")
        self.host.notify()
        return True

    def pending_publishes(self) -> list[PublishRow]:
        """The queue as the API shows it: a first attempt still running is not pending."""
        return [row for row in self.host.store.load_publishes()
                if row.error is not None or row.run_id not in self._in_flight]

    def fire_due_publishes(self) -> None:
        """Start, in the background, every queued publish retry that is due (from the orchestrator's
        loop): the queue is in the store, so nothing sleeps and a restart picks them up."""
        now = time.time()
        for row in self.host.store.load_publishes():
            if row.due_at <= now and row.run_id not in self._in_flight:
                self._track(row.run_id, self._retry(row))

    async def _retry(self, row: PublishRow) -> None:
        """Make attempt `row.attempt`. Anything unexpected (a locked state db, a plug-in tracker's
        bug) counts as a failed attempt and waits like one: left due, the row would be started
        again at every step of the loop."""
        try:
            await self._retry_attempt(row)
        except Exception as exc:  # noqa: BLE001 - CancelledError (a BaseException) goes through
            error = self._error_text(exc)
            log.warning("publish retry failed", issue_identifier=row.identifier,
                        attempt=row.attempt, error=error)
            try:
                if not self._superseded(row):
                    self._failed(row, error)
            except Exception as again:  # noqa: BLE001 - the store itself is failing
                log.warning("publish retry not rescheduled", issue_identifier=row.identifier,
                            error=self._error_text(again))

    async def _retry_attempt(self, row: PublishRow) -> None:
        """Rebuild the run and its issue, then make attempt `row.attempt`."""
        cfg = self.host.workflow.config
        run = self.host.store.run(row.run_id)
        if run is None or cfg.pull_requests.publish != "tack":
            self._drop(row, "its run is gone from the state db" if run is None
                       else f"pull_requests.publish is now {cfg.pull_requests.publish!r}")
            return
        try:
            found = await self.host.tracker.fetch_issues_by_ids([row.issue_id])
        except TackError as exc:
            if self._superseded(row):
                return
            # The tracker is down too: try the same attempt later, without counting it.
            delay_ms = retry_delay_ms(cfg.pull_requests.retry_backoff_ms, max(row.attempt - 1, 1))
            self.host.store.save_publish(dataclasses.replace(
                row, due_at=time.time() + delay_ms / 1000,
                error=self.host.redactor.text(f"tracker: {exc.message}")))
            return
        if self._superseded(row):  # a newer hand-off came while the tracker answered
            return
        issue = next((i for i in found if i.id == row.issue_id), None)
        if issue is None:
            self._drop(row, "the issue is no longer in the tracker")
        elif not _in_handoff(cfg, issue):
            # Moved on (rework, done): publishing the old hand-off now would be wrong.
            self._drop(row, f"the issue is now {issue.state!r}")
        else:
            await self._attempt(_entry_from_run(run, issue), row.attempt)

    def _drop(self, row: PublishRow, why: str) -> None:
        self.host.store.delete_publish(row.run_id)
        self._note(row, f"publish retry dropped: {why}")
        self.host.notify()

    def _note(self, row: PublishRow, message: str) -> None:
        self.host.store.add_event(run_id=row.run_id, issue_id=row.issue_id,
                                  identifier=row.identifier, kind="orchestrator", message=message)

    def _error_text(self, exc: Exception) -> str:
        message = exc.message if isinstance(exc, TackError) else f"{type(exc).__name__}: {exc}"
        return self.host.redactor.text(message)

    async def _publish(self, entry: RunningEntry) -> Handoff | None:
        """Push and open or update the PR; None when there is no remote to publish to. Raises
        TackError when the push or the forge's API fails."""
        from tack.forge import publish_handoff
        from tack.forge.git import git as run_git

        cfg = self.host.workflow.config
        workspace = Path(entry.workspace or "")
        remote = cfg.pull_requests.remote
        branch = self.host.workspaces.branch_for(entry.issue)
        if not workspace.is_dir():
            # The run's workspace lives on another machine (a Temporal worker), which pushed the
            # branch to the shared remote: publish from this repository's copy of it instead.
            workspace = self.host.workflow.repo_dir()
            await run_git(workspace, "fetch", "-q", remote, f"+{branch}:{branch}", check=False)
        if not await run_git(workspace, "remote", "get-url", remote, check=False):
            self.host.record(entry, "orchestrator", f"not published: no git remote {remote!r} "
                             "(pull_requests.remote)")
            return None
        summary = {"run_id": entry.run_id, "turns": entry.turn_count,
                   "message": entry.last_message,
                   "tokens": {"input": entry.tokens.input_tokens,
                              "output": entry.tokens.output_tokens,
                              "total": entry.tokens.total_tokens},
                   "artifacts": artifact_listing(self.host.workflow.tack_dir, entry.run_id),
                   # A best-of-N race held this run: its attempts' scores go in the PR body.
                   "best_of": best_of_for_run(self.host.workflow.tack_dir, entry.identifier,
                                              entry.run_id)}
        result = await publish_handoff(cfg, workspace, branch, entry.issue, summary,
                                       db=self.host.store.db)
        where = result.url or f"{result.remote}/{result.branch}"
        self.host.record(entry, "orchestrator", f"published {where}")
        return result
