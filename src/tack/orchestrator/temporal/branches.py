"""Issue branches on the shared git remote: how a run's work moves between workers.

A worker pushes the issue branch after every completed turn and starts every step from the
remote's copy, so a turn retried on another machine continues from the last completed turn.
"""

from __future__ import annotations

import os
from pathlib import Path

import structlog

from tack.workspace.git import git

log = structlog.get_logger("tack.temporal.branches")

_IDENTITY = ("-c", "user.name=Tack Worker", "-c", "user.email=worker@tack.invalid")


# Remotes seen to exist: asked once per worker, not before every fetch and push (a git
# process each). One removed later makes the push fail, and Temporal retries the turn.
_KNOWN_REMOTES: set[tuple[Path, str]] = set()


async def has_remote(repo: Path, remote: str) -> bool:
    if (repo, remote) in _KNOWN_REMOTES:
        return True
    code, _ = await git(repo, "remote", "get-url", remote, check=False)
    if code == 0:
        _KNOWN_REMOTES.add((repo, remote))
    return code == 0


async def pull_branch(repo: Path, workspace: Path, remote: str, branch: str) -> bool:
    """Bring the remote's `branch` here; True when the remote has it.

    Without a local workspace the local branch is set to the remote's (the remote is the
    run's record); with one, the workspace is fast-forwarded and local-only work is kept.
    """
    if not await has_remote(repo, remote):
        return False
    if not workspace.is_dir():
        refspec = f"+refs/heads/{branch}:refs/heads/{branch}"
        code, out = await git(repo, "fetch", "--quiet", remote, refspec, check=False)
        if code != 0 and "checked out" in out:
            # A removed worktree still registered holds the branch: forget it and fetch again
            # (pruning only then spares a git process on every dispatch).
            await git(repo, "worktree", "prune", check=False)
            code, out = await git(repo, "fetch", "--quiet", remote, refspec, check=False)
        if code != 0 and "couldn't find remote ref" not in out:
            log.warning("branch fetch failed", branch=branch, output=out[-500:])
        return code == 0
    code, _ = await git(workspace, "fetch", "--quiet", remote, f"refs/heads/{branch}", check=False)
    if code != 0:
        return False
    code, out = await git(workspace, "merge", "--ff-only", "--quiet", "FETCH_HEAD", check=False)
    if code != 0:
        log.warning("workspace diverged from the remote branch; keeping local work",
                    branch=branch, output=out[-500:])
    return True


async def checkpoint(workspace: Path, message: str) -> str | None:
    """Commit whatever the agent left uncommitted; returns HEAD (None outside git)."""
    if not (workspace / ".git").exists():
        return None
    # One process tells both whether anything is left and, when nothing is, HEAD.
    _, status = await git(workspace, "status", "--porcelain=v2", "--branch")
    lines = status.splitlines()
    if any(not line.startswith("# ") for line in lines if line):
        await git(workspace, "add", "-A")
        identity = () if await _has_identity(workspace) else _IDENTITY
        await git(workspace, *identity, "commit", "--quiet", "--no-verify", "-m", message)
    else:
        oid = next((line.split()[2] for line in lines if line.startswith("# branch.oid ")), "")
        if oid and oid != "(initial)":
            return oid
    _, head = await git(workspace, "rev-parse", "HEAD")
    return head.strip()


async def push_branch(repo: Path, workspace: Path, remote: str, branch: str) -> bool:
    """Push the workspace's HEAD to `remote`'s `branch`; False when there is no such remote."""
    if not await has_remote(repo, remote):
        log.warning("no git remote to push to; the branch stays on this worker",
                    remote=remote, branch=branch)
        return False
    await git(workspace, "push", "--quiet", remote, f"HEAD:refs/heads/{branch}")
    return True


async def remote_head(repo: Path, remote: str, branch: str) -> str | None:
    if not await has_remote(repo, remote):
        return None
    code, out = await git(repo, "ls-remote", remote, f"refs/heads/{branch}", check=False)
    return out.split()[0] if code == 0 and out.strip() else None


async def _has_identity(workspace: Path) -> bool:
    if os.environ.get("GIT_AUTHOR_EMAIL") and os.environ.get("GIT_COMMITTER_EMAIL"):
        return True
    code, _ = await git(workspace, "config", "user.email", check=False)
    return code == 0
