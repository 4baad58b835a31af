"""Agent backends: the protocol, typed events, and `build_backend` for a workflow."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from tack.agents.base import (
    AgentBackend,
    AgentEvent,
    AgentSession,
    EventSink,
    SessionContext,
    TokenUsage,
    TurnResult,
)
from tack.errors import AgentError

if TYPE_CHECKING:
    from tack.workflow import Workflow

__all__ = [
    "AgentBackend",
    "AgentEvent",
    "AgentSession",
    "EventSink",
    "SessionContext",
    "TokenUsage",
    "TurnResult",
    "build_backend",
]


# Backends plug-ins register (`register_agent_backends`), by `agent.backend` name.
PLUGGED_BACKENDS: dict[str, Callable[[Workflow], AgentBackend]] = {}


def build_backend(workflow: Workflow) -> AgentBackend:
    """The backend `agent.backend` selects, configured from its section."""
    name = workflow.config.agent.backend
    if name == "builtin":
        from tack.agents.builtin import BuiltinBackend

        return BuiltinBackend(workflow.config.builtin,
                              skills_budget=workflow.config.skills.budget_chars())
    if name == "claude":
        from tack.agents.claude import ClaudeBackend

        return ClaudeBackend(workflow.config.claude)
    if name == "command":
        from tack.agents.command import CommandBackend

        return CommandBackend(workflow.config.command)
    if name == "codex":
        from tack.agents.codex import CodexBackend

        return CodexBackend(workflow.config.codex)
    if name in PLUGGED_BACKENDS:
        return PLUGGED_BACKENDS[name](workflow)
    raise AgentError(
        f"agent.backend {name!r} is not available yet in this Tack (available: builtin). "
        f"Set `agent: {{backend: builtin}}` and a `builtin:` section in {workflow.path}.",
        code="unsupported_agent_backend",
    )
