"""`workspace.strategy: overlay` on Temporal workers: the workspace starts from the issue
branch on the shared remote, the turn's commit is pushed there, and a restarted worker
removes the workspace of an issue that was closed meanwhile. Needs root (CAP_SYS_ADMIN) and
overlayfs; skipped where this process may not mount."""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tack.testing import StubModelServer
from tack.workspace.overlay import can_mount
from tack.workspace.overlay_gc import mounted_lowers
from tests.conftest import git
from tests.e2e.harness import TackUp, wait_for
from tests.temporal.workers import TackWorker, temporal_project

pytestmark = pytest.mark.slow

SCRIPT: dict[str, Any] = {"mode": "ordered", "steps": [
    {"tool_calls": [{"name": "write_file",
                     "arguments": {"path": "overlay.txt", "content": "from the worker\n"}},
                    {"name": "tracker", "arguments": {"action": "move",
                                                      "state": "Human Review"}}]},
    {"text": "handed off"},
]}


def mounts_under(root: Path) -> list[str]:
    with open("/proc/self/mountinfo") as table:
        points = [line.split(" ")[4] for line in table]
    return [p for p in points if p.startswith(f"{root}/")]


@pytest.fixture
def may_mount(tmp_path: Path) -> Iterator[None]:
    if not can_mount(tmp_path / "probe"):
        pytest.skip("this process may not mount overlayfs (needs root / CAP_SYS_ADMIN)")
    yield
    for point in reversed(mounts_under(tmp_path)):  # the workers leave theirs mounted
        subprocess.run(["umount", point], check=False)


def test_an_overlay_run_on_a_worker_continues_the_remote_branch_and_pushes_its_commit(
    tmp_path: Path, temporal_server: str, cleanup: list[Any], may_mount: None
) -> None:
    stub = StubModelServer(SCRIPT)
    stub.start_in_thread()
    cleanup.append(stub)
    project = temporal_project(tmp_path, stub.url, temporal_server,
                               {"workspace": {"strategy": "overlay"},
                                "agent": {"max_turns": 1}})
    ident = project.add_issue("continue on the overlay")
    # An earlier turn, run on another machine, pushed the issue branch: this worker's clone
    # has never seen it.
    elsewhere = tmp_path / "elsewhere"
    git(tmp_path, "clone", "-q", str(tmp_path / "remote.git"), str(elsewhere))
    (elsewhere / "earlier.txt").write_text("from turn 1\n")
    git(elsewhere, "add", "-A")
    git(elsewhere, "commit", "-qm", "earlier turn")
    git(elsewhere, "push", "-q", "origin", "HEAD:refs/heads/tack/tack-1")

    worker = TackWorker(project, "worker-a")
    cleanup.append(worker)
    worker.wait_ready()
    up = TackUp(project)
    cleanup.append(up)

    run = wait_for(lambda: (d := up.detail(ident)) and d["runs"] and d["runs"][0]["ended_at"]
                   and d["runs"][0], 120, "the run to end")
    assert run["status"] == "succeeded", (run, worker.output())
    remote = tmp_path / "remote.git"
    log = git(remote, "log", "--format=%s", "tack/tack-1").splitlines()
    assert log[:2] == [f"tack: {ident} turn 1", "earlier turn"], log
    assert {"overlay.txt", "earlier.txt", "app.py"} <= set(
        git(remote, "ls-tree", "--name-only", "tack/tack-1").split())
    # It ran in an overlay over the worker's shared checkout of the branch's commit.
    workspace = worker.root / ident
    assert os.path.ismount(workspace)
    bases = worker.root.parent / f"{worker.root.name}.bases"
    assert any(lower.startswith(f"{bases}/") for lower in mounted_lowers())
    assert git(workspace, "status", "--porcelain") == ""
    assert git(workspace, "rev-parse", "HEAD") == git(remote, "rev-parse", "tack/tack-1")

    # Closed while no worker ran: the next worker on this root removes its workspace.
    up.stop()
    worker.__exit__(None, None, None)
    project.move(ident, "Done")
    again = TackWorker(project, "worker-a2", after=worker)
    cleanup.append(again)
    again.wait_ready()
    assert not os.path.ismount(workspace) and not workspace.exists()
    assert not (worker.root.parent / f"{worker.root.name}.layers" / ident).exists()
    assert str(workspace) not in git(worker.repo, "worktree", "list")
    # The base stays checked out for the next issue; the branch stays on the remote.
    assert any(bases.iterdir())
    assert git(remote, "log", "-1", "--format=%s", "tack/tack-1").strip() == f"tack: {ident} turn 1"
