"""A run whose issue reached the hand-off state has done its job. Reconciliation lets its turn
finish (the agent's final message and the turn's token usage) for up to
`agent.handoff_grace_ms` instead of stopping it at once, such a run is recorded as succeeded
wherever it ran, and every finished run keeps why it ended, in words, for the dashboard.
"""

from __future__ import annotations

import asyncio
import time
from typing import TYPE_CHECKING, Protocol

from tack.agents.base import TokenUsage
from tack.orchestrator.state import RunningEntry
from tack.tracker.base import Issue
from tack.workflow.config import ServiceConfig, TrackerConfig, normalize_state

if TYPE_CHECKING:
    from tack.orchestrator.host import RunHost
    from tack.orchestrator.state import CancelReason
    from tack.workflow import Workflow


class GraceHost(Protocol):
    """What the grace period needs of the orchestrator (the core implements it)."""

    running: dict[str, RunningEntry]

    @property
    def workflow(self) -> Workflow: ...

    def record(self, entry: RunningEntry, kind: str, message: str) -> None: ...

    def terminate(self, entry: RunningEntry, reason: CancelReason,
                  issue: Issue | None) -> None: ...


def in_handoff(cfg: TrackerConfig, issue: Issue | None) -> bool:
    return issue is not None and normalize_state(issue.state) == normalize_state(cfg.handoff_state)


def let_finish(orch: GraceHost, entry: RunningEntry, issue: Issue) -> None:
    """Reconciliation saw the run's issue in the hand-off state: stop the run only when its
    turn has not ended `agent.handoff_grace_ms` later."""
    entry.issue = issue
    if entry.cancel_reason or entry.handed_off_mono is not None:
        return
    entry.handed_off_mono = time.monotonic()
    grace_ms = orch.workflow.config.agent.handoff_grace_ms
    if grace_ms <= 0:
        orch.terminate(entry, "handoff", issue)
        return
    orch.record(entry, "orchestrator", f"issue handed off to {issue.state!r}; letting the "
                 f"agent finish its turn (up to {grace_ms / 1000:g} s)")
    asyncio.get_running_loop().call_later(grace_ms / 1000, _grace_over, orch, entry, grace_ms)


def _grace_over(orch: GraceHost, entry: RunningEntry, grace_ms: int) -> None:
    if orch.running.get(entry.issue.id) is not entry or entry.cancel_reason:
        return  # ended by itself, or stopped for another reason
    if not in_handoff(orch.workflow.config.tracker, entry.issue):
        entry.handed_off_mono = None  # moved back to work (rework): the run goes on
        return
    orch.record(entry, "orchestrator", f"the turn did not end within {grace_ms} ms of the "
                 "hand-off (agent.handoff_grace_ms); stopping the run")
    orch.terminate(entry, "handoff", entry.issue)


def end_reason(cfg: ServiceConfig, entry: RunningEntry, status: str, error: str | None) -> str:
    """Why the run ended, as a person would say it; stored beside the run's status."""
    state = entry.issue.state
    reason = entry.cancel_reason
    if status == "succeeded" and in_handoff(cfg.tracker, entry.issue):
        return f"handed off: moved to {state!r}"
    if reason in ("terminal", "inactive"):
        return f"stopped: the issue was moved to {state!r}"
    if reason == "missing":
        return "stopped: the issue is no longer visible in the tracker"
    if reason == "operator":
        return "canceled by an operator"
    if reason == "shutdown":
        return "interrupted: the orchestrator shut down"
    if status == "succeeded":
        if cfg.tracker.is_active(state):
            return f"turn ended; the issue is still {state!r}, so work continues"
        return f"finished: the issue is now {state!r}"
    return error or status


def count_final_tokens(orch: RunHost, entry: RunningEntry, reported: TokenUsage) -> None:
    """Add what a run reported in all (a Temporal run's result) beyond what its progress
    events delivered: the last turn's usage often arrives after the last progress poll."""
    missing = TokenUsage(max(reported.input_tokens - entry.tokens.input_tokens, 0),
                         max(reported.output_tokens - entry.tokens.output_tokens, 0),
                         max(reported.total_tokens - entry.tokens.total_tokens, 0))
    if not (missing.input_tokens or missing.output_tokens or missing.total_tokens):
        return
    entry.tokens = entry.tokens + missing
    orch.totals.input_tokens += missing.input_tokens
    orch.totals.output_tokens += missing.output_tokens
    orch.totals.total_tokens += missing.total_tokens
    orch.store.update_run(entry.run_id, input_tokens=entry.tokens.input_tokens,
                          output_tokens=entry.tokens.output_tokens,
                          total_tokens=entry.tokens.total_tokens)
