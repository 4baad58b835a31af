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
from tack.sandbox.proxy import FilteringProxy, close_proxies, host_allowed

__all__ = [
    "FilteringProxy",
    "Limits",
    "SandboxPolicy",
    "SandboxSupport",
    "SandboxUnavailable",
    "SandboxedCommand",
    "bwrap_args",
    "close_proxies",
    "host_allowed",
    "policy_from_config",
    "prepare",
    "require_sandbox",
    "sandbox_support",
]
