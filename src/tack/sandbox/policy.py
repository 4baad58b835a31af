"""What one agent's processes may reach: paths, hosts, environment names and limits.

A `SandboxPolicy` is built from WORKFLOW.md's `sandbox:` section plus the paths only Tack
knows (its state dir, the workspace root); `tack.sandbox.launch` turns it into a command line.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from tack.workflow.config import SandboxConfig
from tack.workflow.loader import Workflow

# Where HOME points inside the sandbox: under the private /tmp, so it starts empty each call.
SANDBOX_HOME = "/tmp/home"
# Always passed: Tack's own variables (the issue, the workspace, the prompt file) ...
ALWAYS_PREFIXES = ("TACK_",)
# ... but never one that looks like a credential (TACK_SERVER_TOKEN, a test stub's key).
SECRET_MARKERS = ("TOKEN", "KEY", "SECRET", "PASSWORD", "CREDENTIAL")


@dataclass(frozen=True)
class Limits:
    cpu_seconds: int = 600
    memory_mb: int = 4096
    processes: int = 1024


@dataclass(frozen=True)
class SandboxPolicy:
    """One sandbox's grants. Paths are absolute; `hide` entries need not exist."""

    allow_hosts: tuple[str, ...] = ()
    env_names: tuple[str, ...] = ()
    hide: tuple[Path, ...] = ()
    writable: tuple[Path, ...] = ()
    limits: Limits = field(default_factory=Limits)

    @property
    def network(self) -> bool:
        return bool(self.allow_hosts)

    def offline(self) -> SandboxPolicy:
        """The same policy with the network off (for untrusted issues)."""
        return replace(self, allow_hosts=())

    def environment(self, base: Mapping[str, str]) -> dict[str, str]:
        """The allowlisted part of `base`; HOME and TMPDIR point inside the sandbox."""
        names = set(self.env_names)
        env = {k: v for k, v in base.items()
               if k in names or (k.startswith(ALWAYS_PREFIXES)
                                 and not any(m in k.upper() for m in SECRET_MARKERS))}
        env["HOME"] = SANDBOX_HOME
        env["TMPDIR"] = "/tmp"
        env.setdefault("PATH", os.defpath)
        return env

    def describe(self) -> str:
        """One line for `tack doctor` and logs."""
        net = ("network: " + ", ".join(self.allow_hosts) + " (through Tack's proxy)"
               if self.allow_hosts else "network: off")
        lim = self.limits
        return (f"bubblewrap; workspace writable, the rest read-only; {net}; env: "
                f"{', '.join(self.env_names)} and TACK_*; limits: cpu {lim.cpu_seconds}s, "
                f"memory {lim.memory_mb} MB, {lim.processes} processes")


def _expand(path: str, base: Path | None) -> Path:
    p = Path(path).expanduser()
    if not p.is_absolute() and base is not None:
        p = base / p
    return Path(os.path.abspath(p))


def policy_from_config(config: SandboxConfig, *, workspace_root: Path | None = None,
                       tack_dir: Path | None = None, base_dir: Path | None = None
                       ) -> SandboxPolicy:
    """The policy of `sandbox:`; the other workspaces and Tack's state dir are hidden."""
    hide = [_expand(p, base_dir) for p in config.hide]
    hide += [Path(os.path.abspath(p)) for p in (workspace_root, tack_dir) if p is not None]
    limits = config.limits
    return SandboxPolicy(
        allow_hosts=tuple(h.strip().lower() for h in config.allow_hosts if h.strip()),
        env_names=tuple(config.env),
        hide=tuple(hide),
        writable=tuple(_expand(p, base_dir) for p in config.writable),
        limits=Limits(limits.cpu_seconds, limits.memory_mb, limits.processes),
    )


def _from_workflow(wf: Workflow, workspace_root: Path | None) -> SandboxPolicy:
    return policy_from_config(wf.config.sandbox, workspace_root=workspace_root or
                              wf.workspace_root(), tack_dir=wf.tack_dir, base_dir=wf.base_dir)


def agent_policy(wf: Workflow, workspace_root: Path | None = None, *,
                 trust: str = "trusted") -> SandboxPolicy | None:
    """The sandbox of the built-in agent's shell and the command backend; None when off.
    `workspace_root` (hidden inside, but for the agent's own workspace) defaults to the
    workflow's; an untrusted issue loses the network under `sandbox.untrusted: offline`."""
    if not wf.config.sandbox.enabled:
        return None
    policy = _from_workflow(wf, workspace_root)
    if trust != "trusted" and wf.config.sandbox.untrusted == "offline":
        return policy.offline()
    return policy


def hook_policy(wf: Workflow, workspace_root: Path | None = None) -> SandboxPolicy | None:
    """The sandbox of the workspace hooks (`sandbox.hooks`); None when they run unconfined."""
    return _from_workflow(wf, workspace_root) if wf.config.sandbox.hooks else None


def _domain(entry: str) -> str:
    """An `allow_hosts` entry as Claude Code's domain pattern (it has no ports)."""
    head, sep, tail = entry.rpartition(":")
    return head if sep and tail.isdigit() and not head.endswith(":") else entry


def claude_settings(policy: SandboxPolicy, workspace: Path | None = None) -> dict[str, Any]:
    """Claude Code's `sandbox` settings (`claude --settings`) for Tack's policy: its Bash tool
    runs in Claude's own bubblewrap sandbox with no way out of it, the same hosts, and the
    same paths hidden (the session's workspace read back in)."""
    return {"sandbox": {
        "enabled": True,
        "autoAllowBashIfSandboxed": True,
        # No `dangerouslyDisableSandbox` retries, and no command runs outside it.
        "allowUnsandboxedCommands": False,
        "excludedCommands": [],
        "network": {"allowedDomains": sorted({_domain(h) for h in policy.allow_hosts})},
        "filesystem": {
            "denyRead": [str(p) for p in policy.hide],
            "allowRead": [str(workspace)] if workspace is not None else [],
            "allowWrite": [str(p) for p in policy.writable],
        },
    }}
