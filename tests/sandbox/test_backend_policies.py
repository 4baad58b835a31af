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


def _claude_session_line(ws: Path, tracker: LocalTracker, policy: SandboxPolicy) -> list[str]:
    ctx = SessionContext(workspace=ws, issue=tracker.add_issue("x"), tracker=tracker,
                         sandbox=policy)
    from tack.agents.claude import ClaudeSession

    return ClaudeSession(ClaudeConfig(command=CLAUDE_BIN), ctx, [CLAUDE_BIN]).command_line()


def test_claude_gets_tacks_policy_as_its_sandbox_settings(tmp_path: Path) -> None:
    ws = tmp_path / "ws"
    ws.mkdir()
    policy = SandboxPolicy(allow_hosts=("pypi.org", "registry.internal:8443"),
                           hide=(tmp_path / "secrets", tmp_path), writable=(tmp_path / "cache",))
    with LocalTracker(tmp_path / "issues.db") as tracker:
        line = _claude_session_line(ws, tracker, policy)
    sandbox = json.loads(line[line.index("--settings") + 1])["sandbox"]
    assert sandbox["enabled"] and sandbox["allowUnsandboxedCommands"] is False
    assert sandbox["excludedCommands"] == []
    assert sandbox["network"]["allowedDomains"] == ["pypi.org", "registry.internal"]
    assert sandbox["filesystem"]["denyRead"] == [str(tmp_path / "secrets"), str(tmp_path)]
    assert sandbox["filesystem"]["allowRead"] == [str(ws)]
    assert sandbox["filesystem"]["allowWrite"] == [str(tmp_path / "cache")]


@needs_claude
async def test_claudes_bash_tool_runs_in_its_sandbox_under_tacks_policy(
        tmp_path: Path) -> None:
    import shutil
    import tempfile

    if shutil.which("socat") is None:
        import pytest

        pytest.skip("Claude Code's sandbox needs socat (`make test` installs it)")
    base = Path(tempfile.mkdtemp(prefix="tack-claude-", dir="/var/tmp"))
    (base / "secrets").mkdir()
    (base / "secrets" / "key").write_text("claude-escape-secret")
    ws = base / "ws"
    ws.mkdir()
    script = (f"cat {base}/secrets/key; echo read=$?; echo x > {base}/outside; "
              "echo wrote=$?")
    steps = [{"tool_calls": [{"name": "Bash", "arguments": {"command": script,
                                                            "description": "escape"}}]},
             {"text": "done"}]
    try:
        with LocalTracker(tmp_path / "issues.db") as tracker:
            async with StubModelServer({"conversations": [{"steps": steps}]}) as stub:
                ctx = SessionContext(
                    workspace=ws, issue=tracker.add_issue("x"), tracker=tracker,
                    env={**os.environ, **claude_env(tmp_path / "home", stub)},
                    sandbox=SandboxPolicy(hide=(base / "secrets",)))
                session = await ClaudeBackend(ClaudeConfig(command=CLAUDE_BIN)).start_session(
                    ctx)
                try:
                    result = await asyncio.wait_for(session.run_turn("go", _ignore), 120)
                finally:
                    await session.stop()
        assert result.ok, result.error
        assert not any("Sandbox disabled" in line for line in session.stderr_tail)
        replies = json.dumps(stub.requests[-1].body.get("messages"))
        assert "read=" in replies
        assert "claude-escape-secret" not in replies
        assert not (base / "outside").exists()
    finally:
        shutil.rmtree(base, ignore_errors=True)
