"""The agent backend protocol and the typed events every backend emits.

A backend starts a session in a workspace; a session runs turns. Each turn streams
`AgentEvent`s to a callback (the orchestrator records them in the store) and ends with a
`TurnResult`. Cancelling the task running a turn must stop the agent (and its processes).
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Awaitable, Callable, Literal, Protocol

from tack.tracker.base import Issue, Tracker

if TYPE_CHECKING:
    from tack.questions.model import Asked
    from tack.sandbox.policy import SandboxPolicy

EventKind = Literal[
    "session_started",
    "message",
    "tool_call",
    "tool_result",
    "token_usage",
    "rate_limits",
    "notification",
    "error",
    "turn_completed",
    "turn_failed",
]


@dataclass
class TokenUsage:
    input_tokens: int = 0
    output_tokens: int = 0
    total_tokens: int = 0

    def __add__(self, other: TokenUsage) -> TokenUsage:
        return TokenUsage(
            self.input_tokens + other.input_tokens,
            self.output_tokens + other.output_tokens,
            self.total_tokens + other.total_tokens,
        )

    def to_dict(self) -> dict[str, int]:
        return {
            "input_tokens": self.input_tokens,
            "output_tokens": self.output_tokens,
            "total_tokens": self.total_tokens,
        }


@dataclass
class AgentEvent:
    """One thing an agent did or reported.

    `message` is a short human-readable summary; `data` holds structured detail (tool name and
    arguments, output excerpts, raw rate-limit payloads). `usage` on `token_usage` events is the
    *delta* for this event, so totals are a plain sum.
    """

    kind: EventKind
    message: str = ""
    data: dict[str, Any] = field(default_factory=dict)
    usage: TokenUsage | None = None
    at: float = field(default_factory=time.time)


EventSink = Callable[[AgentEvent], Awaitable[None]]


@dataclass
class TurnResult:
    ok: bool
    # Short reason on failure: "turn timeout", "model request failed: ...", "input required".
    error: str | None = None
    final_message: str = ""
    usage: TokenUsage = field(default_factory=TokenUsage)
    # The agent asked a person and stopped (docs/questions.md): the run parks on this.
    asked: Asked | None = None


@dataclass(frozen=True)
class ToolSpec:
    name: str
    description: str
    parameters: dict[str, Any]

    def chat_schema(self) -> dict[str, Any]:
        """Chat Completions `tools` entry."""
        return {
            "type": "function",
            "function": {
                "name": self.name,
                "description": self.description,
                "parameters": self.parameters,
            },
        }

    def responses_schema(self) -> dict[str, Any]:
        """Responses API `tools` entry."""
        return {
            "type": "function",
            "name": self.name,
            "description": self.description,
            "parameters": self.parameters,
        }


@dataclass
class ToolOutcome:
    ok: bool
    output: str


@dataclass(frozen=True)
class AgentTool:
    """A tool for the agent from a plug-in (`session_tools`): its schema, and
    `run(args, ctx, timeout_ms)` that answers a call (a `ToolInputError` it raises goes back
    to the model as an error)."""

    spec: ToolSpec
    run: Callable[[dict[str, Any], SessionContext, int], Awaitable[ToolOutcome]]


@dataclass
class SessionContext:
    """What a backend needs to start a session for one issue."""

    workspace: Path
    issue: Issue
    tracker: Tracker
    # Environment for subprocesses the agent starts (secrets of the tracker are never in it).
    env: dict[str, str] = field(default_factory=dict)
    # Called with the pid (process group id) of every long-lived child process the agent
    # starts, so a restarted orchestrator can sweep leftovers after a crash.
    on_process: Callable[[int, bool], None] | None = None
    # Plug-in tools for the session (`session_tools` hook); None offers Tack's own.
    tools: list[AgentTool] | None = None
    # The sandbox the agent's own commands run in (shell tool, command backend); None: none.
    sandbox: SandboxPolicy | None = None
    # The session may park on a question to a person (`ask_human`); only runs the
    # orchestrator can park and resume set it.
    can_park: bool = False


class AgentSession(Protocol):
    session_id: str | None

    async def run_turn(self, prompt: str, on_event: EventSink) -> TurnResult:
        """Send `prompt` as the next user message and run the agent until the turn ends."""
        ...

    async def stop(self) -> None:
        """Release the session: stop processes, close connections. Idempotent."""
        ...


class AgentBackend(Protocol):
    name: str

    async def start_session(self, ctx: SessionContext) -> AgentSession: ...
