"""`workspace.strategy: overlay`: copy-on-write worktrees over one shared checkout per commit.
Needs root (CAP_SYS_ADMIN) and overlayfs; skipped where this process may not mount."""

from __future__ import annotations

import asyncio
import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from tack.orchestrator.recovery import ready_workspaces
from tack.tracker.base import Issue
from tack.tracker.local import LocalTracker
from tack.workflow.config import HooksConfig, TrackerConfig, WorkspaceConfig
from tack.workspace import WorkspaceManager
from tack.workspace import overlay_gc
from tack.workspace.overlay import Layers, can_mount, is_checked_out
from tests.conftest import git
from tests.e2e.harness import await_until




@pytest.fixture
def overlay_manager(tmp_path: Path, git_repo: Path) -> Iterator[WorkspaceManager]:
    if not can_mount(tmp_path / "probe"):
        pytest.skip("this process may not mount overlayfs (needs root / CAP_SYS_ADMIN)")
    (git_repo / "src").mkdir()
    (git_repo / "src" / "app.py").write_text("VALUE = 1\n")
    git(git_repo, "add", "-A")
    git(git_repo, "commit", "-q", "-m", "app")
    yield WorkspaceManager(root=tmp_path / "ws", repo=git_repo,
                           workspace=WorkspaceConfig(strategy="overlay"), hooks=HooksConfig())
    for path in (tmp_path / "ws").glob("*"):  # a failed test must not leave mounts behind
        if os.path.ismount(path):
            subprocess.run(["umount", str(path)], check=False)


def issue(identifier: str) -> Issue:
    return Issue(id=f"id-{identifier}", identifier=identifier, title="t", state="Todo")


def disk_kb(path: Path) -> int:
    return int(subprocess.run(["du", "-sk", str(path)], capture_output=True, text=True,
                              check=True).stdout.split()[0])


async def test_overlay_workspaces_share_one_checkout_and_git_works_in_each(
    tmp_path: Path, git_repo: Path, overlay_manager: WorkspaceManager
) -> None:
    one = await overlay_manager.prepare(issue("TACK-1"))
    two = await overlay_manager.prepare(issue("TACK-2"))
    for ws, branch in ((one, "tack/tack-1"), (two, "tack/tack-2")):
        assert git(ws.path, "rev-parse", "--abbrev-ref", "HEAD").strip() == branch
        assert (ws.path / "src" / "app.py").read_text() == "VALUE = 1\n"
        assert git(ws.path, "status", "--porcelain") == ""
    (one.path / "src" / "app.py").write_text("VALUE = 2\n")
    assert git(one.path, "status", "--porcelain").strip() == "M src/app.py"
    assert (two.path / "src" / "app.py").read_text() == "VALUE = 1\n"  # copy-on-write
    git(one.path, "commit", "-qam", "two")
    assert "two" in git(git_repo, "log", "--oneline", "-1", "tack/tack-1")
    assert git(git_repo, "rev-parse", "main") == git(two.path, "rev-parse", "HEAD")
    # The index is shared as a hard link until git writes one: one's commit left two's alone.
    assert git(two.path, "status", "--porcelain") == ""
    shared = next((tmp_path / "ws.bases").iterdir())
    assert git(shared, "status", "--porcelain") == ""
    # Only what changed is stored per workspace (an upper layer of a few KB).
    assert disk_kb(tmp_path / "ws.layers" / "TACK-2") < 64


async def test_removed_overlay_keeps_its_branch_and_comes_back_with_its_commits(
    tmp_path: Path, git_repo: Path, overlay_manager: WorkspaceManager
) -> None:
    ws = await overlay_manager.prepare(issue("TACK-3"))
    (ws.path / "fix.py").write_text("print('fixed')\n")
    git(ws.path, "add", "-A")
    git(ws.path, "commit", "-qm", "fix")
    assert await overlay_manager.remove("TACK-3") is True
    assert not ws.path.exists() and not (tmp_path / "ws.layers" / "TACK-3").exists()
    assert str(ws.path) not in git(git_repo, "worktree", "list")
    again = await overlay_manager.prepare(issue("TACK-3"))
    assert again.created_now and (again.path / "fix.py").read_text() == "print('fixed')\n"
    assert git(again.path, "status", "--porcelain") == ""
    # A reboot drops mounts: the next prepare mounts the same layers again, work intact.
    (again.path / "notes.txt").write_text("uncommitted\n")
    subprocess.run(["umount", str(again.path)], check=True)
    back = await overlay_manager.prepare(issue("TACK-3"))
    assert not back.created_now and (back.path / "notes.txt").read_text() == "uncommitted\n"
    assert await overlay_manager.remove("TACK-3") is True


async def test_warm_checks_out_the_base_ahead_and_a_moved_base_gets_its_own(
    tmp_path: Path, git_repo: Path, overlay_manager: WorkspaceManager
) -> None:
    first = git(git_repo, "rev-parse", "main").strip()
    await overlay_manager.warm()
    bases = tmp_path / "ws.bases"
    assert (bases / first / "src" / "app.py").is_file()  # before any workspace asked for it
    assert not (tmp_path / "ws").exists() or not any((tmp_path / "ws").iterdir())
    (git_repo / "src" / "app.py").write_text("VALUE = 3\n")
    git(git_repo, "commit", "-qam", "moved")
    moved = git(git_repo, "rev-parse", "main").strip()
    overlay_manager.refs.ttl_s = 0  # the next poll tick, as far as the refs are concerned
    ws = await overlay_manager.prepare(issue("TACK-4"))
    assert (ws.path / "src" / "app.py").read_text() == "VALUE = 3\n"
    assert git(ws.path, "status", "--porcelain") == ""
    # (`first` is collected now that no workspace uses it: tests/workspace/test_overlay_gc.py)
    assert (bases / moved / "src" / "app.py").is_file()


async def test_an_overlay_on_a_branch_made_after_the_read_shows_that_branch(
    tmp_path: Path, git_repo: Path, overlay_manager: WorkspaceManager
) -> None:
    await overlay_manager.prepare(issue("TACK-5"))  # reads the refs: no tack/tack-6 yet
    git(git_repo, "checkout", "-q", "-b", "tack/tack-6")
    (git_repo / "theirs.txt").write_text("made by hand\n")
    git(git_repo, "add", "-A")
    git(git_repo, "commit", "-qm", "theirs")
    git(git_repo, "checkout", "-q", "main")
    ws = await overlay_manager.prepare(issue("TACK-6"))
    assert overlay_manager.refs.reads == 1  # the stale read was used; git caught it
    assert (ws.path / "theirs.txt").read_text() == "made by hand\n"
    assert git(ws.path, "status", "--porcelain") == ""


async def test_a_burst_of_overlays_runs_no_worktree_add_and_git_works_in_each(
    tmp_path: Path, git_repo: Path, overlay_manager: WorkspaceManager, git_log: Path
) -> None:
    remote = tmp_path / "remote.git"
    git(tmp_path, "init", "-q", "--bare", str(remote))
    git(git_repo, "remote", "add", "origin", str(remote))
    await overlay_manager.warm()
    spaces = await asyncio.gather(*(overlay_manager.prepare(issue(f"TACK-{i}"))
                                    for i in range(10, 18)))
    ran = git_log.read_text()
    # Only the shared checkout is made by `git worktree add`; the 8 workspaces are written.
    assert ran.count("worktree add") == 1, ran
    listed = git(git_repo, "worktree", "list", "--porcelain")
    git(git_repo, "worktree", "prune")  # must not take them for stale
    assert git(git_repo, "worktree", "list", "--porcelain") == listed
    for ws in spaces:
        assert f"worktree {ws.path}\nHEAD " in listed
        assert f"branch refs/heads/{ws.branch}\n" in listed
        assert git(ws.path, "status", "--porcelain") == ""
        assert git(ws.path, "rev-parse", "--abbrev-ref", "HEAD").strip() == ws.branch
    one = spaces[0]
    (one.path / "src" / "app.py").write_text("VALUE = 5\n")
    git(one.path, "commit", "-qam", "five")
    git(one.path, "push", "-q", "origin", f"{one.branch}")
    assert "five" in git(remote, "log", "--oneline", "-1", str(one.branch))
    assert await overlay_manager.remove(one.identifier) is True
    assert str(one.path) not in git(git_repo, "worktree", "list")
    assert git(git_repo, "fsck", "--no-progress").strip() == ""


def restarted(manager: WorkspaceManager) -> WorkspaceManager:
    """A new manager on the same settings: what `tack up` has after a restart."""
    return WorkspaceManager(root=manager.root, repo=manager.repo, workspace=manager.config,
                            hooks=HooksConfig())


async def test_a_shared_checkout_cut_off_half_way_is_made_again_not_used(
    tmp_path: Path, git_repo: Path, overlay_manager: WorkspaceManager
) -> None:
    await overlay_manager.warm()
    lower = next((tmp_path / "ws.bases").iterdir())
    # What the checkout leaves when it is killed: the `.git` file is there, some files are
    # not, and neither the index nor Tack's marker is written yet.
    (lower / "src" / "app.py").unlink()
    admin = git_repo / ".git" / "worktrees" / lower.name
    (admin / "index").unlink()
    (admin / "tack-ready").unlink()
    ws = await restarted(overlay_manager).prepare(issue("TACK-7"))
    assert (ws.path / "src" / "app.py").read_text() == "VALUE = 1\n"
    assert git(ws.path, "status", "--porcelain") == ""


async def test_a_shared_checkout_left_by_an_earlier_run_is_reused_and_put_back_if_changed(
    tmp_path: Path, git_repo: Path, overlay_manager: WorkspaceManager, git_log: Path
) -> None:
    await overlay_manager.warm()
    lower = next((tmp_path / "ws.bases").iterdir())
    # Someone edited the shared checkout by hand while Tack was down.
    (lower / "src" / "app.py").write_text("VALUE = 'edited by hand'\n")
    (lower / "stray.txt").write_text("not in the commit\n")
    git_log.write_text("")
    ws = await restarted(overlay_manager).prepare(issue("TACK-8"))
    assert "worktree add" not in git_log.read_text()  # reused, not checked out again
    assert (ws.path / "src" / "app.py").read_text() == "VALUE = 1\n"
    assert not (ws.path / "stray.txt").exists()
    assert git(ws.path, "status", "--porcelain") == ""
    assert git(lower, "status", "--porcelain") == ""


async def test_a_workspace_does_not_wait_for_the_shared_checkout_of_another_commit(
    tmp_path: Path, git_repo: Path, overlay_manager: WorkspaceManager
) -> None:
    await overlay_manager.warm()
    # The collection `warm` starts must see `first` as the base, or it removes its checkout
    # and TACK-9's would be made again (through the hook below).
    await overlay_gc.idle(Layers(overlay_manager.root))
    first = git(git_repo, "rev-parse", "main").strip()
    git(git_repo, "branch", "tack/tack-9", "main")  # an issue whose branch exists already
    (git_repo / "src" / "app.py").write_text("VALUE = 2\n")
    git(git_repo, "commit", "-qam", "moved")
    # The moved base's checkout stops in its post-checkout hook until the test lets it go.
    gate, started = tmp_path / "gate", tmp_path / "hook-started"
    os.mkfifo(gate)
    hook = git_repo / ".git" / "hooks" / "post-checkout"
    hook.write_text(f"#!/bin/sh\ntouch {started}\nread line < {gate}\n")
    hook.chmod(0o755)
    overlay_manager.refs.ttl_s = 0
    waiting = asyncio.ensure_future(overlay_manager.prepare(issue("TACK-10")))  # new: moved base
    await await_until(started.exists, timeout=60, what="the moved base's checkout")
    try:
        ready = await asyncio.wait_for(overlay_manager.prepare(issue("TACK-9")), 60)
        assert git(ready.path, "rev-parse", "HEAD").strip() == first
        assert git(ready.path, "status", "--porcelain") == ""
        assert not waiting.done()
        # Meanwhile the waiting workspace's own part is made: its branch and its layers.
        await await_until(lambda: (tmp_path / "ws.layers" / "TACK-10" / "upper" / ".git")
                          .is_file(), timeout=60, what="TACK-10's layers")
        await await_until(lambda: git(git_repo, "branch", "--list", "tack/tack-10").strip(),
                          timeout=60, what="TACK-10's branch")
        assert not os.path.ismount(tmp_path / "ws" / "TACK-10")
    finally:
        hook.unlink()
        await asyncio.to_thread(gate.write_text, "go\n")
    ws = await asyncio.wait_for(waiting, 60)
    assert (ws.path / "src" / "app.py").read_text() == "VALUE = 2\n"
    assert git(ws.path, "status", "--porcelain") == ""


async def test_start_up_checks_the_base_out_before_any_issue_asks(
    tmp_path: Path, git_repo: Path, overlay_manager: WorkspaceManager
) -> None:
    tracker = LocalTracker(tmp_path / "issues.db")
    await ready_workspaces(tracker, overlay_manager, TrackerConfig(kind="local"))
    await tracker.close()
    head = git(git_repo, "rev-parse", "main").strip()
    lower = tmp_path / "ws.bases" / head
    await await_until(lambda: is_checked_out(lower), timeout=60)
    assert (lower / "src" / "app.py").read_text() == "VALUE = 1\n"
