"""Start-up recovery: whatever the last orchestrator process left behind is put right before
the first tick: leftover agent process groups are killed, token totals and the retry queue
are reloaded, runs cut off mid-flight are resumed, and terminal issues' workspaces removed.
"""

from __future__ import annotations

import os
import signal
from typing import TYPE_CHECKING

import structlog

from tack.errors import TackError, TrackerError
from tack.orchestrator.state import RetryEntry

if TYPE_CHECKING:
    from tack.orchestrator.core import Orchestrator

log = structlog.get_logger(__name__)


async def recover(orch: Orchestrator) -> None:
    from tack.orchestrator.core import Totals

    sweep_leftover_processes(orch)
    totals = orch.store.totals()
    orch.totals = Totals(
        int(totals["input_tokens"]),
        int(totals["output_tokens"]),
        int(totals["total_tokens"]),
        float(totals["ended_seconds"]),
    )
    held = orch.store.get_meta("held", {}) or {}
    orch.held = {issue_id: (str(v[0]), str(v[1])) for issue_id, v in held.items()}
    for row in orch.store.load_retries():
        orch.retrying[row.issue_id] = RetryEntry(
            row.issue_id, row.identifier, row.attempt, row.due_at, row.error, row.kind
        )
        orch.claimed.add(row.issue_id)
    for run in orch.store.mark_interrupted("interrupted: the orchestrator stopped mid-run"):
        orch.store.add_event(
            run_id=run["id"],
            issue_id=run["issue_id"],
            identifier=run["identifier"],
            kind="orchestrator",
            message="run interrupted by an orchestrator crash; resuming",
        )
        if run["issue_id"] not in orch.retrying:
            orch._schedule_retry(
                run["issue_id"],
                run["identifier"],
                attempt=(run["attempt"] or 0) + 1,
                delay_ms=0,
                error="resumed after the orchestrator stopped mid-run",
                kind="recovery",
            )
    await cleanup_terminal_workspaces(orch)


async def cleanup_terminal_workspaces(orch: Orchestrator) -> None:
    cfg = orch.workflow.config.tracker
    try:
        issues = await orch.tracker.fetch_issues_by_states(cfg.terminal_states)
    except TrackerError as exc:
        log.warning("startup terminal cleanup skipped", error=exc.message)
        return
    for issue in issues:
        try:
            if orch.workspaces.path_for(issue.identifier).exists():
                await orch.workspaces.remove(issue.identifier)
        except TackError as exc:
            log.warning("workspace cleanup failed", issue_identifier=issue.identifier,
                        error=exc.message)


def sweep_leftover_processes(orch: Orchestrator) -> None:
    """Kill agent process groups a crashed orchestrator left behind."""
    for pgid in orch.store.processes():
        try:
            os.killpg(pgid, signal.SIGKILL)
            log.warning("killed leftover agent process group", pgid=pgid)
        except (ProcessLookupError, PermissionError):
            pass
        orch.store.remove_process(pgid)
