"""The tracker tool for claude with a hosted tracker: the real Claude Code CLI calls
`mcp__tack__tracker`, the MCP server relays the call over a unix socket to the GitHub tracker
held by this process, and the fake GitHub records the label change and the comment."""

from __future__ import annotations

import asyncio
import json
import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from tack.agents.base import SessionContext
from tack.agents.claude import ClaudeBackend
from tack.agents.mcp_tracker import CLAUDE_TOOL_NAME, RelayClient, ToolRelay
from tack.testing.stub_model import StubModelServer
from tack.tracker import build_tracker
from tack.tracker.github import GitHubTracker
from tack.workflow import load_workflow
from tack.workflow.config import ClaudeConfig
from tests.agents.test_claude import CLAUDE_BIN, Recorder, claude_env, needs_claude, workspace
from tests.tracker_remote.fake_apis import FakeApis, ServerThread, gh_issue

__all__ = ["workspace"]  # the fixture, re-used
REPO = "octo-org/widgets"
TOKEN = "ghp_secret-test-token-123456"


@pytest.fixture
def fake() -> Iterator[FakeApis]:
    apis = FakeApis(token=TOKEN)
    apis.gh_issues[1] = gh_issue(REPO, 1, "Fix VALUE", labels=["bug"])
    with ServerThread(apis.app()) as server:
        apis.url = server.url
        yield apis


def _github(tmp_path: Path, fake: FakeApis, monkeypatch: pytest.MonkeyPatch) -> GitHubTracker:
    monkeypatch.setenv("GH_HOSTED_TEST_TOKEN", TOKEN)
    path = tmp_path / "WORKFLOW.md"
    path.write_text(f"""---
tracker:
  kind: github
  api_key: $GH_HOSTED_TEST_TOKEN
  endpoint: {fake.url}
  provider: {{repo: {REPO}, retry_base_ms: 20}}
---
Work on {{{{ issue.identifier }}}}.
""")
    tracker = build_tracker(load_workflow(path).config.tracker, tack_dir=tmp_path / ".tack")
    assert isinstance(tracker, GitHubTracker)
    return tracker


@needs_claude
async def test_claude_moves_and_comments_on_its_github_issue_through_the_relay(
    tmp_path: Path, workspace: Path, fake: FakeApis, monkeypatch: pytest.MonkeyPatch
) -> None:
    tracker = _github(tmp_path, fake, monkeypatch)
    script = {"conversations": [{"match": "Fix VALUE", "steps": [
        {"tool_calls": [{"name": CLAUDE_TOOL_NAME,
                         "arguments": {"action": "comment", "body": "Fixed in app.py."}}]},
        {"tool_calls": [{"name": CLAUDE_TOOL_NAME,
                         "arguments": {"action": "move", "state": "Human Review"}}]},
        {"text": "Handed off."},
    ]}]}
    try:
        [issue] = await tracker.fetch_issues_by_ids(["1"])
        async with StubModelServer(script) as stub:
            env = {k: v for k, v in os.environ.items() if k != "GH_HOSTED_TEST_TOKEN"}
            ctx = SessionContext(workspace=workspace, issue=issue, tracker=tracker,
                                 env={**env, **claude_env(tmp_path / "home", stub)})
            session = await ClaudeBackend(ClaudeConfig(command=CLAUDE_BIN)).start_session(ctx)
            events = Recorder()
            try:
                result = await asyncio.wait_for(session.run_turn("Fix VALUE now", events), 90)
                argv = session.command_line()
                socket_path = session.relay.path if session.relay else None
            finally:
                await session.stop()
    finally:
        await tracker.close()
    assert result.ok, (result.error, list(session.stderr_tail), events.kinds())
    outputs = [e.data.get("output") for e in events.of("tool_result")]
    assert outputs == ["commented", "moved widgets#1 to Human Review"], outputs
    patches = [r for r in fake.requests if r[0] == "PATCH"]
    assert patches == [("PATCH", f"/repos/{REPO}/issues/1",
                        {"labels": ["bug", "Human Review"], "state": "open"})]
    # Marked as Tack's own (hidden in markdown), so it is never read back as feedback.
    assert [c["body"] for c in fake.gh_comments[1]] == ["Fixed in app.py.\n\n<!-- tack:agent -->"]
    # The MCP server got a socket path, never the token; the relay is gone after stop().
    assert TOKEN not in json.dumps(argv) and "--socket" in json.dumps(argv)
    assert socket_path is not None and not socket_path.exists()


async def test_the_relay_serves_one_issue_and_reports_tracker_errors(
    tmp_path: Path, fake: FakeApis, monkeypatch: pytest.MonkeyPatch
) -> None:
    tracker = _github(tmp_path, fake, monkeypatch)
    relay = await ToolRelay(tracker, "1").start()
    client = RelayClient(relay.path, timeout_s=30)
    try:
        shown = await asyncio.to_thread(client.call, {"action": "show"})
        assert shown.startswith("widgets#1: Fix VALUE\nstate: Todo")
        fake.gh_issues.pop(1)
        with pytest.raises(ValueError, match="does not exist"):
            await asyncio.to_thread(client.call, {"action": "move", "state": "Done"})
        with pytest.raises(ValueError, match="unknown action"):
            await asyncio.to_thread(client.call, {"action": "delete"})
    finally:
        await relay.close()
        await tracker.close()
    with pytest.raises(ValueError, match="not reachable"):
        client.call({"action": "show"})
