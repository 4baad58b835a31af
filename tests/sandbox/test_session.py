"""The session sandbox of the built-in agent's `shell` tool: built once per session, each
command forked inside it and still contained on its own (tack/sandbox/session.py)."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import psutil
import pytest

from tack.agents.base import SessionContext
from tack.agents.tools import run_tool
from tack.sandbox import SandboxPolicy, close_sessions
from tack.sandbox.limits import pids_parent
from tack.tracker.local import LocalTracker
from tests.e2e.harness import wait_for

POLICY = SandboxPolicy(env_names=("PATH",))


def _sleepers(marker: str) -> list[psutil.Process]:
    return [p for p in psutil.process_iter(["cmdline"]) if p.info["cmdline"] == ["sleep", marker]]


async def _shell(tracker: LocalTracker, ws: Path, script: str) -> str:
    ctx = SessionContext(workspace=ws, issue=tracker.add_issue("session"), tracker=tracker,
                         env=dict(os.environ), sandbox=POLICY)
    return (await run_tool("shell", {"command": script, "timeout_ms": 60_000}, ctx)).output


@pytest.fixture
def tracker(tmp_path: Path) -> LocalTracker:
    return LocalTracker(tmp_path / "issues.db")


@pytest.fixture
def ws(tmp_path: Path) -> Path:
    (tmp_path / "ws").mkdir()
    return tmp_path / "ws"


async def test_a_process_that_leaves_its_group_ends_with_its_command(
        tracker: LocalTracker, ws: Path) -> None:
    if pids_parent() is None:
        pytest.skip("no writable pids cgroup: only the process group is ended")
    marker = "4243.4243"
    out = await _shell(tracker, ws, f"setsid sleep {marker} </dev/null >/dev/null 2>&1 & "
                                    "echo started")
    assert "started" in out
    wait_for(lambda: not _sleepers(marker), what="the escaped sleep to be killed")


async def test_a_command_cannot_reach_into_the_sandboxs_supervisor(
        tracker: LocalTracker, ws: Path) -> None:
    out = await _shell(tracker, ws, "for p in /proc/[0-9]*; do "
                                    "grep -qs supervisor.py $p/cmdline || continue; "
                                    "echo found; python3 -c \"open('$p/mem', 'rb')\"; done")
    assert "found" in out
    assert "PermissionError" in out


async def test_a_killed_sandbox_is_replaced_for_the_next_command(
        tracker: LocalTracker, ws: Path) -> None:
    out = await _shell(tracker, ws, "kill -9 $(pgrep -f supervisor.py); sleep 5; echo alive")
    assert "alive" not in out and "sandbox" in out
    assert "again" in await _shell(tracker, ws, "echo again")


async def test_the_sessions_commands_share_the_private_tmp_until_it_ends(
        tracker: LocalTracker, ws: Path) -> None:
    await _shell(tracker, ws, "echo kept > /tmp/note")
    assert "kept" in await _shell(tracker, ws, "cat /tmp/note")
    await close_sessions(ws)
    assert "No such file" in await _shell(tracker, ws, "cat /tmp/note")


def test_a_session_sandboxs_commands_die_with_tack(tmp_path: Path, ws: Path) -> None:
    marker = "4244.4244"
    tack = tmp_path / "tack_like.py"
    tack.write_text(
        "import asyncio, sys\n"
        "from pathlib import Path\n"
        "from tack.agents.base import SessionContext\n"
        "from tack.agents.tools import run_tool\n"
        "from tack.sandbox import SandboxPolicy\n"
        "from tack.tracker.local import LocalTracker\n"
        "async def main():\n"
        "    tracker = LocalTracker(Path(sys.argv[2]))\n"
        "    ctx = SessionContext(workspace=Path(sys.argv[1]), issue=tracker.add_issue('x'),\n"
        "                         tracker=tracker, env={'PATH': '/usr/bin:/bin'},\n"
        "                         sandbox=SandboxPolicy(env_names=('PATH',)))\n"
        f"    await run_tool('shell', {{'command': 'sleep {marker} & sleep {marker}'}}, ctx)\n"
        "asyncio.run(main())\n")
    parent = subprocess.Popen([os.sys.executable, str(tack), str(ws), str(tmp_path / "i.db")],
                              env={**os.environ, "PYTHONPATH": os.pathsep.join(
                                  p for p in os.sys.path if p)})
    try:
        wait_for(lambda: len(_sleepers(marker)) == 2, what="the sandboxed sleeps to start")
    finally:
        parent.kill()  # SIGKILL: Tack gets no chance to clean up
        parent.wait()
    wait_for(lambda: not _sleepers(marker), what="the sandboxed processes to die with their Tack")
