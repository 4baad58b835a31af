"""Per-issue workspaces: keys, root containment, git worktrees and lifecycle hooks."""

from __future__ import annotations

from tack.workspace.hooks import HookError, HookResult, run_hook
from tack.workspace.keys import contained_path, workspace_key
from tack.workspace.manager import Workspace, WorkspaceManager

__all__ = [
    "HookError",
    "HookResult",
    "Workspace",
    "WorkspaceManager",
    "contained_path",
    "run_hook",
    "workspace_key",
]
