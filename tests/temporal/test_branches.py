"""Bringing an issue branch from the shared remote onto a worker (temporal/branches.py)."""

from __future__ import annotations

import asyncio
import shutil
from pathlib import Path

from tack.orchestrator.temporal.branches import checkpoint, pull_branch
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


def test_a_checkpoint_commits_what_the_agent_left_and_reports_head(tmp_path: Path) -> None:
    ws = tmp_path / "ws"
    ws.mkdir()
    git(ws, "init", "-q", "-b", "main")
    git(ws, "commit", "-q", "--allow-empty", "-m", "initial")
    start = git(ws, "rev-parse", "HEAD").strip()

    # Nothing left: no commit, and HEAD as it was (read from `git status`).
    assert asyncio.run(checkpoint(ws, "tack: TACK-1 turn 1")) == start
    assert git(ws, "rev-list", "--count", "HEAD").strip() == "1"

    # An untracked file and a change the agent did not commit: one commit holds both.
    (ws / "new.txt").write_text("new\n")
    head = asyncio.run(checkpoint(ws, "tack: TACK-1 turn 2"))
    assert head == git(ws, "rev-parse", "HEAD").strip() != start
    assert git(ws, "log", "-1", "--format=%s").strip() == "tack: TACK-1 turn 2"
    assert git(ws, "status", "--porcelain").strip() == ""
