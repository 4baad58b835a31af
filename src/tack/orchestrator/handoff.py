"""After a hand-off: push the run's branch and open or update its pull request (tack.forge),
then, with `review.on_handoff`, let the reviewer agent review the change, all in the
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
from pathlib import Path
from typing import TYPE_CHECKING

import structlog

from tack.agents.base import TokenUsage
from tack.context.wiring import after_handoff as context_after_handoff
from tack.errors import TackError
from tack.orchestrator.state import RunningEntry
from tack.store import PublishRow
from tack.tracker.base import Issue
from tack.workflow.config import ServiceConfig, normalize_state

if TYPE_CHECKING:
    from tack.forge import Handoff
    from tack.orchestrator.core import Orchestrator
    from tack.review import ReviewFinding

log = structlog.get_logger(__name__)

MAX_RETRY_DELAY_MS = 600_000


def handed_off(cfg: ServiceConfig, entry: RunningEntry) -> bool:
    """The run ended with its issue in the hand-off state, and Tack publishes or reviews it."""
    return ((cfg.pull_requests.publish == "tack" or cfg.review.on_handoff)
            and entry.workspace is not None
            and normalize_state(entry.issue.state) == normalize_state(cfg.tracker.handoff_state))


async def publish(orch: Orchestrator, entry: RunningEntry) -> None:
    cfg = orch.workflow.config
    if cfg.pull_requests.publish == "tack":
        for queued in orch.store.load_publishes():
            if queued.issue_id == entry.issue.id:  # this newer hand-off supersedes it
                orch.store.delete_publish(queued.run_id)
        # Queued before the first attempt, not after it fails: a restart never dispatches a
        # handed-off issue again, so a shutdown or a kill -9 mid-publish must leave the row
        # for the next orchestrator. A retry rebuilds the PR body from the run row.
        orch.store.update_run(entry.run_id, last_message=entry.last_message)
        first_wait_ms = retry_delay_ms(cfg.pull_requests.retry_backoff_ms, 1)
        orch.store.save_publish(PublishRow(entry.run_id, entry.issue.id, entry.identifier, 1,
                                           time.time() + first_wait_ms / 1000, None))
        orch._notify()
        # Named like a retry, so `fire_due_publishes` does not start this attempt a second
        # time when its row comes due while it is still running.
        task = asyncio.current_task()
        name = task.get_name() if task is not None else ""
        if task is not None:
            task.set_name(_task_name(entry.run_id))
        try:
            await _attempt(orch, entry, 1)
        finally:
            if task is not None:
                task.set_name(name)
    elif cfg.review.on_handoff:
        await review(orch, entry, None)


async def _attempt(orch: Orchestrator, entry: RunningEntry, attempt: int) -> None:
    """Publish attempt `attempt` (1 is the first), then either queue the next one in the store
    or finish: the reviewer runs once, after the first successful publish or on giving up."""
    cfg = orch.workflow.config
    row = PublishRow(entry.run_id, entry.issue.id, entry.identifier, attempt, 0.0, None)
    try:
        result = await _publish(orch, entry)
    except asyncio.CancelledError:
        # Shutdown: the row stays queued and the next orchestrator makes this attempt again.
        with contextlib.suppress(Exception):  # the store may be closed already
            _note(orch, row, f"publish interrupted (attempt {attempt}): the orchestrator "
                  "stopped; it is tried again when it next runs")
        raise
    except Exception as exc:  # noqa: BLE001 - any failure is retried, never fatal
        error = _error_text(orch, exc)
        log.warning("publish failed", issue_identifier=entry.identifier, attempt=attempt,
                    error=error)
        if _superseded(orch, row) or _failed(orch, row, error):
            return
        result = None
    orch.store.delete_publish(entry.run_id)
    orch._notify()
    if result is not None:  # a branch was pushed: the org-context sidecar fetches now
        await asyncio.to_thread(context_after_handoff, orch.workflow)
    if cfg.review.on_handoff:
        await review(orch, entry, result)


def _failed(orch: Orchestrator, row: PublishRow, error: str) -> bool:
    """After failed attempt `row.attempt`: queue the next one (True), or give up and empty the
    queue row (False)."""
    prc = orch.workflow.config.pull_requests
    which = f"attempt {row.attempt} of {prc.retry_attempts}"
    if row.attempt < prc.retry_attempts:
        delay_ms = retry_delay_ms(prc.retry_backoff_ms, row.attempt)
        _note(orch, row, f"publish failed ({which}): {error}; retrying in {delay_ms / 1000:g} s")
        orch.store.save_publish(dataclasses.replace(
            row, attempt=row.attempt + 1, due_at=time.time() + delay_ms / 1000, error=error))
        orch._notify()
        return True
    _note(orch, row, f"publish failed ({which}), giving up: {error}")
    orch.store.delete_publish(row.run_id)
    orch._notify()
    return False


def _superseded(orch: Orchestrator, row: PublishRow) -> bool:
    """A newer hand-off of the issue replaced this run's queue row (`publish` deletes older
    runs' rows): its attempt must neither publish nor queue the old run again."""
    queued = orch.store.load_publishes()
    newer = [q.run_id for q in queued if q.issue_id == row.issue_id and q.run_id > row.run_id]
    if not newer and any(q.run_id == row.run_id for q in queued):
        return False
    orch.store.delete_publish(row.run_id)
    why = f"a newer hand-off of the issue (run {max(newer)}) replaced it" if newer else \
        "its queue row is gone"
    _note(orch, row, f"publish stopped: {why}")
    orch._notify()
    return True


def retry_delay_ms(backoff_ms: int, failed_attempt: int) -> int:
    """The wait after failed attempt `failed_attempt`: doubling from `backoff_ms`, capped."""
    return min(int(backoff_ms * 2 ** min(failed_attempt - 1, 30)), MAX_RETRY_DELAY_MS)


def _task_name(run_id: int) -> str:
    return f"publish-retry:{run_id}"


def _in_flight(orch: Orchestrator) -> set[str]:
    return {t.get_name() for t in list(orch._background)}


def pending_publishes(orch: Orchestrator) -> list[PublishRow]:
    """The queue as the API shows it: a first attempt still running is not pending."""
    busy = _in_flight(orch)
    return [row for row in orch.store.load_publishes()
            if row.error is not None or _task_name(row.run_id) not in busy]


def fire_due_publishes(orch: Orchestrator) -> None:
    """Start, in the background, every queued publish retry that is due (from the orchestrator's
    loop): the queue is in the store, so nothing sleeps and a restart picks them up."""
    if orch._stopping.is_set():
        return
    now = time.time()
    busy = _in_flight(orch)
    for row in orch.store.load_publishes():
        name = _task_name(row.run_id)
        if row.due_at <= now and name not in busy:
            orch._spawn(asyncio.create_task(_retry(orch, row), name=name))


async def _retry(orch: Orchestrator, row: PublishRow) -> None:
    """Make attempt `row.attempt`. Anything unexpected (a locked state db, a plug-in tracker's
    bug) counts as a failed attempt and waits like one: left due, the row would be started
    again at every step of the loop."""
    try:
        await _retry_attempt(orch, row)
    except Exception as exc:  # noqa: BLE001 - CancelledError (a BaseException) goes through
        error = _error_text(orch, exc)
        log.warning("publish retry failed", issue_identifier=row.identifier,
                    attempt=row.attempt, error=error)
        try:
            if not _superseded(orch, row):
                _failed(orch, row, error)
        except Exception as again:  # noqa: BLE001 - the store itself is failing
            log.warning("publish retry not rescheduled", issue_identifier=row.identifier,
                        error=_error_text(orch, again))


async def _retry_attempt(orch: Orchestrator, row: PublishRow) -> None:
    """Rebuild the run and its issue, then make attempt `row.attempt`."""
    cfg = orch.workflow.config
    run = orch.store.run(row.run_id)
    if run is None or cfg.pull_requests.publish != "tack":
        _drop(orch, row, "its run is gone from the state db" if run is None
              else f"pull_requests.publish is now {cfg.pull_requests.publish!r}")
        return
    try:
        found = await orch.tracker.fetch_issues_by_ids([row.issue_id])
    except TackError as exc:
        if _superseded(orch, row):
            return
        # The tracker is down too: try the same attempt later, without counting it.
        delay_ms = retry_delay_ms(cfg.pull_requests.retry_backoff_ms, max(row.attempt - 1, 1))
        orch.store.save_publish(dataclasses.replace(
            row, due_at=time.time() + delay_ms / 1000,
            error=orch.redactor.text(f"tracker: {exc.message}")))
        return
    if _superseded(orch, row):  # a newer hand-off came while the tracker answered
        return
    issue = next((i for i in found if i.id == row.issue_id), None)
    if issue is None:
        _drop(orch, row, "the issue is no longer in the tracker")
    elif not _in_handoff(cfg, issue):
        # Moved on (rework, done): publishing the old hand-off now would be wrong.
        _drop(orch, row, f"the issue is now {issue.state!r}")
    else:
        await _attempt(orch, _entry_from_run(run, issue), row.attempt)


def _drop(orch: Orchestrator, row: PublishRow, why: str) -> None:
    orch.store.delete_publish(row.run_id)
    _note(orch, row, f"publish retry dropped: {why}")
    orch._notify()


def _note(orch: Orchestrator, row: PublishRow, message: str) -> None:
    orch.store.add_event(run_id=row.run_id, issue_id=row.issue_id, identifier=row.identifier,
                         kind="orchestrator", message=message)


def _error_text(orch: Orchestrator, exc: Exception) -> str:
    message = exc.message if isinstance(exc, TackError) else f"{type(exc).__name__}: {exc}"
    return orch.redactor.text(message)


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


async def _publish(orch: Orchestrator, entry: RunningEntry) -> Handoff | None:
    """Push and open or update the PR; None when there is no remote to publish to. Raises
    TackError when the push or the forge's API fails."""
    from tack.forge import publish_handoff
    from tack.forge.git import git as run_git

    cfg = orch.workflow.config
    workspace = Path(entry.workspace or "")
    remote = cfg.pull_requests.remote
    branch = orch.workspaces.branch_for(entry.issue)
    if not workspace.is_dir():
        # The run's workspace lives on another machine (a Temporal worker), which pushed the
        # branch to the shared remote: publish from this repository's copy of it instead.
        workspace = orch.workflow.repo_dir()
        await run_git(workspace, "fetch", "-q", remote, f"+{branch}:{branch}", check=False)
    if not await run_git(workspace, "remote", "get-url", remote, check=False):
        orch._record(entry, "orchestrator", f"not published: no git remote {remote!r} "
                     "(pull_requests.remote)")
        return None
    summary = {"run_id": entry.run_id, "turns": entry.turn_count,
               "message": entry.last_message,
               "tokens": {"input": entry.tokens.input_tokens,
                          "output": entry.tokens.output_tokens,
                          "total": entry.tokens.total_tokens}}
    result = await publish_handoff(cfg, workspace, branch, entry.issue, summary,
                                   db=orch.store.db)
    where = result.url or f"{result.remote}/{result.branch}"
    orch._record(entry, "orchestrator", f"published {where}")
    return result


def _review_blocking(cfg: ServiceConfig, repo_root: Path, db_path: Path,
                     run_id: int) -> list[ReviewFinding]:
    from tack.review import review_run

    # Its own connection: this runs on a worker thread beside the orchestrator's loop.
    db = sqlite3.connect(db_path, isolation_level=None, check_same_thread=False)
    try:
        db.execute("PRAGMA busy_timeout=10000")
        findings, _ = review_run(cfg, repo_root, db, run_id)
        return findings
    finally:
        db.close()


async def review(orch: Orchestrator, entry: RunningEntry, handoff: Handoff | None) -> None:
    """Run the reviewer agent on the run's change, store its findings as feedback on the run,
    and post them as one review on the GitHub pull request the hand-off opened."""
    cfg = orch.workflow.config
    try:
        findings = await asyncio.to_thread(_review_blocking, cfg, orch.workflow.repo_dir(),
                                           orch.store.path, entry.run_id)
    except Exception as exc:  # noqa: BLE001 - a reviewer failure never breaks the orchestrator
        message = exc.message if isinstance(exc, TackError) else f"{type(exc).__name__}: {exc}"
        log.warning("review failed", issue_identifier=entry.identifier, error=message)
        orch._record(entry, "orchestrator", f"review failed: {orch.redactor.text(message)}")
        return
    errors = sum(f.severity == "error" for f in findings)
    listed = "".join(f"\n- {f}" for f in findings[:20])
    orch._record(entry, "orchestrator", orch.redactor.text(
        f"review: {len(findings)} findings ({errors} errors){listed}"))
    orch._notify()
    if handoff is None or not findings:
        return
    from tack.review.posting import post_findings

    try:
        url = await post_findings(cfg, handoff, findings)
    except Exception as exc:  # noqa: BLE001 - the findings are stored; posting is a bonus
        message = exc.message if isinstance(exc, TackError) else f"{type(exc).__name__}: {exc}"
        orch._record(entry, "orchestrator",
                     f"review not posted: {orch.redactor.text(message)}")
        return
    if url is not None:
        orch._record(entry, "orchestrator", f"review posted on {handoff.url or url}")
