"""The Codex backend driving the real, pinned `codex app-server` against the stub model
server: a real git workspace, the local tracker, codex's own shell tool and our dynamic
`tracker` tool; plus user-input requests, unknown tools, cancellation and read timeouts."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import time
from pathlib import Path
from typing import Any

import psutil
import pytest

from tack.agents.base import AgentEvent, SessionContext
from tack.agents.codex import CodexBackend, CodexSession, dynamic_tool_specs
from tack.errors import AgentError
from tack.testing import StubModelServer
from tack.tracker.base import Issue
from tack.tracker.local import LocalTracker
from tests.agents.codex_helpers import codex_config, codex_env, codex_home, requires_codex
from tests.conftest import git
from tests.e2e.harness import await_until

pytestmark = requires_codex

CALC = "def add(a, b):\n    return a - b\n"
FIX = ("sed -i 's/a - b/a + b/' calc.py && "
       "python3 -c 'import calc; assert calc.add(2, 3) == 5; print(\"sum ok\")'")
HANDOFF = {"name": "tracker", "arguments": {"action": "move", "state": "Human Review"}}
FIX_SCRIPT = {"conversations": [{"steps": [
    {"tool_calls": [{"name": "exec_command", "arguments": {"cmd": FIX}}]},
    {"text": "Fixed; handing off.", "tool_calls": [HANDOFF]},
    {"text": "Done: add() adds.", "usage": {"input_tokens": 120, "output_tokens": 30}},
]}]}


class Recorder:
    def __init__(self) -> None:
        self.events: list[AgentEvent] = []

    async def __call__(self, event: AgentEvent) -> None:
        self.events.append(event)

    def of(self, kind: str) -> list[AgentEvent]:
        return [e for e in self.events if e.kind == kind]


@pytest.fixture
def workspace(git_repo: Path) -> Path:
    (git_repo / "calc.py").write_text(CALC)
    git(git_repo, "add", "-A")
    git(git_repo, "commit", "-q", "-m", "calc")
    return git_repo


@pytest.fixture
def tracker(tmp_path: Path) -> LocalTracker:
    return LocalTracker(tmp_path / "tracker.db", prefix="TACK")


@pytest.fixture
def issue(tracker: LocalTracker) -> Issue:
    return tracker.add_issue("add() subtracts", description="add(2, 3) is -1",
                             state="In Progress")


async def open_session(server: StubModelServer, tmp_path: Path, workspace: Path, issue: Issue,
                       tracker: LocalTracker, processes: list[tuple[int, bool]] | None = None,
                       **extra: Any) -> CodexSession:
    home = codex_home(tmp_path, server.url)
    ctx = SessionContext(
        workspace=workspace, issue=issue, tracker=tracker,
        env={**os.environ, **codex_env(home)},
        on_process=(lambda pgid, alive: processes.append((pgid, alive)))
        if processes is not None else None,
    )
    return await CodexBackend(codex_config(**extra)).start_session(ctx)


def gone(pid: int) -> bool:
    # PID 1 here does not reap orphans: a zombie is as dead as a process gets.
    try:
        return psutil.Process(pid).status() == psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return True


async def test_codex_edits_the_workspace_moves_the_issue_and_counts_tokens(
        tmp_path: Path, workspace: Path, tracker: LocalTracker, issue: Issue) -> None:
    processes: list[tuple[int, bool]] = []
    async with StubModelServer(FIX_SCRIPT) as server:
        session = await open_session(server, tmp_path, workspace, issue, tracker, processes)
        events = Recorder()
        try:
            first = await session.run_turn(f"Work on {issue.identifier}: fix add()", events)
            first_session_id = session.session_id
            again = await session.run_turn("Continue.", events)
        finally:
            await session.stop()
    assert first.ok, first.error
    assert "def add(a, b):\n    return a + b" in (workspace / "calc.py").read_text()
    assert tracker.get(issue.identifier).state == "Human Review"
    assert first.final_message == "Done: add() adds."
    assert first.usage.total_tokens > 0 and first.usage.output_tokens > 0

    started = events.of("session_started")
    assert len(started) == 2
    thread_id = started[0].data["thread_id"]
    assert started[1].data["thread_id"] == thread_id  # continuation: same thread
    assert first_session_id == f"{thread_id}-{started[0].data['turn_id']}"
    assert session.session_id != first_session_id and again.ok

    calls = {e.data["name"]: e for e in events.of("tool_call")}
    results = {e.data["name"]: e for e in events.of("tool_result")}
    assert "sed -i" in calls["shell"].data["arguments"]
    assert results["shell"].data["ok"] and "sum ok" in results["shell"].data["output"]
    assert calls["tracker"].data["arguments"] == HANDOFF["arguments"]
    assert results["tracker"].data["ok"]
    assert "moved TACK-1 to Human Review" in results["tracker"].data["output"]
    assert [e.message for e in events.of("message")][:2] == ["Fixed; handing off.",
                                                              "Done: add() adds."]
    assert events.of("rate_limits") and events.of("turn_completed")

    # Deltas add up to codex's absolute thread total.
    deltas = events.of("token_usage")
    assert sum(e.usage.total_tokens for e in deltas if e.usage) == \
        deltas[-1].data["thread_total"]["total_tokens"]
    assert all(e.usage and e.usage.total_tokens > 0 for e in deltas)

    pgid = processes[0][0]
    assert processes == [(pgid, True), (pgid, False)]
    assert gone(pgid)


async def test_a_request_for_user_input_fails_the_turn_with_a_clear_reason(
        tmp_path: Path, workspace: Path, tracker: LocalTracker, issue: Issue) -> None:
    question = {"id": "which", "header": "Which", "question": "Which database should I use?",
                "options": [{"label": "SQLite", "description": "simple"},
                            {"label": "Postgres", "description": "big"}]}
    script = {"conversations": [{"steps": [
        {"tool_calls": [{"name": "request_user_input", "arguments": {"questions": [question]}}]},
        {"text": "unreachable"},
    ]}]}
    # Codex only offers request_user_input in plan mode; `turn_params` passes it through.
    plan = {"collaborationMode": {"mode": "plan", "settings": {"model": "stub"}}}
    async with StubModelServer(script) as server:
        session = await open_session(server, tmp_path, workspace, issue, tracker,
                                     turn_params=plan)
        events = Recorder()
        try:
            result = await asyncio.wait_for(session.run_turn("plan it", events), 30)
        finally:
            await session.stop()
    assert not result.ok
    assert result.error and "asked for user input" in result.error
    assert "Which database should I use?" in result.error
    assert events.of("turn_failed")[-1].message == result.error


async def test_an_unsupported_dynamic_tool_gets_a_failure_result_not_a_stall(
        tmp_path: Path, workspace: Path, tracker: LocalTracker, issue: Issue) -> None:
    deploy = {"type": "function", "name": "deploy", "description": "deploy the app",
              "inputSchema": {"type": "object", "properties": {}}}
    script = {"conversations": [{"steps": [
        {"tool_calls": [{"name": "deploy", "arguments": {}}]},
        {"text": "could not deploy"},
    ]}]}
    async with StubModelServer(script) as server:
        session = await open_session(
            server, tmp_path, workspace, issue, tracker,
            thread_params={"dynamicTools": [*dynamic_tool_specs(), deploy]})
        events = Recorder()
        try:
            result = await asyncio.wait_for(session.run_turn("deploy it", events), 30)
        finally:
            await session.stop()
        sent_back = json.dumps(server.requests[-1].body["input"])
    assert result.ok and result.final_message == "could not deploy"
    outcome = events.of("tool_result")[0].data
    assert outcome["name"] == "deploy" and not outcome["ok"]
    assert "unsupported tool 'deploy'" in outcome["output"]
    assert "unsupported tool" in sent_back  # the model saw the failure


async def test_cancelling_a_turn_kills_the_whole_process_tree(
        tmp_path: Path, workspace: Path, tracker: LocalTracker, issue: Issue) -> None:
    script = {"conversations": [{"steps": [
        {"tool_calls": [{"name": "exec_command",
                         "arguments": {"cmd": "sleep 300", "yield_time_ms": 250}}]},
        {"hang": True},
    ]}]}
    async with StubModelServer(script) as server:
        session = await open_session(server, tmp_path, workspace, issue, tracker)
        assert session.pid is not None
        turn = asyncio.create_task(session.run_turn("sleep", Recorder()))

        def sleeping() -> list[psutil.Process]:
            tree = psutil.Process(session.pid).children(recursive=True)
            commands = []
            for proc in tree:
                with contextlib.suppress(psutil.Error):
                    commands.append(" ".join(proc.cmdline()))
            has_sleep = any("sleep" in c for c in commands)
            return tree if has_sleep and len(server.requests) >= 2 else []

        tree = await await_until(sleeping, 20, "codex running `sleep 300` while the model hangs")
        pids = [session.pid, *(p.pid for p in tree)]
        turn.cancel()
        with pytest.raises(asyncio.CancelledError):
            await turn
        await await_until(lambda: all(gone(pid) for pid in pids), 30, "the process tree to be gone")
        await session.stop()
    assert all(gone(pid) for pid in pids)


async def test_a_command_that_never_answers_hits_the_read_timeout(
        tmp_path: Path, workspace: Path, tracker: LocalTracker, issue: Issue) -> None:
    processes: list[tuple[int, bool]] = []
    ctx = SessionContext(workspace=workspace, issue=issue, tracker=tracker,
                         env={**os.environ, "HOME": str(tmp_path)},
                         on_process=lambda pgid, alive: processes.append((pgid, alive)))
    backend = CodexBackend(codex_config(command="cat >/dev/null", read_timeout_ms=300))
    started = time.monotonic()
    with pytest.raises(AgentError) as caught:
        await backend.start_session(ctx)
    assert time.monotonic() - started < 5
    assert caught.value.code == "response_timeout"
    assert "'initialize'" in caught.value.message
    assert "codex.read_timeout_ms (300 ms)" in caught.value.message
    pgid = processes[0][0]
    assert processes[-1] == (pgid, False) and gone(pgid)


async def test_an_app_server_that_exits_fails_the_start_with_its_stderr(
        tmp_path: Path, workspace: Path, tracker: LocalTracker, issue: Issue) -> None:
    ctx = SessionContext(workspace=workspace, issue=issue, tracker=tracker,
                         env={**os.environ, "HOME": str(tmp_path)})
    backend = CodexBackend(codex_config(command="echo 'codex: bad flag' >&2; exit 3"))
    with pytest.raises(AgentError, match=r"exited \(code 3.*codex: bad flag"):
        await backend.start_session(ctx)


async def test_a_request_for_user_input_parks_and_the_answer_resumes_the_same_thread(
        tmp_path: Path, workspace: Path, tracker: LocalTracker, issue: Issue) -> None:
    question = {"id": "which", "header": "Which", "question": "Which database should I use?",
                "options": [{"label": "SQLite (Recommended)", "description": "simple"},
                            {"label": "Postgres", "description": "big"}]}
    script = {"conversations": [{"steps": [
        {"tool_calls": [{"name": "request_user_input", "arguments": {"questions": [question]}}]},
        {"expect": "A person answered your question: Postgres", "text": "Using Postgres."},
    ]}]}
    plan = {"collaborationMode": {"mode": "plan", "settings": {"model": "stub"}}}
    async with StubModelServer(script) as server:
        home = codex_home(tmp_path, server.url)
        ctx = SessionContext(workspace=workspace, issue=issue, tracker=tracker,
                             env={**os.environ, **codex_env(home)}, can_park=True)
        backend = CodexBackend(codex_config(turn_params=plan))
        session = await backend.start_session(ctx)
        try:
            parked = await asyncio.wait_for(session.run_turn("plan it", Recorder()), 30)
        finally:
            await session.stop()  # parked: the app-server goes away, nothing waits on it
        assert parked.ok and parked.asked is not None
        asked = parked.asked
        assert (asked.text, asked.options, asked.recommended, asked.source) == (
            "Which database should I use?", ["SQLite (Recommended)", "Postgres"], 1,
            "codex.requestUserInput")
        thread = asked.resume["thread_id"]
        later = await backend.start_session(ctx)  # a fresh app-server, as after a restart
        events = Recorder()
        try:
            resumed = await asyncio.wait_for(later.resume(asked.resume, "Postgres", events), 30)
        finally:
            await later.stop()
    assert resumed.ok, resumed.error
    assert resumed.final_message == "Using Postgres."
    assert later.thread_id == thread
    assert events.of("session_started")[0].data["thread_id"] == thread
