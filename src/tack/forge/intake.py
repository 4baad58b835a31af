"""Review intake under `tack up`: read what people said on Tack's open PRs/MRs into the state
db every `pull_requests.feedback_sync_ms`, and at once when asked (`POST /api/v1/refresh`),
so `tack learn` finds review feedback without anyone running a sync by hand. A PR it finds
merged is announced (`on_merged`; `tack up` calls the `pull_request_merged` hook).
"""

from __future__ import annotations

import asyncio
import contextlib
import sqlite3
from collections.abc import Callable

import structlog

from tack.errors import TackError
from tack.forge import SyncReport, sync_feedback
from tack.store.feedback import PullRequestRecord
from tack.workflow.config import ServiceConfig

log = structlog.get_logger(__name__)


class ReviewIntake:
    """Syncs review feedback on a schedule and on request; never fails its caller.

    `config` is read at every sync, so a reloaded WORKFLOW.md (a new interval, token or
    endpoint) applies from the next one.
    """

    def __init__(self, config: Callable[[], ServiceConfig], db: sqlite3.Connection, *,
                 redact: Callable[[str], str] = str,
                 on_merged: Callable[[PullRequestRecord], None] | None = None) -> None:
        self._config = config
        self._on_merged = on_merged
        self._db = db
        self._redact = redact  # errors may quote a forge's answer: keep secrets out of logs
        self._asked = asyncio.Event()
        self.last_report: SyncReport | None = None
        self.last_error: str | None = None

    def request(self) -> None:
        """Sync now (from the next turn of the event loop), not at the next interval."""
        self._asked.set()

    async def run_once(self) -> SyncReport | None:
        """One sync of every open PR/MR Tack opened; None when it failed (logged)."""
        try:
            report = await sync_feedback(self._config(), self._db)
        except Exception as exc:  # noqa: BLE001 - intake is best effort; the loop goes on
            self.last_error = self._redact(exc.message if isinstance(exc, TackError)
                                           else f"{type(exc).__name__}: {exc}")
            log.warning("review feedback sync failed", error=self.last_error)
            return None
        self.last_report = report
        errors = [self._redact(error) for error in report.errors]
        self.last_error = "; ".join(errors) or None
        for error in errors:
            log.warning("review feedback not read", error=error)
        if report.new_items:
            log.info("review feedback synced", new=report.new_items,
                     pull_requests=report.pull_requests)
        for pr in report.merged:
            await self._announce_merge(pr)
        return report

    async def _announce_merge(self, pr: PullRequestRecord) -> None:
        if self._on_merged is None:
            return
        log.info("pull request merged", repo=pr.repo, number=pr.number)
        try:  # listeners may block (an HTTP call to the context sidecar): off the loop
            await asyncio.to_thread(self._on_merged, pr)
        except Exception as exc:  # noqa: BLE001 - a listener never stops the intake
            log.warning("merge listener failed", repo=pr.repo, number=pr.number,
                        error=self._redact(f"{type(exc).__name__}: {exc}"))

    async def run(self) -> None:
        """Sync now, then every `pull_requests.feedback_sync_ms` or when requested, until
        cancelled."""
        while True:
            self._asked.clear()
            await self.run_once()
            wait_s = self._config().pull_requests.feedback_sync_ms / 1000
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._asked.wait(), wait_s)
