"""The claude backend driving the real Claude Code CLI against the stub model server."""

from __future__ import annotations

import asyncio
import json
import os
from pathlib import Path
from typing import Any

import psutil
import pytest

from tack.agents.base import AgentEvent, SessionContext
from tack.agents.claude import ClaudeBackend, ClaudeSession
from tack.agents.mcp_tracker import CLAUDE_TOOL_NAME
from tack.testing.stub_model import StubModelServer
from tack.tracker.local import LocalTracker
from tack.workflow.config import ClaudeConfig
from tests.conftest import git

ROOT = Path(__file__).resolve().parents[2]
CLAUDE_BIN = os.environ.get("TACK_CLAUDE_BIN") or str(
    ROOT / "tools" / "agents" / "node_modules" / ".bin" / "claude")
FIXTURE = ROOT / "tests" / "fixtures" / "claude" / "requests.json"

needs_claude = pytest.mark.skipif(
    not os.access(CLAUDE_BIN, os.X_OK),
    reason=f"claude CLI not installed at {CLAUDE_BIN} (run `make agent-clis` or set "
           "TACK_CLAUDE_BIN)",
)


def claude_env(home: Path, stub: StubModelServer) -> dict[str, str]:
    """Isolated config home, pointed at the stub, no network besides it."""
    home.mkdir(parents=True, exist_ok=True)
    return {
        "HOME": str(home),
        "CLAUDE_CONFIG_DIR": str(home / ".claude"),
        "ANTHROPIC_BASE_URL": stub.url.removesuffix("/v1"),
        "ANTHROPIC_API_KEY": "sk-ant-test",
        "CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC": "1",
    }


class Recorder:
    def __init__(self) -> None:
        self.events: list[AgentEvent] = []

    async def __call__(self, event: AgentEvent) -> None:
        self.events.append(event)

    def kinds(self) -> list[str]:
        return [e.kind for e in self.events]

    def of(self, kind: str) -> list[AgentEvent]:
        return [e for e in self.events if e.kind == kind]


@pytest.fixture
def workspace(git_repo: Path) -> Path:
    (git_repo / "app.py").write_text("VALUE = 1\n")
    git(git_repo, "add", "-A")
    git(git_repo, "commit", "-q", "-m", "app")
    return git_repo


@pytest.fixture
def tracker(tmp_path: Path) -> LocalTracker:
    with LocalTracker(tmp_path / "issues.db") as t:
        yield t


def edit_script(ws: Path) -> dict[str, Any]:
    app = str(ws / "app.py")
    return {"conversations": [{"match": "Fix VALUE", "steps": [
        {"text": "Reading the file.", "tool_calls": [
            {"name": "Read", "arguments": {"file_path": app}}]},
        {"tool_calls": [{"name": "Edit", "arguments": {
            "file_path": app, "old_string": "VALUE = 1", "new_string": "VALUE = 2"}}]},
        {"tool_calls": [{"name": CLAUDE_TOOL_NAME,
                         "arguments": {"action": "move", "state": "Human Review"}}]},
        {"text": "Changed VALUE to 2 and handed the issue off."},
    ]}]}


async def _session(tmp_path: Path, ws: Path, tracker: LocalTracker, stub: StubModelServer,
                   **config: Any) -> ClaudeSession:
    issue = tracker.add_issue("Fix VALUE")
    pids: list[tuple[int, bool]] = []
    ctx = SessionContext(workspace=ws, issue=issue, tracker=tracker,
                         env={**os.environ, **claude_env(tmp_path / "home", stub)},
                         on_process=lambda pgid, alive: pids.append((pgid, alive)))
    session = await ClaudeBackend(ClaudeConfig(command=CLAUDE_BIN, **config)).start_session(ctx)
    session.pids = pids  # type: ignore[attr-defined]
    return session


@needs_claude
async def test_claude_edits_a_file_moves_the_issue_and_counts_tokens(
    tmp_path: Path, workspace: Path, tracker: LocalTracker
) -> None:
    async with StubModelServer(edit_script(workspace)) as stub:
        session = await _session(tmp_path, workspace, tracker, stub)
        events = Recorder()
        try:
            result = await asyncio.wait_for(
                session.run_turn("Fix VALUE: make it 2", events), 60)
        finally:
            await session.stop()
    assert result.ok, (result.error, session.stderr_tail, events.kinds())
    assert (workspace / "app.py").read_text() == "VALUE = 2\n"
    assert tracker.get("TACK-1").state == "Human Review"
    assert result.usage.total_tokens > 0
    assert events.kinds()[0] == "session_started"
    assert session.session_id
    calls = [e.data["name"] for e in events.of("tool_call")]
    assert calls == ["Read", "Edit", CLAUDE_TOOL_NAME]
    results = events.of("tool_result")
    assert len(results) == 3 and all(r.data["ok"] for r in results), results
    # claude's tool_result carries only the call's id; Tack names it like the call.
    assert [(r.data["name"], r.data["call_id"]) for r in results] == [
        (c.data["name"], c.data["call_id"]) for c in events.of("tool_call")]
    assert "moved TACK-1 to Human Review" in results[2].data["output"]
    assert sum(e.usage.total_tokens for e in events.of("token_usage") if e.usage) > 0
    assert events.kinds()[-1] == "turn_completed"
    assert result.final_message == "Changed VALUE to 2 and handed the issue off."
    # the process group was reported, then released, and is gone
    assert session.pids[0][1] and session.pids[-1] == (session.pids[0][0], False)
    assert not _alive_in_group(session.pids[0][0])
    _check_fixture(stub)


def _alive_in_group(pgid: int) -> list[int]:
    alive = []
    for proc in psutil.process_iter(["pid", "status"]):
        try:
            if os.getpgid(proc.pid) == pgid and proc.info["status"] != psutil.STATUS_ZOMBIE:
                alive.append(proc.pid)
        except (ProcessLookupError, psutil.Error):
            continue
    return alive


_VOLATILE_HEADERS = {"content-length", "host", "connection", "accept-encoding"}


def request_shapes(stub: StubModelServer) -> list[dict[str, Any]]:
    """What the real client sends, minus values: paths, header names, body keys."""
    shapes = []
    for r in stub.requests:
        body = r.body if isinstance(r.body, dict) else {}
        shapes.append({
            "method": r.method,
            "path": r.path,
            "headers": sorted(k.lower() for k in r.headers if k.lower() not in _VOLATILE_HEADERS),
            "body_keys": sorted(body),
            "message_roles": sorted({str(m.get("role")) for m in body.get("messages") or []}),
            "stream": body.get("stream"),
        })
    return shapes


def _check_fixture(stub: StubModelServer) -> None:
    """Compare with the recorded protocol; TACK_UPDATE_FIXTURES=1 re-records it."""
    shapes = request_shapes(stub)
    if os.environ.get("TACK_UPDATE_FIXTURES") or not FIXTURE.exists():
        FIXTURE.parent.mkdir(parents=True, exist_ok=True)
        FIXTURE.write_text(json.dumps({"claude_version": "2.1.332", "requests": shapes},
                                      indent=2) + "\n")
    recorded = json.loads(FIXTURE.read_text())["requests"]
    assert [(s["method"], s["path"]) for s in shapes] == [
        (s["method"], s["path"]) for s in recorded], "claude now calls other endpoints"
    for now, before in zip(shapes, recorded):
        assert now == before, (
            "the claude CLI's requests changed shape; check the stub's Anthropic wire "
            "and re-record with TACK_UPDATE_FIXTURES=1")


@needs_claude
async def test_claude_resumes_the_conversation_across_turns(
    tmp_path: Path, workspace: Path, tracker: LocalTracker
) -> None:
    script = {"conversations": [{"match": "Fix VALUE", "steps": [
        {"text": "first turn done", "usage": {"input_tokens": 100, "output_tokens": 10}},
        {"text": "second turn done", "usage": {"input_tokens": 200, "output_tokens": 20}},
    ]}]}
    async with StubModelServer(script) as stub:
        session = await _session(tmp_path, workspace, tracker, stub)
        events = Recorder()
        try:
            first = await asyncio.wait_for(session.run_turn("Fix VALUE please", events), 60)
            pgid = session.pids[0][0]
            second = await asyncio.wait_for(session.run_turn("Continue with it", events), 60)
        finally:
            await session.stop()
    assert first.ok and second.ok, (first, second, session.stderr_tail)
    assert (first.final_message, second.final_message) == ("first turn done",
                                                           "second turn done")
    # per-turn usage deltas, not running totals
    assert first.usage.input_tokens == 100 and second.usage.input_tokens == 200
    # streamed as each response arrives, topped up by `result`, never counted twice
    streamed = sum(e.usage.input_tokens for e in events.of("token_usage") if e.usage)
    assert streamed == 300
    assert len(events.of("session_started")) == 1
    last = [r for r in stub.requests if r.step is not None][-1]
    texts = json.dumps(last.body["messages"])
    assert last.step == 1 and "Fix VALUE please" in texts and "first turn done" in texts
    assert "Continue with it" in texts
    assert not _alive_in_group(pgid)


@needs_claude
async def test_claude_resumes_with_a_new_process_after_the_old_one_died(
    tmp_path: Path, workspace: Path, tracker: LocalTracker
) -> None:
    script = {"conversations": [{"match": "Fix VALUE", "steps": [
        {"text": "first turn done"}, {"text": "second turn done"}]}]}
    async with StubModelServer(script) as stub:
        session = await _session(tmp_path, workspace, tracker, stub)
        events = Recorder()
        try:
            await asyncio.wait_for(session.run_turn("Fix VALUE please", events), 60)
            first_id = session.session_id
            await session._kill()  # the process is gone between turns
            second = await asyncio.wait_for(session.run_turn("Continue", events), 60)
        finally:
            await session.stop()
    assert second.ok and second.final_message == "second turn done", session.stderr_tail
    assert "--resume" in session.command_line()
    last = [r for r in stub.requests if r.step is not None][-1]
    assert "first turn done" in json.dumps(last.body["messages"])
    assert first_id


@needs_claude
async def test_cancelling_a_turn_kills_the_claude_process_group(
    tmp_path: Path, workspace: Path, tracker: LocalTracker
) -> None:
    script = {"conversations": [{"match": "Fix VALUE", "steps": [{"hang": True}]}]}
    async with StubModelServer(script) as stub:
        session = await _session(tmp_path, workspace, tracker, stub)
        task = asyncio.create_task(session.run_turn("Fix VALUE", Recorder()))
        deadline = asyncio.get_running_loop().time() + 30
        while not any(r.step == 0 for r in stub.requests):
            assert asyncio.get_running_loop().time() < deadline, session.stderr_tail
            await asyncio.sleep(0.05)
        pgid = session.pids[0][0]
        assert _alive_in_group(pgid)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        assert not _alive_in_group(pgid)
        assert session.pids[-1] == (pgid, False)
        await session.stop()


@needs_claude
async def test_a_turn_cancelled_before_its_result_still_counts_its_tokens(
    tmp_path: Path, workspace: Path, tracker: LocalTracker
) -> None:
    # Reconciliation cancels a run whose issue the agent has just handed off, often
    # before claude prints its `result` line; the responses so far must still count.
    script = {"conversations": [{"match": "Fix VALUE", "steps": [
        {"tool_calls": [{"name": "Read", "arguments": {"file_path": str(workspace / "app.py")}}],
         "usage": {"input_tokens": 70, "output_tokens": 7}},
        {"hang": True},
    ]}]}
    async with StubModelServer(script) as stub:
        session = await _session(tmp_path, workspace, tracker, stub)
        events = Recorder()
        task = asyncio.create_task(session.run_turn("Fix VALUE", events))
        deadline = asyncio.get_running_loop().time() + 30
        # The second request has reached the model (claude is now waiting on it), and the
        # session has read the first response's line: claude prints it before running the
        # tool, but this loop may see the request before the session task reads the line.
        while not (any(r.step == 1 for r in stub.requests) and events.of("token_usage")):
            assert asyncio.get_running_loop().time() < deadline, (
                session.stderr_tail, events.kinds())
            await asyncio.sleep(0.05)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        await session.stop()
    counted = [e.usage for e in events.of("token_usage") if e.usage]
    # claude echoes the usage of `message_start`: input is exact, output is what had been
    # counted when the response began (the `result` line would have topped it up)
    assert len(counted) == 1 and counted[0].input_tokens == 70
    assert 1 <= counted[0].output_tokens <= 7


@needs_claude
@pytest.mark.slow
async def test_tacks_mcp_server_answering_after_claudes_default_30_s_still_serves_the_turn(
    tmp_path: Path, workspace: Path, tracker: LocalTracker
) -> None:
    # On a loaded machine Tack's MCP server (Python importing part of Tack) can take longer
    # than claude's default MCP start-up timeout; claude would then run without `tracker`.
    slow = tmp_path / "slow-site"
    slow.mkdir()
    (slow / "sitecustomize.py").write_text(
        "import sys, time\n"
        "if 'tack.agents.mcp_tracker' in sys.orig_argv:\n"
        "    time.sleep(32)\n")
    script = {"conversations": [{"match": "Fix VALUE", "steps": [
        {"tool_calls": [{"name": CLAUDE_TOOL_NAME,
                         "arguments": {"action": "move", "state": "Human Review"}}]},
        {"text": "Handed off."},
    ]}]}
    async with StubModelServer(script) as stub:
        session = await _session(tmp_path, workspace, tracker, stub)
        session.ctx.env = {**(session.ctx.env or {}), "PYTHONPATH": os.pathsep.join(
            [str(slow), os.environ.get("PYTHONPATH", "")])}
        events = Recorder()
        try:
            result = await asyncio.wait_for(session.run_turn("Fix VALUE: hand off", events), 180)
        finally:
            await session.stop()
    assert result.ok, (result.error, session.stderr_tail)
    outputs = [e.data["output"] for e in events.of("tool_result")]
    notes = [e.message for e in events.of("notification")]
    assert tracker.get("TACK-1").state == "Human Review", (outputs, notes)
    assert not notes


@needs_claude
async def test_a_model_error_fails_the_turn(
    tmp_path: Path, workspace: Path, tracker: LocalTracker
) -> None:
    script = {"conversations": [{"match": "Fix VALUE", "steps": [
        {"error": {"status": 400, "message": "scripted bad request"}}]}]}
    async with StubModelServer(script) as stub:
        session = await _session(tmp_path, workspace, tracker, stub)
        events = Recorder()
        try:
            result = await asyncio.wait_for(session.run_turn("Fix VALUE", events), 60)
        finally:
            await session.stop()
    assert not result.ok and result.error
    assert events.kinds()[-1] == "turn_failed"


async def test_a_missing_claude_binary_is_a_clear_error(
    tmp_path: Path, workspace: Path, tracker: LocalTracker
) -> None:
    from tack.errors import AgentError

    ctx = SessionContext(workspace=workspace, issue=tracker.add_issue("x"), tracker=tracker)
    with pytest.raises(AgentError, match="claude.command.*not found"):
        await ClaudeBackend(ClaudeConfig(command="no-such-claude-xyz")).start_session(ctx)


@needs_claude
async def test_ask_human_parks_the_turn_and_resume_continues_the_same_session(
    tmp_path: Path, workspace: Path, tracker: LocalTracker
) -> None:
    from tack.agents.mcp_tracker import ASKED_REPLY, SERVER_NAME

    ask = {"name": f"mcp__{SERVER_NAME}__ask_human", "arguments": {
        "question": "Which database?", "options": ["SQLite", "Postgres"], "recommended": 1}}
    script = {"conversations": [{"match": "Fix VALUE", "steps": [
        {"tool_calls": [ask]},
        {"expect": ASKED_REPLY, "text": "Waiting for the answer."},
        {"expect": "A person answered your question: Postgres", "text": "Using Postgres."},
    ]}]}
    async with StubModelServer(script) as stub:
        issue = tracker.add_issue("Fix VALUE")
        ctx = SessionContext(workspace=workspace, issue=issue, tracker=tracker,
                             env={**os.environ, **claude_env(tmp_path / "home", stub)},
                             can_park=True)
        backend = ClaudeBackend(ClaudeConfig(command=CLAUDE_BIN,
                                             allowed_tools=[ask["name"]]))
        session = await backend.start_session(ctx)
        try:
            parked = await asyncio.wait_for(session.run_turn("Fix VALUE: pick one", Recorder()), 60)
        finally:
            await session.stop()
        assert parked.ok, parked.error
        assert parked.asked is not None
        assert (parked.asked.text, parked.asked.recommended, parked.asked.source) == (
            "Which database?", 1, "claude")
        saved = parked.asked.resume
        assert saved["backend"] == "claude" and saved["session_id"]
        later = await backend.start_session(ctx)  # a new process, as after a restart
        try:
            resumed = await asyncio.wait_for(later.resume(saved, "Postgres", Recorder()), 60)
        finally:
            await later.stop()
        last = json.dumps(stub.requests[-1].body)
    assert resumed.ok, resumed.error
    assert resumed.final_message == "Using Postgres."
    # The same conversation: the first prompt and the question are in the resumed request.
    assert "Fix VALUE: pick one" in last and "Which database?" in last
    assert later.session_id == saved["session_id"]


@needs_claude
@pytest.mark.parametrize("decision", ["allow", "deny"])
async def test_a_permission_prompt_parks_and_the_decision_applies_on_resume(
    tmp_path: Path, workspace: Path, tracker: LocalTracker, decision: str
) -> None:
    """Bash is not in allowed_tools, so claude asks its --permission-prompt-tool (Tack's
    relay); the question parks the turn; the resumed session runs the call once allowed
    (the stub sees the command's output) or is told it was denied."""
    from tack.agents.claude import PERMISSION_PARKED

    # A command acceptEdits does not pass by itself (it lets `echo` and the like run).
    command = "python3 -c 'print(\"tack-\" + str(6 * 7))'"
    bash = {"name": "Bash", "arguments": {"command": command,
                                          "description": "print the answer"}}
    after = ([{"expect": "A person allowed Bash", "tool_calls": [bash]},
              {"expect": "tack-42", "text": "Ran it."}] if decision == "allow" else
             [{"expect": "A person did not allow Bash", "text": "Stopping without it."}])
    script = {"conversations": [{"match": "Fix VALUE", "steps": [
        {"tool_calls": [bash]},
        {"expect": PERMISSION_PARKED, "text": "Waiting for the decision."},
        *after,
    ]}]}
    async with StubModelServer(script) as stub:
        issue = tracker.add_issue("Fix VALUE")
        ctx = SessionContext(workspace=workspace, issue=issue, tracker=tracker,
                             env={**os.environ, **claude_env(tmp_path / "home", stub)},
                             can_park=True)
        backend = ClaudeBackend(ClaudeConfig(command=CLAUDE_BIN, allowed_tools=["Read"]))
        session = await backend.start_session(ctx)
        try:
            parked = await asyncio.wait_for(session.run_turn("Fix VALUE: run it", Recorder()), 60)
        finally:
            await session.stop()
        assert parked.ok, parked.error
        asked = parked.asked
        assert asked is not None
        assert (asked.source, asked.options, asked.recommended, asked.allow_free_text) == (
            "claude.permission", ["allow", "deny"], 2, False)
        assert "Bash" in asked.text and command in asked.text
        assert asked.resume["session_id"] and asked.resume["permission"]["tool_name"] == "Bash"
        later = await backend.start_session(ctx)
        try:
            resumed = await asyncio.wait_for(later.resume(asked.resume, decision, Recorder()), 60)
        finally:
            await later.stop()
    assert resumed.ok, resumed.error
    assert resumed.asked is None
    assert resumed.final_message == ("Ran it." if decision == "allow" else "Stopping without it.")
