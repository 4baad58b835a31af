"""A cancelled git command (a run stopped, a step found hung) takes its helpers with it."""

from __future__ import annotations

import asyncio
from pathlib import Path

import psutil
import pytest

from tack.workspace.git import git
from tests.e2e.harness import await_until


def running(pid: int) -> bool:
    try:
        proc = psutil.Process(pid)
        return proc.is_running() and proc.status() != psutil.STATUS_ZOMBIE
    except psutil.Error:
        return False


async def test_a_cancelled_git_fetch_leaves_no_process_behind(git_repo: Path, tmp_path: Path) -> None:
    marker = tmp_path / "helper.pid"
    # A remote that never answers: git's `ext::` transport runs this command as the remote.
    remote = f"ext::sh -c echo% $$% >{marker};% exec% sleep% 619"
    fetch = asyncio.ensure_future(git(git_repo, "-c", "protocol.ext.allow=always", "fetch", remote))
    await await_until(lambda: marker.is_file() and marker.read_text().strip(), 30,
                      "the remote helper to start")
    helper = int(marker.read_text())
    assert running(helper)
    fetch.cancel()
    with pytest.raises(asyncio.CancelledError):
        await fetch
    await await_until(lambda: not running(helper), 30, "the hung remote helper to be killed")
