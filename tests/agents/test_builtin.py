"""The built-in agent against the stub model server, in a real git workspace, both APIs."""

from __future__ import annotations

import asyncio
import os
import time
from pathlib import Path
from typing import Any

import psutil
import pytest

from tack.agents.base import AgentEvent, SessionContext, TokenUsage
from tack.agents.builtin import BuiltinBackend, BuiltinSession
from tack.agents.tools import TOOL_NAMES, run_tool
from tack.testing import StubModelServer
from tack.tracker.base import Comment, Issue
from tack.workflow.config import BuiltinConfig

from tests.conftest import git
from tests.e2e.harness import await_until

CALC = "def add(a, b):\n    return a - b\n"


class FakeTracker:
    """The Tracker protocol over a dict: enough for the agent's tracker tool."""

    kind = "fake"

    def __init__(self, issue: Issue) -> None:
        self.issues = {issue.id: issue}
        self.moves: list[tuple[str, str]] = []
        self.comments: list[tuple[str, str, str]] = []

    async def fetch_issues_by_states(self, states: list[str]) -> list[Issue]:
        return [i for i in self.issues.values() if i.state in states]

    async def fetch_issues_by_ids(self, ids: list[str]) -> list[Issue]:
        return [self.issues[i] for i in ids if i in self.issues]

    async def move(self, issue_id: str, state: str) -> Issue:
        from dataclasses import replace

        self.moves.append((issue_id, state))
        self.issues[issue_id] = replace(self.issues[issue_id], state=state)
        return self.issues[issue_id]

    async def comment(self, issue_id: str, body: str, *, author: str = "agent") -> None:
        self.comments.append((issue_id, body, author))

    async def close(self) -> None:
        pass


@pytest.fixture
def workspace(git_repo: Path) -> Path:
    (git_repo / "calc.py").write_text(CALC)
    git(git_repo, "add", "-A")
    git(git_repo, "commit", "-q", "-m", "calc")
    return git_repo


@pytest.fixture
def issue() -> Issue:
    from datetime import datetime, timezone

    return Issue(id="i-1", identifier="TACK-1", title="add() subtracts", state="In Progress",
                 description="add(2, 3) returns -1", labels=("bug",),
                 comments=(Comment("ann", "please fix", datetime.now(timezone.utc)),))


@pytest.fixture
def tracker(issue: Issue) -> FakeTracker:
    return FakeTracker(issue)


class Recorder:
    def __init__(self) -> None:
        self.events: list[AgentEvent] = []

    async def __call__(self, event: AgentEvent) -> None:
        self.events.append(event)

    def kinds(self) -> list[str]:
        return [e.kind for e in self.events if e.kind != "notification"]

    def of(self, kind: str) -> list[AgentEvent]:
        return [e for e in self.events if e.kind == kind]


FIX_SCRIPT = {"conversations": [{"match": "TACK-1", "steps": [
    {"tool_calls": [{"name": "read_file", "arguments": {"path": "calc.py"}}]},
    {"text": "I will fix it.",
     "tool_calls": [{"name": "edit_file",
                     "arguments": {"path": "calc.py", "old": "a - b", "new": "a + b"}}]},
    {"tool_calls": [{"name": "shell", "arguments": {
        "command": "python -c 'import calc; assert calc.add(2, 3) == 5; print(\"sum ok\")'"}}]},
    {"tool_calls": [{"name": "tracker", "arguments": {"action": "move",
                                                      "state": "Human Review"}},
                    {"name": "tracker", "arguments": {"action": "show"}}]},
    {"text": "Done: fixed the sign in add().",
     "usage": {"input_tokens": 120, "output_tokens": 30}},
]}]}


def make_config(server: StubModelServer, api: str, **extra: Any) -> BuiltinConfig:
    return BuiltinConfig(base_url=server.url, model="stub-model", api=api, api_key="sk-test",
                         **extra)


async def open_session(server: StubModelServer, api: str, workspace: Path, issue: Issue,
                       tracker: FakeTracker, **extra: Any) -> BuiltinSession:
    backend = BuiltinBackend(make_config(server, api, **extra))
    ctx = SessionContext(workspace=workspace, issue=issue, tracker=tracker)
    session = await backend.start_session(ctx)
    session.retry_backoff_s = 0.01
    return session


@pytest.mark.parametrize("api", ["chat", "responses"])
async def test_fixes_the_bug_and_hands_off(api: str, workspace: Path, issue: Issue,
                                           tracker: FakeTracker) -> None:
    async with StubModelServer(FIX_SCRIPT) as server:
        session = await open_session(server, api, workspace, issue, tracker)
        events = Recorder()
        try:
            result = await session.run_turn("Fix TACK-1: add() subtracts.", events)
        finally:
            await session.stop()

    assert result.ok, result.error
    assert result.final_message == "Done: fixed the sign in add()."
    assert (workspace / "calc.py").read_text() == "def add(a, b):\n    return a + b\n"
    assert tracker.moves == [("i-1", "Human Review")]
    assert events.kinds() == [
        "session_started",
        "token_usage", "tool_call", "tool_result",
        "token_usage", "message", "tool_call", "tool_result",
        "token_usage", "tool_call", "tool_result",
        "token_usage", "tool_call", "tool_result", "tool_call", "tool_result",
        "token_usage", "message", "turn_completed",
    ]
    started = events.of("session_started")[0]
    assert started.data == {"session_id": session.session_id, "model": "stub-model", "api": api}
    results = events.of("tool_result")
    assert all(r.data["ok"] for r in results), [r.data for r in results]
    assert "     2\t    return a - b" in results[0].data["output"]
    assert "sum ok" in results[2].data["output"]
    assert "state: Human Review" in results[4].data["output"]
    assert "ann" in results[4].data["output"]
    calls = events.of("tool_call")
    assert calls[1].data["arguments"] == {"path": "calc.py", "old": "a - b", "new": "a + b"}
    assert calls[1].data["call_id"] == results[1].data["call_id"]
    deltas = [e.usage for e in events.of("token_usage")]
    total = sum(deltas, TokenUsage())
    assert result.usage == total
    assert deltas[-1] == TokenUsage(120, 30, 150)
    assert total.total_tokens == total.input_tokens + total.output_tokens > 150
    # What went over the wire: the right endpoint, auth, streaming and tool schemas.
    sent = server.requests
    assert len(sent) == 5 and [r.step for r in sent] == [0, 1, 2, 3, 4]
    assert all(r.path == ("/v1/chat/completions" if api == "chat" else "/v1/responses")
               for r in sent)
    assert sent[0].headers["authorization"] == "Bearer ***"
    body = sent[0].body
    assert body["stream"] is True and body["model"] == "stub-model"
    names = [t["function"]["name"] if api == "chat" else t["name"] for t in body["tools"]]
    assert names == TOOL_NAMES
    if api == "chat":
        assert body["stream_options"] == {"include_usage": True}
        assert body["messages"][0]["role"] == "system"
    else:
        assert "TACK-1" in body["instructions"]


@pytest.mark.parametrize("api", ["chat", "responses"])
async def test_second_turn_continues_the_conversation(api: str, workspace: Path, issue: Issue,
                                                      tracker: FakeTracker) -> None:
    script = {"conversations": [{"match": "TACK-1", "steps": [
        {"tool_calls": [{"name": "list_files", "arguments": {}}]},
        {"text": "Looked around."},
        {"text": "Second turn answer."},
    ]}]}
    async with StubModelServer(script) as server:
        session = await open_session(server, api, workspace, issue, tracker)
        events = Recorder()
        first = await session.run_turn("Start on TACK-1.", events)
        second = await session.run_turn("Continue: anything left?", events)
        await session.stop()
        await session.stop()  # idempotent
    assert first.final_message == "Looked around."
    assert second.ok and second.final_message == "Second turn answer."
    assert server.requests[-1].step == 2
    assert "Continue: anything left?" in str(server.requests[-1].body)
    assert "Start on TACK-1." in str(server.requests[-1].body)
    assert events.kinds().count("session_started") == 1
    assert "calc.py" in events.of("tool_result")[0].data["output"]
    assert ".git" not in events.of("tool_result")[0].data["output"]


async def test_escape_attempts_get_error_results(workspace: Path, issue: Issue,
                                                 tracker: FakeTracker, tmp_path: Path) -> None:
    outside = tmp_path / "secret.txt"
    outside.write_text("secret")
    (workspace / "link").symlink_to(tmp_path)
    script = {"conversations": [{"match": "TACK-1", "steps": [
        {"tool_calls": [
            {"name": "read_file", "arguments": {"path": "../secret.txt"}},
            {"name": "read_file", "arguments": {"path": str(outside)}},
            {"name": "write_file", "arguments": {"path": "link/evil.txt", "content": "x"}},
            {"name": "edit_file", "arguments": {"path": "calc.py", "old": "nope", "new": "x"}},
            {"name": "launch_rockets", "arguments": {}},
            {"name": "read_file", "arguments": "{not json"},
        ]},
        {"text": "Could not."},
    ]}]}
    async with StubModelServer(script) as server:
        session = await open_session(server, "chat", workspace, issue, tracker)
        events = Recorder()
        result = await session.run_turn("TACK-1", events)
        await session.stop()
    assert result.ok
    outputs = [r.data["output"] for r in events.of("tool_result")]
    assert not any(r.data["ok"] for r in events.of("tool_result"))
    assert all(o.startswith("error: ") for o in outputs)
    assert "outside the workspace" in outputs[0] and "outside the workspace" in outputs[1]
    assert "outside the workspace" in outputs[2]
    assert not (tmp_path / "evil.txt").exists()
    assert "not found" in outputs[3]
    assert "read_file" in outputs[4] and "shell" in outputs[4]
    assert "not valid JSON" in outputs[5]
    # The errors went back to the model as tool messages.
    tool_messages = [m for m in server.requests[-1].body["messages"] if m["role"] == "tool"]
    assert [m["content"] for m in tool_messages] == outputs


async def test_edit_file_refuses_ambiguous_match(workspace: Path, issue: Issue,
                                                 tracker: FakeTracker) -> None:
    (workspace / "twice.txt").write_text("x = 1\nx = 1\n")
    ctx = SessionContext(workspace=workspace, issue=issue, tracker=tracker)
    refused = await run_tool("edit_file", {"path": "twice.txt", "old": "x = 1", "new": "y"}, ctx)
    assert not refused.ok and "2 times" in refused.output
    done = await run_tool("edit_file", {"path": "twice.txt", "old": "x = 1", "new": "y",
                                        "count": 2}, ctx)
    assert done.ok and (workspace / "twice.txt").read_text() == "y\ny\n"
    ranged = await run_tool("read_file", {"path": "twice.txt", "start_line": 2}, ctx)
    assert ranged.output == "     2\ty"


def _gone(pid: int) -> bool:
    try:
        return psutil.Process(pid).status() == psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return True


async def test_shell_timeout_kills_the_process_group(workspace: Path, issue: Issue,
                                                     tracker: FakeTracker) -> None:
    seen: list[tuple[int, bool]] = []
    ctx = SessionContext(workspace=workspace, issue=issue, tracker=tracker,
                         env={"PATH": os.environ["PATH"]},
                         on_process=lambda pgid, alive: seen.append((pgid, alive)))
    started = time.monotonic()
    outcome = await run_tool(
        "shell", {"command": "sleep 30 & echo $! > bg.pid; echo before; sleep 30",
                  "timeout_ms": 300}, ctx)
    assert time.monotonic() - started < 20  # killed at its timeout, not after `sleep 30`
    assert not outcome.ok and "timed out" in outcome.output and "before" in outcome.output
    background = int((workspace / "bg.pid").read_text())
    await await_until(lambda: _gone(background))
    assert [alive for _, alive in seen] == [True, False] and seen[0][0] == seen[1][0]
    ident = await run_tool("shell", {"command": "echo $GIT_AUTHOR_NAME; exit 3"}, ctx)
    assert not ident.ok and ident.output == "exit code: 3\nTack Agent\n"


async def test_cancel_during_hang_returns_promptly(workspace: Path, issue: Issue,
                                                   tracker: FakeTracker) -> None:
    stalled = Issue(id="i-2", identifier="TACK-2", title="stall", state="Todo")
    script = {"conversations": [{"match": "stall", "steps": [{"hang": True}]},
                                {"steps": [{"text": "other"}]}]}
    async with StubModelServer(script) as server:
        session = await open_session(server, "responses", workspace, stalled, tracker)
        task = asyncio.create_task(session.run_turn("please stall", Recorder()))
        await await_until(lambda: len(server.requests) == 1)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):  # not TimeoutError: the hang never ends
            await asyncio.wait_for(task, 20)
        await session.stop()


async def test_cancel_kills_a_running_shell(workspace: Path, issue: Issue,
                                            tracker: FakeTracker) -> None:
    script = {"conversations": [{"steps": [
        {"tool_calls": [{"name": "shell", "arguments": {"command": "sleep 30"}}]}]}]}
    pgids: list[tuple[int, bool]] = []
    async with StubModelServer(script) as server:
        backend = BuiltinBackend(make_config(server, "chat"))
        session = await backend.start_session(SessionContext(
            workspace=workspace, issue=issue, tracker=tracker,
            on_process=lambda pgid, alive: pgids.append((pgid, alive))))
        task = asyncio.create_task(session.run_turn("TACK-1", Recorder()))
        await await_until(lambda: bool(pgids))
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await asyncio.wait_for(task, 20)  # not after `sleep 30`
        await session.stop()
    await await_until(lambda: _gone(pgids[0][0]))
    assert pgids[-1] == (pgids[0][0], False)


async def test_failed_requests_retry_then_fail_the_turn(workspace: Path, issue: Issue,
                                                        tracker: FakeTracker) -> None:
    script = {"conversations": [{"steps": [
        {"error": {"status": 500, "message": "upstream exploded"}}]}]}
    async with StubModelServer(script) as server:
        session = await open_session(server, "chat", workspace, issue, tracker)
        events = Recorder()
        result = await session.run_turn("TACK-1", events)
        await session.stop()
    assert not result.ok
    assert result.error == "model request failed: 500 upstream exploded"
    assert len(server.requests) == 3
    assert [e.data["retrying"] for e in events.of("error")] == [True, True, False]
    assert events.kinds()[-1] == "turn_failed"


async def test_unreachable_model_and_step_limit(workspace: Path, issue: Issue,
                                                tracker: FakeTracker) -> None:
    config = BuiltinConfig(base_url="http://127.0.0.1:9/v1", request_timeout_ms=2000)
    session = await BuiltinBackend(config).start_session(
        SessionContext(workspace=workspace, issue=issue, tracker=tracker))
    session.retry_backoff_s = 0.01
    result = await session.run_turn("TACK-1", Recorder())
    await session.stop()
    assert not result.ok and result.error and "127.0.0.1:9" in result.error

    loop = {"conversations": [{"steps": [
        {"tool_calls": [{"name": "list_files", "arguments": {}}]}] * 5}]}
    async with StubModelServer(loop) as server:
        session = await open_session(server, "responses", workspace, issue, tracker,
                                     max_steps_per_turn=2)
        events = Recorder()
        result = await session.run_turn("TACK-1", events)
        await session.stop()
    assert not result.ok and result.error == "step limit reached"
    assert len(server.requests) == 2 and events.kinds()[-1] == "turn_failed"
