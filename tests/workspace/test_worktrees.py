"""Workspaces as git worktrees in a real repository: branches, reuse, removal, hooks, load."""

from __future__ import annotations

import asyncio
import os
import time
from pathlib import Path

import psutil
import pytest

from tack.errors import WorkspaceError
from tack.tracker.base import Issue
from tack.workflow.config import HooksConfig, WorkspaceConfig
from tack.workspace import HookError, WorkspaceManager
from tests.conftest import git


def issue(identifier: str, branch_name: str | None = None) -> Issue:
    return Issue(id=f"id-{identifier}", identifier=identifier, title="t", state="Todo",
                 branch_name=branch_name)


def manager(tmp_path: Path, repo: Path, hooks: HooksConfig | None = None,
            **ws: object) -> WorkspaceManager:
    return WorkspaceManager(root=tmp_path / "ws", repo=repo,
                            workspace=WorkspaceConfig(**ws),  # type: ignore[arg-type]
                            hooks=hooks or HooksConfig())


def head_branch(path: Path) -> str:
    return git(path, "rev-parse", "--abbrev-ref", "HEAD").strip()


async def test_worktree_is_created_on_the_issue_branch_from_head(tmp_path: Path,
                                                                  git_repo: Path) -> None:
    mgr = manager(tmp_path, git_repo)
    ws = await mgr.prepare(issue("TACK-1"))
    assert ws.created_now and ws.path == (tmp_path / "ws" / "TACK-1")
    assert ws.branch == "tack/tack-1" == head_branch(ws.path)
    assert (ws.path / "README.md").read_text() == "# demo repo\n"
    assert git(ws.path, "rev-parse", "HEAD") == git(git_repo, "rev-parse", "HEAD")
    assert str(ws.path) in git(git_repo, "worktree", "list")


async def test_worktree_starts_from_base_ref_and_tracker_branch_name_wins(
    tmp_path: Path, git_repo: Path
) -> None:
    first = git(git_repo, "rev-parse", "HEAD").strip()
    (git_repo / "later.txt").write_text("later\n")
    git(git_repo, "add", "-A")
    git(git_repo, "commit", "-q", "-m", "later")
    mgr = manager(tmp_path, git_repo, base_ref=first)
    ws = await mgr.prepare(issue("TACK-2", branch_name="feature/login"))
    assert head_branch(ws.path) == "feature/login"
    assert git(ws.path, "rev-parse", "HEAD").strip() == first
    assert not (ws.path / "later.txt").exists()


async def test_existing_worktree_is_reused_without_reset(tmp_path: Path, git_repo: Path) -> None:
    mgr = manager(tmp_path, git_repo)
    ws = await mgr.prepare(issue("TACK-1"))
    (ws.path / "work.txt").write_text("in progress\n")
    git(ws.path, "add", "-A")
    git(ws.path, "commit", "-q", "-m", "agent work")
    (ws.path / "scratch.txt").write_text("uncommitted\n")
    again = await mgr.prepare(issue("TACK-1"))
    assert not again.created_now and again.path == ws.path
    assert (again.path / "scratch.txt").read_text() == "uncommitted\n"
    assert "agent work" in git(again.path, "log", "--oneline", "-1")


async def test_removal_keeps_the_branch_and_a_new_workspace_resumes_its_commits(
    tmp_path: Path, git_repo: Path
) -> None:
    mgr = manager(tmp_path, git_repo)
    ws = await mgr.prepare(issue("TACK-7"))
    (ws.path / "fix.py").write_text("print('fixed')\n")
    git(ws.path, "add", "-A")
    git(ws.path, "commit", "-q", "-m", "fix")
    assert await mgr.remove("TACK-7") is True
    assert not ws.path.exists()
    assert str(ws.path) not in git(git_repo, "worktree", "list")
    assert "fix" in git(git_repo, "log", "--oneline", "-1", "tack/tack-7")
    assert await mgr.remove("TACK-7") is False

    again = await mgr.prepare(issue("TACK-7"))
    assert again.created_now
    assert (again.path / "fix.py").read_text() == "print('fixed')\n"
    assert head_branch(again.path) == "tack/tack-7"


async def test_auto_strategy_uses_a_plain_directory_outside_git(tmp_path: Path) -> None:
    plain = tmp_path / "plain"
    plain.mkdir()
    ws = await manager(tmp_path, plain).prepare(issue("TACK-1"))
    assert ws.path.is_dir() and ws.branch is None and not (ws.path / ".git").exists()
    with pytest.raises(WorkspaceError, match="not a git work tree"):
        await manager(tmp_path, plain, strategy="worktree").prepare(issue("TACK-2"))


async def test_after_create_failure_removes_the_new_worktree(tmp_path: Path,
                                                             git_repo: Path) -> None:
    mgr = manager(tmp_path, git_repo, HooksConfig(after_create="echo bootstrap broke; exit 3"))
    with pytest.raises(HookError) as err:
        await mgr.prepare(issue("TACK-1"))
    assert err.value.exit_code == 3 and "bootstrap broke" in err.value.message
    assert "hooks.after_create" in err.value.message
    assert not (tmp_path / "ws" / "TACK-1").exists()
    assert str(tmp_path / "ws" / "TACK-1") not in git(git_repo, "worktree", "list")


def _group_has_live_process(pgid: int) -> bool:
    # PID 1 in a container may never reap orphans, and a zombie still "exists" for kill(0);
    # a zombie runs no code, so only live members count as survivors.
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    for proc in psutil.process_iter(["status"]):
        try:
            if os.getpgid(proc.pid) == pgid and proc.info["status"] != psutil.STATUS_ZOMBIE:
                return True
        except (ProcessLookupError, psutil.Error):
            continue
    return False


async def test_hook_timeout_kills_the_whole_process_group(tmp_path: Path,
                                                          git_repo: Path) -> None:
    marker = tmp_path / "pgid"
    # The hook leads its own process group, so its pgid is the shell's pid; written first with
    # a builtin (a `ps` child could still be starting at the timeout on a loaded machine).
    script = f"echo $$ > {marker}; sleep 100 & wait"
    mgr = manager(tmp_path, git_repo, HooksConfig(before_run=script, timeout_ms=3000))
    ws = await mgr.prepare(issue("TACK-1"))
    started = time.monotonic()
    with pytest.raises(HookError) as err:
        await mgr.before_run(ws)
    assert err.value.timed_out and err.value.code == "hook_timeout"
    assert time.monotonic() - started < 60  # killed at its timeout, not after `sleep 100`
    pgid = int(marker.read_text().strip())
    deadline = time.monotonic() + 20
    while _group_has_live_process(pgid) and time.monotonic() < deadline:
        await asyncio.sleep(0.05)
    assert not _group_has_live_process(pgid)


async def test_ten_concurrent_prepares_all_get_their_own_worktree(tmp_path: Path,
                                                                  git_repo: Path) -> None:
    mgr = manager(tmp_path, git_repo)
    spaces = await asyncio.gather(*(mgr.prepare(issue(f"TACK-{n}")) for n in range(1, 11)))
    assert len({ws.path for ws in spaces}) == 10
    for n, ws in enumerate(spaces, start=1):
        assert ws.created_now and head_branch(ws.path) == f"tack/tack-{n}"
    listed = git(git_repo, "worktree", "list")
    assert all(str(ws.path) in listed for ws in spaces)
    removed = await asyncio.gather(*(mgr.remove(f"TACK-{n}") for n in range(1, 11)))
    assert all(removed)
    assert "ws/TACK" not in git(git_repo, "worktree", "list")


async def test_the_per_issue_lock_table_does_not_grow_with_issues_that_ended(
        tmp_path: Path, git_repo: Path) -> None:
    # A long-running `tack up` prepares workspaces for issue after issue: the lock of an
    # issue no one prepares or removes any more must not stay behind.
    mgr = manager(tmp_path, git_repo, strategy="directory")
    for batch in range(3):
        issues = [issue(f"TACK-{batch * 10 + n}") for n in range(10)]
        # Two prepares of each issue at once: the lock still lets only one create it.
        made = await asyncio.gather(*(mgr.prepare(i) for i in issues for _ in range(2)))
        assert sum(ws.created_now for ws in made) == 10
        assert all(await asyncio.gather(*(mgr.remove(i.identifier) for i in issues)))
        assert mgr._key_locks == {}
