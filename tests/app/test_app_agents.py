"""codex and claude drive the app from their own shells (issue 14 §5): with `app:` configured,
the session start puts the `tack-app` skill in the workspace and starts the daemon outside
the agent's sandbox; the real CLI, in codex's default `workspace-write` sandbox or claude's
Bash tool, runs `tack app snapshot`, and the digest reaches the model (the stub holds it)."""

from __future__ import annotations

import asyncio
import os
import shutil
from pathlib import Path

import pytest

from tack.agents.base import SessionContext
from tack.app import run as app_run
from tack.app.client import call, running, stop
from tack.app.config import AppConfig
from tack.app.home import AppHome
from tack.testing import StubModelServer
from tack.tracker.local import LocalTracker
from tests.agents.codex_helpers import codex_config, codex_env, codex_home, requires_codex
from tests.agents.test_claude import CLAUDE_BIN, Recorder, claude_env, needs_claude
from tests.app.conftest import FIXTURE_APP, needs_chromium
from tests.conftest import git

pytestmark = [pytest.mark.slow, needs_chromium]

CONFIG = AppConfig(start="python3 server.py $TACK_APP_PORT", ready="log:listening on")
# What the model must see in the tool output: the digest of the fixture app's page.
SEEN = "title: Counter"
# The command the skill names for this machine (a login shell's PATH may lack `tack`).
SNAPSHOT = f"{app_run.tack_command()} app snapshot"


def workspace(tmp_path: Path) -> Path:
    ws = tmp_path / "ws" / "TACK-3"
    shutil.copytree(FIXTURE_APP, ws)
    git(ws, "init", "-q")
    git(ws, "add", "-A")
    git(ws, "commit", "-q", "-m", "counter app")
    return ws


def start_app_session(ws: Path, env: dict[str, str]) -> dict[str, str]:
    """What the run does at session start; returns the session's environment."""
    env = {**env, "TACK_WORKSPACE": str(ws)}
    env.update(app_run.session_environment(ws, CONFIG, env))
    assert running(AppHome(ws)), "the daemon runs before the agent does"
    for rel in (".agents/skills", ".claude/skills"):
        skill = (ws / rel / "tack-app" / "SKILL.md").read_text()
        assert "tack app snapshot" in skill and f"`{SNAPSHOT}`" in skill
    assert git(ws, "status", "--porcelain") == ""  # neither skill nor app state shows in git
    return env


@requires_codex
async def test_codex_runs_tack_app_in_its_sandbox_and_the_model_sees_the_page(
        tmp_path: Path) -> None:
    from tack.agents.codex import CodexBackend

    ws = workspace(tmp_path)
    script = {"conversations": [{"steps": [
        # Codex hands back a command's output after `yield_time_ms` even while it runs.
        {"tool_calls": [{"name": "exec_command", "arguments": {"cmd": SNAPSHOT,
                                                               "yield_time_ms": 60_000}}]},
        {"expect": SEEN, "text": "I see the counter page."},
    ]}]}
    try:
        async with StubModelServer(script) as server:
            home = codex_home(tmp_path, server.url)
            env = start_app_session(ws, {**os.environ, **codex_env(home)})
            # The app and Chromium up first: a cold start on a busy machine can outlast the
            # longest wait codex grants a command before it returns what it has so far.
            call(ws, "open")
            with LocalTracker(tmp_path / "issues.db") as tracker:
                issue = tracker.add_issue("Look at the counter")
                ctx = SessionContext(workspace=ws, issue=issue, tracker=tracker, env=env)
                session = await CodexBackend(codex_config()).start_session(ctx)
                events = Recorder()
                try:
                    result = await asyncio.wait_for(session.run_turn("Look at the app", events),
                                                    120)
                finally:
                    await session.stop()
            sandbox = server.requests[0].body.get("instructions", "") + str(
                server.requests[0].body.get("input", ""))
    finally:
        stop(ws)
    assert result.ok, [e.data for e in events.events if e.kind in ("tool_result", "tool_call")]
    assert result.final_message == "I see the counter page."
    assert "workspace-write" in sandbox  # codex ran the command in its default sandbox
    assert (AppHome(ws).dir / "mailbox").is_dir()  # refused connect(), so through the door


@needs_claude
async def test_claude_runs_tack_app_from_its_bash_tool_and_the_model_sees_the_page(
        tmp_path: Path) -> None:
    from tack.agents.claude import ClaudeBackend
    from tack.workflow.config import ClaudeConfig

    ws = workspace(tmp_path)
    script = {"conversations": [{"match": "Look at the app", "steps": [
        {"tool_calls": [{"name": "Bash", "arguments": {"command": SNAPSHOT,
                                                       "description": "See the app"}}]},
        {"expect": SEEN, "text": "I see the counter page."},
    ]}]}
    try:
        async with StubModelServer(script) as server:
            env = start_app_session(ws, {**os.environ,
                                         **claude_env(tmp_path / "claude-home", server)})
            with LocalTracker(tmp_path / "issues.db") as tracker:
                issue = tracker.add_issue("Look at the counter")
                ctx = SessionContext(workspace=ws, issue=issue, tracker=tracker, env=env)
                session = await ClaudeBackend(ClaudeConfig(command=CLAUDE_BIN)).start_session(ctx)
                events = Recorder()
                try:
                    result = await asyncio.wait_for(session.run_turn("Look at the app", events),
                                                    120)
                finally:
                    await session.stop()
    finally:
        stop(ws)
    assert result.ok, (result.error, [e.data for e in events.events])
    assert result.final_message == "I see the counter page."
