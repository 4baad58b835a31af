"""Sandboxes for agents' commands: bubblewrap, a filtering network proxy, an environment
allowlist and limits (docs/sandbox.md).

`prepare(argv, policy, workspace, env)` returns the command line and environment to spawn;
nothing here starts the command itself, so each caller keeps its own process handling.
"""

from __future__ import annotations

from tack.sandbox.launch import (
    SandboxedCommand,
    SandboxSupport,
    SandboxUnavailable,
    bwrap_args,
    prepare,
    require_sandbox,
    sandbox_support,
)
from tack.sandbox.policy import Limits, SandboxPolicy, policy_from_config
from tack.sandbox.proxy import FilteringProxy, host_allowed
from tack.sandbox.proxy import close_proxies as _close_proxies
from tack.sandbox.session import CommandEnd, SessionSandbox, close_sessions, run_in_session, session_for


async def close_proxies() -> None:
    """Stop this event loop's session sandboxes and proxies (tests, a stopping Tack)."""
    await close_sessions()
    await _close_proxies()


__all__ = [
    "CommandEnd",
    "FilteringProxy",
    "Limits",
    "SandboxPolicy",
    "SandboxSupport",
    "SandboxUnavailable",
    "SandboxedCommand",
    "SessionSandbox",
    "bwrap_args",
    "close_proxies",
    "close_sessions",
    "host_allowed",
    "policy_from_config",
    "prepare",
    "require_sandbox",
    "run_in_session",
    "sandbox_support",
    "session_for",
]
