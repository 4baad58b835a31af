"""The orchestrator's in-memory entries for running and retry-queued issues (SPEC §4.1.6-4.1.8)."""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, field
from typing import Any, Literal

from tack.agents.base import TokenUsage
from tack.tracker.base import Issue

CancelReason = Literal["terminal", "inactive", "missing", "stalled", "shutdown", "operator",
                       "handoff"]


@dataclass
class Totals:
    input_tokens: int = 0
    output_tokens: int = 0
    total_tokens: int = 0
    ended_seconds: float = 0.0


@dataclass
class RunningEntry:
    issue: Issue
    run_id: int
    attempt: int | None
    task: asyncio.Task[Any] | None = None  # resolves to the worker's AttemptOutcome
    started_at: float = field(default_factory=time.time)
    started_mono: float = field(default_factory=time.monotonic)
    last_activity_mono: float | None = None
    session_id: str | None = None
    turn_count: int = 0
    last_event: str | None = None
    last_event_at: float | None = None
    last_message: str = ""
    tokens: TokenUsage = field(default_factory=TokenUsage)
    workspace: str | None = None
    cancel_reason: CancelReason | None = None
    # When reconciliation first saw the issue in the hand-off state (monotonic): the run may
    # finish its turn until agent.handoff_grace_ms after that (orchestrator.grace).
    handed_off_mono: float | None = None
    # When the read that gave `issue` began (monotonic): a slower read that began earlier
    # (reconciliation waiting out a 429) must not overwrite it with an older state.
    issue_read_mono: float = 0.0
    # Which worker runs it: "local", or a `tack worker`'s identity under Temporal.
    worker: str | None = None

    @property
    def identifier(self) -> str:
        return self.issue.identifier


@dataclass
class RetryEntry:
    issue_id: str
    identifier: str
    attempt: int
    due_at: float  # wall clock, so it survives restarts
    error: str | None
    kind: str  # "continuation" | "failure" | "recovery" | "slots"
    issue_url: str | None = None

    def to_dict(self) -> dict[str, Any]:
        from tack.orchestrator.timefmt import iso

        return {
            "issue_id": self.issue_id,
            "issue_identifier": self.identifier,
            "issue_url": self.issue_url,
            "attempt": self.attempt,
            "due_at": iso(self.due_at),
            "due_in_ms": max(int((self.due_at - time.time()) * 1000), 0),
            "error": self.error,
            "kind": self.kind,
        }
