"""Agent backends: the protocol, typed events, and `build_backend` for a workflow."""

from __future__ import annotations

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


def build_backend(workflow: Workflow) -> AgentBackend:
    """The backend `agent.backend` selects, configured from its section."""
    name = workflow.config.agent.backend
    if name == "builtin":
        from tack.agents.builtin import BuiltinBackend

        return BuiltinBackend(workflow.config.builtin)
    if name == "claude":
        from tack.agents.claude import ClaudeBackend

        return ClaudeBackend(workflow.config.claude)
    if name == "command":
        from tack.agents.command import CommandBackend

        return CommandBackend(workflow.config.command)
    if name == "codex":
        from tack.agents.codex import CodexBackend

        return CodexBackend(workflow.config.codex)
    from tack.plugins import default_plugins

    plugged = default_plugins().registered("register_agent_backends")
    if name in plugged:
        backend: AgentBackend = plugged[name](workflow)
        return backend
    raise AgentError(
        f"agent.backend {name!r} is not available yet in this Tack (available: builtin). "
        f"Set `agent: {{backend: builtin}}` and a `builtin:` section in {workflow.path}.",
        code="unsupported_agent_backend",
    )
