"""Every backend reaches the context tools: the real claude and codex CLIs (against the stub
model) call the context MCP server that Tack writes into their session config, and the
built-in agent calls its `context` tool."""

from __future__ import annotations

import asyncio
import json
import os
from pathlib import Path
from typing import Any

import pytest

from tack.agents.base import AgentEvent, SessionContext
from tack.agents.builtin import BuiltinBackend
from tack.testing import StubModelServer
from tack.tracker.local import LocalTracker
from tack.workflow.config import BuiltinConfig, ClaudeConfig
from tests.agents.codex_helpers import codex_config, codex_env, codex_home, requires_codex
from tests.agents.test_claude import CLAUDE_BIN, claude_env, needs_claude
from tests.conftest import run_tack
from tests.context.org import make_org

# Only the tool's result carries this path; the model's call carries only the marker.
RESULT_PATH = "billing/invoices.py"


@pytest.fixture
def tracker(tmp_path: Path) -> LocalTracker:
    with LocalTracker(tmp_path / "issues.db") as t:
        t.add_issue("Render invoices")
        yield t


@pytest.fixture
def context_env(tmp_path: Path) -> dict[str, str]:
    manifest = make_org(tmp_path / "org")
    home = tmp_path / "context-home"
    done = run_tack("context", "sync", "--manifest", str(manifest), "--home", str(home))
    assert done.returncode == 0, done.stderr
    return {"TACK_CONTEXT_HOME": str(home)}


def _bodies(stub: StubModelServer) -> list[str]:
    return [json.dumps(r.body) for r in stub.requests if isinstance(r.body, dict)]


async def _quiet(event: AgentEvent) -> None:
    pass


def _script(tool: str, args: dict[str, object]) -> dict[str, Any]:
    return {"conversations": [{"match": "invoices", "steps": [
        {"tool_calls": [{"name": tool, "arguments": args}]}, {"text": "done"}]}]}


@needs_claude
async def test_claude_calls_the_context_mcp_server(
        tmp_path: Path, git_repo: Path, tracker: LocalTracker,
        context_env: dict[str, str]) -> None:
    script = _script("mcp__tack_context__search", {"query": "qz-invoice-77"})
    async with StubModelServer(script) as stub:
        env = {**os.environ, **claude_env(tmp_path / "home", stub), **context_env}
        ctx = SessionContext(workspace=git_repo, issue=tracker.get("TACK-1"), tracker=tracker,
                             env=env)
        from tack.agents.claude import ClaudeBackend

        session = await ClaudeBackend(ClaudeConfig(command=CLAUDE_BIN)).start_session(ctx)
        try:
            result = await asyncio.wait_for(session.run_turn("Render invoices", _quiet), 120)
        finally:
            await session.stop()
    assert result.ok, result.error
    assert any(RESULT_PATH in b for b in _bodies(stub)), "the context tool did not answer"


async def _codex_searches(tmp_path: Path, git_repo: Path, tracker: LocalTracker,
                          env: dict[str, str]) -> list[str]:
    """One codex turn whose model calls the context server's `search`; the request bodies."""
    # Codex offers an MCP server's tools as the namespace `mcp__<server>`.
    script = {"conversations": [{"match": "invoices", "steps": [
        {"tool_calls": [{"name": "search", "namespace": "mcp__tack_context",
                         "arguments": {"query": "qz-invoice-77"}}]}, {"text": "done"}]}]}
    async with StubModelServer(script) as stub:
        home = codex_home(tmp_path, stub.url)
        ctx = SessionContext(workspace=git_repo, issue=tracker.get("TACK-1"), tracker=tracker,
                             env={**os.environ, **codex_env(home), **env})
        from tack.agents.codex import CodexBackend

        session = await CodexBackend(codex_config()).start_session(ctx)
        try:
            result = await asyncio.wait_for(session.run_turn("Render invoices", _quiet), 180)
        finally:
            await session.stop()
    assert result.ok, result.error
    return _bodies(stub)


@requires_codex
async def test_codex_calls_the_context_mcp_server(
        tmp_path: Path, git_repo: Path, tracker: LocalTracker,
        context_env: dict[str, str]) -> None:
    bodies = await _codex_searches(tmp_path, git_repo, tracker, context_env)
    assert "tack_context" in bodies[0], "codex did not offer the context tools"
    assert any(RESULT_PATH in b for b in bodies[1:]), "the context tool did not answer"


async def test_the_builtin_agent_calls_its_context_tool(
        git_repo: Path, tracker: LocalTracker, context_env: dict[str, str]) -> None:
    script = _script("context", {"action": "symbol", "name": "InvoiceRenderer"})
    events: list[AgentEvent] = []

    async def record(event: AgentEvent) -> None:
        events.append(event)

    async with StubModelServer(script) as stub:
        ctx = SessionContext(workspace=git_repo, issue=tracker.get("TACK-1"), tracker=tracker,
                             env={**os.environ, **context_env})
        session = await BuiltinBackend(BuiltinConfig(base_url=stub.url)).start_session(ctx)
        try:
            result = await session.run_turn("Render invoices", record)
        finally:
            await session.stop()
    assert result.ok, result.error
    tools = [t["function"]["name"] for t in stub.requests[0].body["tools"]]
    assert "context" in tools
    outputs = [e.data["output"] for e in events if e.kind == "tool_result"]
    hit = json.loads(outputs[0])[0]
    assert hit["path"] == RESULT_PATH and hit["repo"] == "billing" and hit["stale"] is False


async def test_no_context_tool_without_a_context_home(
        git_repo: Path, tracker: LocalTracker) -> None:
    script = {"conversations": [{"match": "invoices", "steps": [{"text": "done"}]}]}
    async with StubModelServer(script) as stub:
        env = {k: v for k, v in os.environ.items() if k != "TACK_CONTEXT_HOME"}
        ctx = SessionContext(workspace=git_repo, issue=tracker.get("TACK-1"), tracker=tracker,
                             env=env)
        session = await BuiltinBackend(BuiltinConfig(base_url=stub.url)).start_session(ctx)
        try:
            await session.run_turn("Render invoices", _quiet)
        finally:
            await session.stop()
    tools = [t["function"]["name"] for t in stub.requests[0].body["tools"]]
    assert "context" not in tools


@requires_codex
@pytest.mark.slow
async def test_codex_waits_for_a_context_server_slower_than_30_s(
        tmp_path: Path, git_repo: Path, tracker: LocalTracker,
        context_env: dict[str, str]) -> None:
    # On a loaded machine the context MCP server (Python importing part of Tack) can take
    # longer than 30 s; codex (and Tack's session start) would then go on without its tools.
    slow = tmp_path / "slow-site"
    slow.mkdir()
    (slow / "sitecustomize.py").write_text(
        "import sys, time\n"
        "if 'tack.context.mcp_server' in sys.orig_argv:\n"
        "    time.sleep(35)\n")
    path = os.pathsep.join([str(slow), os.environ.get("PYTHONPATH", "")])
    bodies = await _codex_searches(tmp_path, git_repo, tracker,
                                   {**context_env, "PYTHONPATH": path})
    assert "tack_context" in bodies[0], "codex ran without the slow context server"
    assert any(RESULT_PATH in b for b in bodies[1:]), "the context tool did not answer"
