"""Bringing an issue branch from the shared remote onto a worker (temporal/branches.py)."""

from __future__ import annotations

import asyncio
import shutil
from pathlib import Path

from tack.orchestrator.temporal.branches import pull_branch
from tests.conftest import git


def test_a_branch_held_by_a_removed_worktree_is_still_fetched_from_the_remote(
    tmp_path: Path,
) -> None:
    # This machine once had the worktree; its directory is gone but git still has
    # it registered, which makes git refuse to fetch into the branch.
    repo, remote, old = tmp_path / "repo", tmp_path / "remote.git", tmp_path / "old-worktree"
    repo.mkdir()
    git(repo, "init", "-q", "-b", "main")
    git(repo, "commit", "-q", "--allow-empty", "-m", "initial")
    git(tmp_path, "init", "-q", "--bare", "-b", "main", str(remote))
    git(repo, "remote", "add", "origin", str(remote))
    git(repo, "branch", "tack/tack-1")
    git(repo, "worktree", "add", "-q", str(old), "tack/tack-1")
    shutil.rmtree(old)
    # Another worker pushed a turn to the branch meanwhile.
    other = tmp_path / "other"
    git(tmp_path, "clone", "-q", str(repo), str(other))
    git(other, "commit", "-q", "--allow-empty", "-m", "turn 1")
    git(other, "push", "-q", str(remote), "HEAD:refs/heads/tack/tack-1")

    assert asyncio.run(pull_branch(repo, tmp_path / "ws" / "TACK-1", "origin", "tack/tack-1"))
    assert git(repo, "log", "-1", "--format=%s", "tack/tack-1").strip() == "turn 1"
