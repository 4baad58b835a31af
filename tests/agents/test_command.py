"""The command backend: any CLI that takes a prompt and edits the workspace."""

from __future__ import annotations

import asyncio
import os
from pathlib import Path

import psutil
import pytest

from tack.agents.base import AgentEvent, SessionContext
from tack.agents.command import CommandBackend, CommandSession
from tack.errors import AgentError
from tack.tracker.local import LocalTracker
from tack.workflow.config import CommandConfig


class Recorder:
    def __init__(self) -> None:
        self.events: list[AgentEvent] = []

    async def __call__(self, event: AgentEvent) -> None:
        self.events.append(event)

    def kinds(self) -> list[str]:
        return [e.kind for e in self.events]


@pytest.fixture
def tracker(tmp_path: Path) -> LocalTracker:
    with LocalTracker(tmp_path / "issues.db") as t:
        yield t


async def _session(tmp_path: Path, tracker: LocalTracker, command: str,
                   **config: object) -> tuple[CommandSession, list[tuple[int, bool]]]:
    ws = tmp_path / "ws"
    ws.mkdir(exist_ok=True)
    (ws / "app.py").write_text("VALUE = 1\n")
    pids: list[tuple[int, bool]] = []
    ctx = SessionContext(workspace=ws, issue=tracker.add_issue("Fix VALUE"), tracker=tracker,
                         env=dict(os.environ),
                         on_process=lambda pgid, alive: pids.append((pgid, alive)))
    backend = CommandBackend(CommandConfig(command=command, **config))
    return await backend.start_session(ctx), pids


async def test_a_script_edits_the_workspace_with_the_prompt(tmp_path: Path,
                                                            tracker: LocalTracker) -> None:
    script = ('read -r first; sed -i "s/VALUE = 1/VALUE = 2/" app.py; '
              'echo "stdin: $first"; echo "file: $(cat "$TACK_PROMPT_FILE")"; '
              'echo "issue: $TACK_ISSUE_IDENTIFIER turn $TACK_TURN"')
    session, pids = await _session(tmp_path, tracker, script)
    events = Recorder()
    result = await session.run_turn("make it two", events)
    second = await session.run_turn("continue", events)
    await session.stop()
    assert result.ok and second.ok
    assert (tmp_path / "ws" / "app.py").read_text() == "VALUE = 2\n"
    lines = [e.message for e in events.events if e.kind == "notification"]
    assert lines[:3] == ["stdin: make it two", "file: make it two", "issue: TACK-1 turn 1"]
    assert "issue: TACK-1 turn 2" in lines and "stdin: continue" in lines
    assert events.kinds()[0] == "session_started"
    assert events.kinds().count("turn_completed") == 2
    assert [alive for _, alive in pids] == [True, False, True, False]


async def test_a_non_zero_exit_fails_the_turn_with_the_output_tail(
    tmp_path: Path, tracker: LocalTracker
) -> None:
    session, _ = await _session(tmp_path, tracker, "echo 'tests failed: 3'; exit 3")
    events = Recorder()
    result = await session.run_turn("go", events)
    await session.stop()
    assert not result.ok
    assert "code 3" in (result.error or "") and "tests failed: 3" in (result.error or "")
    assert events.kinds()[-1] == "turn_failed"


async def test_success_exit_codes_are_configurable(tmp_path: Path,
                                                   tracker: LocalTracker) -> None:
    session, _ = await _session(tmp_path, tracker, "exit 3", success_exit_codes=[0, 3])
    assert (await session.run_turn("go", Recorder())).ok


def _alive(pid: int) -> bool:
    try:
        return psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False


async def test_a_timeout_kills_the_whole_process_group(tmp_path: Path,
                                                       tracker: LocalTracker) -> None:
    pidfile = tmp_path / "child.pid"
    command = f"sleep 60 & echo $! > {pidfile}; echo started; wait"
    session, pids = await _session(tmp_path, tracker, command, timeout_ms=800)
    events = Recorder()
    result = await asyncio.wait_for(session.run_turn("go", events), 30)  # not `sleep 60`
    await session.stop()
    assert not result.ok and "timed out" in (result.error or "")
    assert "started" in (result.error or "")
    child = int(pidfile.read_text())
    deadline = asyncio.get_running_loop().time() + 20
    while _alive(child) or _alive(pids[0][0]):
        assert asyncio.get_running_loop().time() < deadline, "process group survived"
        await asyncio.sleep(0.05)
    assert pids[-1] == (pids[0][0], False)


async def test_cancelling_a_turn_kills_the_process_group(tmp_path: Path,
                                                         tracker: LocalTracker) -> None:
    pidfile = tmp_path / "child.pid"
    session, pids = await _session(tmp_path, tracker, f"sleep 60 & echo $! > {pidfile}; wait")
    task = asyncio.create_task(session.run_turn("go", Recorder()))
    deadline = asyncio.get_running_loop().time() + 20
    while not pidfile.exists() or not pidfile.read_text().strip():
        assert asyncio.get_running_loop().time() < deadline
        await asyncio.sleep(0.02)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    child = int(pidfile.read_text())
    while _alive(child):
        assert asyncio.get_running_loop().time() < deadline + 20, "child survived"
        await asyncio.sleep(0.05)


async def test_a_missing_command_is_a_clear_error(tmp_path: Path,
                                                  tracker: LocalTracker) -> None:
    ctx = SessionContext(workspace=tmp_path, issue=tracker.add_issue("x"), tracker=tracker)
    with pytest.raises(AgentError, match="command.command"):
        await CommandBackend(CommandConfig()).start_session(ctx)
