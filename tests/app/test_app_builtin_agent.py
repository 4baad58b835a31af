"""The built-in agent on a scripted stub model drives the fixture app through its `app` tool:
it sees the seeded bug in a snapshot, fixes the code, verifies with a second snapshot and a
screenshot, and hands off with the evidence (issue 14 §5, §6, §8)."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from tack.agents.base import SessionContext
from tack.agents.builtin import BuiltinBackend
from tack.app import run as app_run
from tack.app.config import AppConfig
from tack.app.home import AppHome
from tack.app.procs import group_alive, read_records
from tack.testing import StubModelServer
from tack.tracker.base import Issue
from tack.workflow.config import BuiltinConfig
from tests.agents.test_builtin import FakeTracker, Recorder
from tests.app.conftest import FIXTURE_APP, needs_chromium

pytestmark = [pytest.mark.slow, needs_chromium]


def app(command: str, **args: object) -> dict[str, object]:
    return {"name": "app", "arguments": {"command": command, **args}}


SCRIPT = {"conversations": [{"match": "TACK-7", "steps": [
    {"tool_calls": [app("snapshot")]},
    {"tool_calls": [app("click", target="e5")]},
    {"tool_calls": [app("snapshot")]},
    {"text": "The count stays at 0: the handler adds 0.",
     "tool_calls": [{"name": "edit_file", "arguments": {
         "path": "counter.js", "old": "count += 0", "new": "count += 1"}}]},
    {"tool_calls": [app("open")]},
    {"tool_calls": [app("snapshot")]},
    {"tool_calls": [app("click", target="#add")]},
    {"tool_calls": [app("snapshot")]},
    {"tool_calls": [app("screenshot", value="counter-fixed.png")]},
    {"tool_calls": [{"name": "tracker", "arguments": {"action": "move",
                                                      "state": "Human Review"}}]},
    {"text": "Fixed: the counter adds one per click; see the screenshot."},
]}]}


async def test_builtin_agent_sees_fixes_and_verifies_the_seeded_bug(tmp_path: Path) -> None:
    ws = tmp_path / "TACK-7"
    shutil.copytree(FIXTURE_APP, ws)
    config = AppConfig(start="python3 server.py $TACK_APP_PORT", ready="log:listening on")
    env = {**os.environ, **app_run.session_environment(ws, config)}
    issue = Issue(id="i-7", identifier="TACK-7", title="The counter does not count",
                  state="In Progress", description="Clicking Add one leaves Count: 0")
    tracker = FakeTracker(issue)
    events = Recorder()
    async with StubModelServer(SCRIPT) as server:
        backend = BuiltinBackend(BuiltinConfig(base_url=server.url, model="stub-model",
                                               api="chat", api_key="sk-test"))
        session = await backend.start_session(SessionContext(workspace=ws, issue=issue,
                                                             tracker=tracker, env=env))
        try:
            result = await session.run_turn("Fix TACK-7: the counter does not count.", events)
        finally:
            await session.stop()
        tools = [t["function"]["name"] for t in server.requests[0].body["tools"]]
    assert result.ok, result.error
    assert "app" in tools
    outputs = [r.data["output"] for r in events.of("tool_result")]
    assert all(r.data["ok"] for r in events.of("tool_result")), outputs
    assert 'button "Add one" [ref=e5]' in outputs[0] and '"Count: 0"' in outputs[0]
    assert "changed since previous snapshot:\n  (nothing)" in outputs[2]  # the bug, seen
    assert '+ status' in outputs[7] and '"Count: 1"' in outputs[7]  # the fix, verified
    assert "counter-fixed.png" in outputs[8]

    records = read_records(AppHome(ws))
    names = await app_run.run_ended(ws, tmp_path / ".tack", 7, tracker, issue, handed_off=True)
    assert "counter-fixed.png" in names
    stored = tmp_path / ".tack" / "artifacts" / "run-7" / "counter-fixed.png"
    assert stored.read_bytes()[:4] == b"\x89PNG"
    (comment,) = [c for c in tracker.comments if c[2] == "tack"]
    assert "/api/v1/runs/7/artifacts/counter-fixed.png" in comment[1]
    for entry in records.values():
        assert not group_alive(int(str(entry["pgid"])))
