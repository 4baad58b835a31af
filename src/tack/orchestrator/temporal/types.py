"""Data passed between the orchestrator, the issue-run workflow and its activities.

Plain dataclasses of JSON-friendly fields: Temporal's default converter stores them in the
workflow history, so changing a field is a change of the wire format.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

WORKFLOW_NAME = "TackIssueRun"
PREPARE_ACTIVITY = "tack.prepare_workspace"
TURN_ACTIVITY = "tack.run_turn"
HANDOFF_ACTIVITY = "tack.hand_off"
# Error types the workflow must not retry: the same input fails the same way again.
NON_RETRYABLE = ["TackConfigError"]


def workflow_id(issue_id: str) -> str:
    """One workflow id per issue, so two dispatches of an issue meet the same execution."""
    return f"tack-{issue_id}"


@dataclass
class RunInput:
    issue_id: str
    identifier: str
    attempt: int | None
    run_id: int
    # Timing decided by the orchestrator's WORKFLOW.md; the workflow code reads no files.
    max_turns: int
    turn_timeout_ms: int
    stall_timeout_ms: int
    max_retry_backoff_ms: int
    hooks_timeout_ms: int
    # A parked question answered (docs/questions.md): the first turn continues the saved
    # conversation with `answer` instead of starting over.
    resume: dict[str, Any] | None = None
    answer: str | None = None
    # Set by orchestrators that know the fused layout (workflows.FUSED_STEPS): the workflow
    # then needs no patch marker, whose search-attribute update costs two history events and
    # a visibility write per run. Absent (False) in inputs recorded before it.
    fused_steps: bool = False


@dataclass
class TurnInput:
    run: RunInput
    turn: int


@dataclass
class Tokens:
    input_tokens: int = 0
    output_tokens: int = 0
    total_tokens: int = 0

    def plus(self, other: Tokens) -> Tokens:
        return Tokens(
            self.input_tokens + other.input_tokens,
            self.output_tokens + other.output_tokens,
            self.total_tokens + other.total_tokens,
        )


@dataclass
class Progress:
    """An agent activity's heartbeat details: the latest event, for the dashboard."""

    worker: str
    turn: int
    seq: int = 0
    kind: str = ""
    message: str = ""
    at: float = 0.0
    session_id: str | None = None
    tokens: Tokens = field(default_factory=Tokens)


@dataclass
class PrepareOutcome:
    worker: str
    workspace: str
    created: bool
    branch: str | None


@dataclass
class TurnOutcome:
    worker: str
    workspace: str
    # False when the issue left the active states (handed off, closed, unroutable).
    active: bool
    state: str | None
    session_id: str | None = None
    tokens: Tokens = field(default_factory=Tokens)
    head: str | None = None
    # The issue branch the turn pushed `head` to on the shared remote (None: not pushed).
    pushed_branch: str | None = None
    # The agent asked a person (`tack.questions.model.Asked` as a dict): the run parks.
    asked: dict[str, Any] | None = None


@dataclass
class HandOffOutcome:
    worker: str
    branch: str | None
    head: str | None
    pushed: bool


@dataclass
class RunResult:
    status: str  # succeeded
    turns: int
    worker: str
    workspace: str
    tokens: Tokens = field(default_factory=Tokens)
    branch: str | None = None
    head: str | None = None
    error: str | None = None
    asked: dict[str, Any] | None = None
