"""Start-up recovery: whatever the last orchestrator process left behind is put right before
the first tick: leftover agent process groups are killed, token totals and the retry queue
are reloaded, runs cut off mid-flight are resumed, and terminal issues' workspaces removed
(while the shared checkout of `workspace.strategy: overlay` is built in the background).
`plan_recovery` reads the store into a plan; the orchestrator applies it.
"""

from __future__ import annotations

import os
import signal
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import structlog

from tack.errors import TackError, TrackerError
from tack.orchestrator.state import RetryEntry, Totals
from tack.workspace import overlay_gc
from tack.workspace.overlay import Layers

if TYPE_CHECKING:
    from tack.store import Store
    from tack.tracker import Tracker
    from tack.workflow.config import TrackerConfig
    from tack.workspace import WorkspaceManager

log = structlog.get_logger(__name__)


@dataclass
class InterruptedRun:
    """A run the last process left mid-flight: resumed with `attempt` unless a retry is queued."""

    issue_id: str
    identifier: str
    attempt: int


@dataclass
class RecoveryPlan:
    """What the orchestrator restores before its first tick, read from the store."""

    totals: Totals
    held: dict[str, tuple[str, str]] = field(default_factory=dict)
    retries: list[RetryEntry] = field(default_factory=list)
    interrupted: list[InterruptedRun] = field(default_factory=list)


def plan_recovery(store: Store) -> RecoveryPlan:
    """Put the store right (leftover agent processes killed, cut-off runs marked interrupted)
    and say what the orchestrator restores; the orchestrator applies the plan."""
    sweep_leftover_processes(store)
    totals = store.totals()
    plan = RecoveryPlan(Totals(
        int(totals["input_tokens"]),
        int(totals["output_tokens"]),
        int(totals["total_tokens"]),
        float(totals["ended_seconds"]),
    ))
    held = store.get_meta("held", {}) or {}
    plan.held = {issue_id: (str(v[0]), str(v[1])) for issue_id, v in held.items()}
    for row in store.load_retries():
        plan.retries.append(RetryEntry(
            row.issue_id, row.identifier, row.attempt, row.due_at, row.error, row.kind
        ))
    for run in store.mark_interrupted("interrupted: the orchestrator stopped mid-run"):
        store.add_event(
            run_id=run["id"],
            issue_id=run["issue_id"],
            identifier=run["identifier"],
            kind="orchestrator",
            message="run interrupted by an orchestrator crash; resuming",
        )
        plan.interrupted.append(InterruptedRun(
            run["issue_id"], run["identifier"], (run["attempt"] or 0) + 1))
    return plan


async def ready_workspaces(tracker: Tracker, workspaces: WorkspaceManager,
                           cfg: TrackerConfig) -> None:
    """Mount again overlay workspaces a reboot unmounted (before a removal prunes worktrees),
    start checking out what new workspaces share (`WorkspaceManager.warm`), in the
    background, then remove terminal issues' workspaces."""
    root = workspaces.root
    await overlay_gc.remount(root, Layers(root))
    workspaces.warm_soon()
    try:
        issues = await tracker.fetch_issues_by_states(cfg.terminal_states)
    except TrackerError as exc:
        log.warning("startup terminal cleanup skipped", error=exc.message)
        return
    for issue in issues:
        try:
            if workspaces.path_for(issue.identifier).exists():
                await workspaces.remove(issue.identifier)
        except TackError as exc:
            log.warning("workspace cleanup failed", issue_identifier=issue.identifier,
                        error=exc.message)


def sweep_leftover_processes(store: Store) -> None:
    """Kill agent process groups a crashed orchestrator left behind."""
    for pgid in store.processes():
        try:
            os.killpg(pgid, signal.SIGKILL)
            log.warning("killed leftover agent process group", pgid=pgid)
        except (ProcessLookupError, PermissionError):
            pass
        store.remove_process(pgid)
