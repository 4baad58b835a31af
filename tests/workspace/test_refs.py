"""The base commit and the branch list are read once for a burst of workspaces, not twice
per workspace, and a stale read never puts a workspace on the wrong commit. Real git; a
wrapper on PATH records each git command before running the real one."""

from __future__ import annotations

import asyncio
from pathlib import Path

from tack.tracker.base import Issue
from tack.workflow.config import HooksConfig, WorkspaceConfig
from tack.workspace import WorkspaceManager
from tests.conftest import git


def issue(identifier: str) -> Issue:
    return Issue(id=f"id-{identifier}", identifier=identifier, title="t", state="Todo")


async def test_a_burst_of_workspaces_reads_the_base_and_branches_once(
    tmp_path: Path, git_repo: Path, git_log: Path
) -> None:
    manager = WorkspaceManager(root=tmp_path / "ws", repo=git_repo,
                               workspace=WorkspaceConfig(strategy="worktree"),
                               hooks=HooksConfig())
    spaces = await asyncio.gather(*(manager.prepare(issue(f"TACK-{i}")) for i in range(6)))
    for ws in spaces:
        assert git(ws.path, "rev-parse", "--abbrev-ref", "HEAD").strip() == ws.branch
        assert git(ws.path, "status", "--porcelain") == ""
    commands = git_log.read_text().splitlines()
    # One to resolve `auto`/`worktree`, one for the base commit; none per workspace.
    assert sum(c.startswith("-C") and " rev-parse " in c for c in commands) == 2, commands
    assert sum(" for-each-ref " in c for c in commands) == 1
    assert manager.refs.reads == 1


async def test_a_branch_made_after_the_read_is_checked_out_as_it_is(
    tmp_path: Path, git_repo: Path
) -> None:
    manager = WorkspaceManager(root=tmp_path / "ws", repo=git_repo,
                               workspace=WorkspaceConfig(strategy="worktree"),
                               hooks=HooksConfig())
    await manager.prepare(issue("TACK-1"))  # reads the refs: tack/tack-2 does not exist yet
    git(git_repo, "checkout", "-q", "-b", "tack/tack-2")
    (git_repo / "theirs.txt").write_text("made by hand\n")
    git(git_repo, "add", "-A")
    git(git_repo, "commit", "-qm", "theirs")
    git(git_repo, "checkout", "-q", "main")
    ws = await manager.prepare(issue("TACK-2"))
    assert manager.refs.reads == 1  # the stale read was used, and git's refusal caught it
    assert (ws.path / "theirs.txt").read_text() == "made by hand\n"
    assert git(ws.path, "status", "--porcelain") == ""
