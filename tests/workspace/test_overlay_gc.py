"""Removing the shared checkouts overlay workspaces no longer use (`tack.workspace.overlay_gc`):
only unused ones, never a lower a workspace on disk will be mounted on again, crash-safe.
Needs root (CAP_SYS_ADMIN) and overlayfs; skipped where this process may not mount."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tack.cli.doctor import run_checks
from tack.orchestrator.recovery import ready_workspaces
from tack.tracker.local import LocalTracker
from tack.workflow.config import HooksConfig, TrackerConfig, WorkspaceConfig
from tack.tracker.base import Issue
from tack.workspace import WorkspaceManager, overlay_gc
from tack.workspace.overlay import Layers, can_mount
from tests.conftest import git
from tests.e2e.harness import await_until

COMMITTED = "VALUE = {}\n"


def manager(tmp_path: Path, repo: Path) -> WorkspaceManager:
    return WorkspaceManager(root=tmp_path / "ws", repo=repo,
                            workspace=WorkspaceConfig(strategy="overlay"), hooks=HooksConfig())


@pytest.fixture
def overlays(tmp_path: Path, git_repo: Path) -> Iterator[WorkspaceManager]:
    if not can_mount(tmp_path / "probe"):
        pytest.skip("this process may not mount overlayfs (needs root / CAP_SYS_ADMIN)")
    (git_repo / "app.py").write_text(COMMITTED.format(1))
    git(git_repo, "add", "-A")
    git(git_repo, "commit", "-q", "-m", "app")
    yield manager(tmp_path, git_repo)
    for path in [*(tmp_path / "ws").glob("*"), tmp_path / "by-hand"]:  # no mounts left behind
        if os.path.ismount(path):
            subprocess.run(["umount", str(path)], check=False)


def issue(identifier: str) -> Issue:
    return Issue(id=f"id-{identifier}", identifier=identifier, title="t", state="Todo")


def move_base(repo: Path, value: int, ws: WorkspaceManager) -> str:
    (repo / "app.py").write_text(COMMITTED.format(value))
    git(repo, "commit", "-qam", f"value {value}")
    ws.refs.ttl_s = 0  # the next dispatch tick, as far as the refs are concerned
    return git(repo, "rev-parse", "main").strip()


def bases(tmp_path: Path) -> set[str]:
    return {p.name for p in overlay_gc.checkouts(Layers(tmp_path / "ws"))}


def registered(repo: Path) -> str:
    return git(repo, "worktree", "list", "--porcelain")


async def test_a_shared_checkout_is_removed_once_its_last_workspace_is(
    tmp_path: Path, git_repo: Path, overlays: WorkspaceManager
) -> None:
    first = git(git_repo, "rev-parse", "main").strip()
    old = await overlays.prepare(issue("TACK-1"))
    moved = move_base(git_repo, 2, overlays)
    new = await overlays.prepare(issue("TACK-2"))
    # TACK-1 still stands on the first base: the base moving does not take it away.
    await overlays.warm()
    await overlay_gc.collect(git_repo, Layers(overlays.root), "HEAD")
    assert bases(tmp_path) == {first, moved}
    assert (old.path / "app.py").read_text() == COMMITTED.format(1)

    assert await overlays.remove("TACK-1") is True
    await await_until(lambda: bases(tmp_path) == {moved}, 60, "the first base to be removed")
    assert f"{tmp_path / 'ws.bases' / first}\n" not in registered(git_repo)
    assert f"{tmp_path / 'ws.bases' / moved}\n" in registered(git_repo)
    await await_until(lambda: not any(overlay_gc.trash_dir(Layers(overlays.root)).iterdir()),
                      60, "the trash to be emptied")
    # The workspace on the new base is untouched, and git is consistent.
    assert git(new.path, "status", "--porcelain") == ""
    assert (new.path / "app.py").read_text() == COMMITTED.format(2)
    assert git(git_repo, "fsck", "--no-progress").strip() == ""
    # The same commit can be checked out again (its old registration is gone).
    git(git_repo, "branch", "tack/tack-3", first)
    again = await overlays.prepare(issue("TACK-3"))
    assert (again.path / "app.py").read_text() == COMMITTED.format(1)
    assert first in bases(tmp_path)


async def test_a_base_no_workspace_used_is_removed_when_the_base_moves(
    tmp_path: Path, git_repo: Path, overlays: WorkspaceManager
) -> None:
    first = git(git_repo, "rev-parse", "main").strip()
    await overlays.warm()  # checked out ahead; then the base moved before any issue came
    assert bases(tmp_path) == {first}
    moved = move_base(git_repo, 2, overlays)
    await overlays.prepare(issue("TACK-1"))
    await await_until(lambda: bases(tmp_path) == {moved}, 60, "the unused base to be removed")


async def test_an_unmounted_workspace_keeps_its_lower_and_is_mounted_again_at_start_up(
    tmp_path: Path, git_repo: Path, overlays: WorkspaceManager
) -> None:
    first = git(git_repo, "rev-parse", "main").strip()
    ws = await overlays.prepare(issue("TACK-1"))
    (ws.path / "notes.txt").write_text("uncommitted\n")
    subprocess.run(["umount", str(ws.path)], check=True)  # a reboot drops every mount
    move_base(git_repo, 2, overlays)

    restarted = manager(tmp_path, git_repo)
    tracker = LocalTracker(tmp_path / "issues.db")
    # What `tack up` and `tack worker` do at start-up.
    await ready_workspaces(tracker, restarted, TrackerConfig(kind="local"))
    await tracker.close()
    await restarted.warm()
    done = await overlay_gc.collect(git_repo, Layers(restarted.root), "HEAD")
    assert first not in done.removed and first in bases(tmp_path)
    # Mounted again before anything pruned: a prune (every removal runs one) keeps it.
    assert os.path.ismount(ws.path)
    git(git_repo, "worktree", "prune")
    assert f"worktree {ws.path}\n" in registered(git_repo)
    assert (ws.path / "notes.txt").read_text() == "uncommitted\n"
    assert git(ws.path, "status", "--porcelain").strip() == "?? notes.txt"


async def test_a_lower_mounted_by_hand_is_kept_and_a_pinned_collection_waits(
    tmp_path: Path, git_repo: Path, overlays: WorkspaceManager
) -> None:
    first = git(git_repo, "rev-parse", "main").strip()
    await overlays.warm()
    await overlay_gc.idle(Layers(overlays.root))  # the collection `warm` starts is done
    lower = tmp_path / "ws.bases" / first
    # An overlay on the base that Tack has no record of: the mount table still counts.
    parts = [tmp_path / n for n in ("up", "work", "by-hand")]
    for part in parts:
        part.mkdir()
    subprocess.run(["mount", "-t", "overlay", "overlay", "-o",
                    f"lowerdir={lower},upperdir={parts[0]},workdir={parts[1]}",
                    str(parts[2])], check=True)
    move_base(git_repo, 2, overlays)
    layers = Layers(overlays.root)
    assert os.path.realpath(lower) in overlay_gc.lowers_in_use(layers)
    assert (await overlay_gc.collect(git_repo, layers, "HEAD")).removed == []
    subprocess.run(["umount", str(parts[2])], check=True)

    # While a workspace is choosing its lower, nothing is removed; afterwards it is.
    async with overlay_gc.pinned(layers):
        held = await overlay_gc.collect(git_repo, layers, "HEAD")
        assert held.skipped and first in bases(tmp_path)
    await await_until(lambda: first not in bases(tmp_path), 60,
                      "the collection deferred by the pin to run")


async def test_a_collection_cut_off_after_the_rename_is_finished_by_the_next(
    tmp_path: Path, git_repo: Path, overlays: WorkspaceManager
) -> None:
    first = git(git_repo, "rev-parse", "main").strip()
    await overlays.warm()
    layers = Layers(overlays.root)
    await overlay_gc.idle(layers)  # the collection `warm` starts has nothing to do
    trash = overlay_gc.trash_dir(layers) / f"{first}-0000"
    trash.parent.mkdir()
    os.rename(tmp_path / "ws.bases" / first, trash)  # where a crash could leave it
    moved = move_base(git_repo, 2, overlays)
    done = await overlay_gc.collect(git_repo, layers, "HEAD")
    assert done.freed_bytes > 0 and not trash.exists()
    assert str(tmp_path / "ws.bases" / first) not in registered(git_repo)
    git(git_repo, "branch", "tack/tack-1", first)
    ws = await overlays.prepare(issue("TACK-1"))  # that commit checks out again
    assert (ws.path / "app.py").read_text() == COMMITTED.format(1)
    assert bases(tmp_path) >= {first} and moved not in done.removed


async def test_doctor_shows_what_the_shared_checkouts_hold(
    tmp_path: Path, git_repo: Path, overlays: WorkspaceManager
) -> None:
    await overlays.prepare(issue("TACK-1"))
    workflow = tmp_path / "WORKFLOW.md"
    workflow.write_text(f"---\nworkspace:\n  strategy: overlay\n  root: {overlays.root}\n"
                        f"  repo: {git_repo}\ntracker:\n  kind: local\n---\nWork.\n")
    check = next(c for c in run_checks(workflow) if c.name == "overlay checkouts")
    assert check.ok
    assert check.detail.startswith(f"1 shared checkout under {tmp_path / 'ws.bases'} holds ")
    assert "1 in use by workspaces, 0 not" in check.detail


async def test_a_collection_skips_while_another_process_is_choosing_a_lower(
    tmp_path: Path, git_repo: Path, overlays: WorkspaceManager
) -> None:
    first = git(git_repo, "rev-parse", "main").strip()
    await overlays.warm()
    layers = Layers(overlays.root)
    await overlay_gc.idle(layers)
    move_base(git_repo, 2, overlays)
    # Another Tack process on the same root (`tack up` and a worker sharing it) holds a pin.
    holder = subprocess.Popen(
        [sys.executable, "-c", "import fcntl, os, sys; fd = os.open(sys.argv[1], os.O_RDWR); "
         "fcntl.flock(fd, fcntl.LOCK_SH); print('held', flush=True); sys.stdin.read()",
         str(tmp_path / "ws.bases.lock")],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout is not None and holder.stdout.readline() == "held\n"
        held = await overlay_gc.collect(git_repo, layers, "HEAD")
        assert held.skipped and first in bases(tmp_path)
    finally:
        holder.communicate("", timeout=30)
    done = await overlay_gc.collect(git_repo, layers, "HEAD")
    assert done.removed == [first] and first not in bases(tmp_path)
