"""The few git commands workspaces need, run as asyncio subprocesses.

Git's own lock files make concurrent `git worktree add` in one repository fail, so callers
serialise registrations per repository (see `WorkspaceManager`); writing a worktree's files
(`populate`), the part that grows with the repository, runs outside that lock.
"""

from __future__ import annotations

import asyncio
import os
from pathlib import Path

from tack.errors import WorkspaceError
from tack.workspace.hooks import kill_group


async def git(repo: Path, *args: str, check: bool = True,
              stdin: str | None = None) -> tuple[int, str]:
    """Run `git -C repo args...` (`stdin` written to it); returns (exit code, output)."""
    env = {**os.environ, "GIT_TERMINAL_PROMPT": "0"}
    # Variables set by an enclosing git hook would point git at the wrong repository.
    for var in ("GIT_DIR", "GIT_WORK_TREE", "GIT_INDEX_FILE"):
        env.pop(var, None)
    try:
        proc = await asyncio.create_subprocess_exec(
            "git", "-C", str(repo), *args,
            stdin=asyncio.subprocess.DEVNULL if stdin is None else asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.STDOUT,
            env=env,
            start_new_session=True,  # its own group, so a cancel reaches ssh and remote helpers
        )
    except FileNotFoundError as exc:
        raise WorkspaceError(
            "git is not installed or not on PATH; install git or set "
            "`workspace.strategy: directory` in WORKFLOW.md.",
            code="workspace_git_missing",
        ) from exc
    try:
        out, _ = await proc.communicate(None if stdin is None else stdin.encode())
    except BaseException:
        # Cancelled (the run stopped, or a step hung): git and its helpers must not linger.
        if proc.returncode is None:
            await asyncio.shield(kill_group(proc))
        raise
    text = out.decode("utf-8", errors="replace").strip()
    code = proc.returncode if proc.returncode is not None else -1
    if check and code != 0:
        raise WorkspaceError(
            f"`git {' '.join(args)}` failed in {repo} (exit {code}): {text[-2000:]}",
            code="workspace_git_failed",
        )
    return code, text


async def is_work_tree(repo: Path) -> bool:
    if not repo.is_dir():
        return False
    code, out = await git(repo, "rev-parse", "--is-inside-work-tree", check=False)
    return code == 0 and out.strip() == "true"


async def branch_exists(repo: Path, branch: str) -> bool:
    code, _ = await git(repo, "rev-parse", "--verify", "--quiet", f"refs/heads/{branch}",
                        check=False)
    return code == 0


async def add_worktree(repo: Path, path: Path, branch: str, base: str | None,
                       exists: bool | None = None) -> bool:
    """Register a worktree at `path` on `branch`, without its files (`populate` writes them);
    create the branch from `base` only if it is new. True when it created the branch.

    An existing branch is checked out as it is, never reset, so commits from an earlier
    run whose workspace was removed are kept. Only this step takes the repository's locks;
    it costs the same for any repository size. `exists`: whether the branch exists, when
    the caller asked git before taking the lock (one git process fewer inside it).
    """
    found = exists if exists is not None else await branch_exists(repo, branch)
    if await _register(repo, path, branch, base, found, check=False) != 0:
        # Usually a stale registration of a worktree directory someone deleted by hand, or
        # `exists` was stale: prune (only then: it scans every worktree) and try once more.
        await git(repo, "worktree", "prune")
        found = await branch_exists(repo, branch)
        await _register(repo, path, branch, base, found, check=True)
    return not found


async def _register(repo: Path, path: Path, branch: str, base: str | None, exists: bool, *,
                    check: bool) -> int:
    if exists:
        args = ["worktree", "add", "--no-checkout", str(path), branch]
    else:
        args = ["worktree", "add", "--no-checkout", "-b", branch, str(path), base or "HEAD"]
    code, _ = await git(repo, *args, check=check)
    return code


async def populate(path: Path) -> None:
    """Write the files and index of the worktree at `path` (registered by `add_worktree`).
    It touches only that worktree's own index and files, so several run at once; the
    repository's `post-checkout` hook runs here, as it would in `git worktree add`."""
    await git(path, "checkout", "--quiet", "--force")


async def remove_worktree(repo: Path, path: Path) -> None:
    """Remove the worktree at `path`; its branch stays."""
    await git(repo, "worktree", "remove", "--force", str(path), check=False)
    await git(repo, "worktree", "prune", check=False)
