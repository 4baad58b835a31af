"""Tack's sandbox policy handed to the agents that sandbox themselves (codex, claude), run
for real against the stub model server."""

from __future__ import annotations

import asyncio
import json
import os
from pathlib import Path

from tack.agents.base import AgentEvent, SessionContext
from tack.agents.claude import ClaudeBackend
from tack.agents.codex import CodexBackend
from tack.sandbox import SandboxPolicy
from tack.testing import StubModelServer
from tack.tracker.local import LocalTracker
from tack.workflow.config import ClaudeConfig
from tests.agents.codex_helpers import CODEX_BIN, codex_config, codex_env, codex_home, requires_codex
from tests.agents.test_claude import CLAUDE_BIN, claude_env, needs_claude


async def _ignore(event: AgentEvent) -> None:
    pass


@requires_codex
async def test_codex_turns_get_a_workspace_write_policy_with_the_network_off(
        tmp_path: Path) -> None:
    ws = tmp_path / "ws"
    ws.mkdir()
    sent = tmp_path / "sent.jsonl"
    with LocalTracker(tmp_path / "issues.db") as tracker:
        async with StubModelServer({"conversations": [{"steps": [{"text": "ok"}]}]}) as stub:
            home = codex_home(tmp_path, stub.url)
            config = codex_config(command=f"tee {sent} | {CODEX_BIN} app-server")
            ctx = SessionContext(workspace=ws, issue=tracker.add_issue("x"), tracker=tracker,
                                 env={**os.environ, **codex_env(home)},
                                 sandbox=SandboxPolicy(allow_hosts=("pypi.org",)))
            session = await CodexBackend(config).start_session(ctx)
            try:
                result = await asyncio.wait_for(session.run_turn("go", _ignore), 60)
            finally:
                await session.stop()
    assert result.ok, result.error
    turn = next(m for m in map(json.loads, sent.read_text().splitlines())
                if m.get("method") == "turn/start")
    assert turn["params"]["sandboxPolicy"] == {"type": "workspaceWrite", "writableRoots": [],
                                               "networkAccess": False}


@needs_claude
async def test_claude_loses_its_web_tools_when_the_sandbox_has_no_network(
        tmp_path: Path) -> None:
    ws = tmp_path / "ws"
    ws.mkdir()
    with LocalTracker(tmp_path / "issues.db") as tracker:
        async with StubModelServer({"conversations": [{"steps": [{"text": "ok"}]}]}) as stub:
            ctx = SessionContext(workspace=ws, issue=tracker.add_issue("x"), tracker=tracker,
                                 env={**os.environ, **claude_env(tmp_path / "home", stub)},
                                 sandbox=SandboxPolicy())
            session = await ClaudeBackend(ClaudeConfig(command=CLAUDE_BIN)).start_session(ctx)
            try:
                result = await asyncio.wait_for(session.run_turn("go", _ignore), 60)
            finally:
                await session.stop()
            online = SandboxPolicy(allow_hosts=("pypi.org",))
            open_line = (await ClaudeBackend(ClaudeConfig(command=CLAUDE_BIN)).start_session(
                SessionContext(workspace=ws, issue=ctx.issue, tracker=tracker,
                               sandbox=online))).command_line()
    assert result.ok, result.error
    line = session.command_line()
    assert line[line.index("--disallowedTools") + 1] == "WebFetch,WebSearch"
    assert "--disallowedTools" not in open_line
    tools = json.dumps([r.body.get("tools") for r in stub.requests])
    assert '"WebFetch"' not in tools and '"Bash"' in tools
