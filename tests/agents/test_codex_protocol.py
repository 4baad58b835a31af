"""The Codex wire protocol pinned: the schema the pinned CLI dumps for the methods Tack
uses, the protocol types generated from it, the messages Tack sends checked against it, and
what codex sends to the model server.

An upstream change shows up as a failing test here. After checking the change, refresh the
schema with `TACK_UPDATE_FIXTURES=1 pytest tests/agents/test_codex_protocol.py`, then
regenerate the types with `.venv/bin/python tools/agents/generate_codex_protocol.py`.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from tack.agents.base import SessionContext
from tack.agents.codex import CodexBackend
from tack.errors import AgentError
from tack.testing import StubModelServer
from tack.tracker.local import LocalTracker
from tests.agents.codex_helpers import (
    CODEX_BIN, FIXTURES, ROOT, codex_config, codex_env, codex_home, requires_codex,
)

pytestmark = requires_codex

UPDATE = os.environ.get("TACK_UPDATE_FIXTURES") == "1"
SCHEMA = ROOT / "tools" / "agents" / "codex-schema"
GENERATOR = ROOT / "tools" / "agents" / "generate_codex_protocol.py"
# Method → the schema of its params (requests Tack sends) or of Tack's result (requests
# Tack answers).
SENT_PARAMS = {
    "initialize": "v1/InitializeParams.json",
    "thread/start": "v2/ThreadStartParams.json",
    "turn/start": "v2/TurnStartParams.json",
}
ANSWERED = {
    "item/tool/call": "DynamicToolCallResponse.json",
    "item/commandExecution/requestApproval": "CommandExecutionRequestApprovalResponse.json",
    "item/fileChange/requestApproval": "FileChangeRequestApprovalResponse.json",
    "execCommandApproval": "ExecCommandApprovalResponse.json",
    "applyPatchApproval": "ApplyPatchApprovalResponse.json",
}
RECEIVED = [
    "DynamicToolCallParams.json",
    "ToolRequestUserInputParams.json",
    "v2/ThreadTokenUsageUpdatedNotification.json",
    "v2/AccountRateLimitsUpdatedNotification.json",
    "v2/TurnCompletedNotification.json",
]
USED = sorted({*SENT_PARAMS.values(), *ANSWERED.values(), *RECEIVED})
SCRIPT = {"conversations": [{"steps": [
    {"tool_calls": [{"name": "exec_command", "arguments": {"cmd": "echo hi > hi.txt"}}]},
    {"tool_calls": [{"name": "tracker", "arguments": {"action": "show"}}]},
    {"text": "done"},
]}]}


def method_index(schema_dir: Path) -> dict[str, list[str]]:
    """Every method name of the protocol, by direction."""
    out = {}
    for name in ("ClientRequest", "ServerRequest", "ServerNotification", "ClientNotification"):
        data = json.loads((schema_dir / f"{name}.json").read_text())
        out[name] = sorted(v["properties"]["method"]["enum"][0] for v in data["oneOf"])
    return out


@pytest.fixture(scope="module")
def dumped_schema(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("codex-schema")
    subprocess.run([str(CODEX_BIN), "app-server", "generate-json-schema", "--experimental",
                    "--out", str(out)], check=True, capture_output=True, timeout=60)
    return out


def test_the_pinned_cli_schema_for_the_methods_tack_uses_is_unchanged(
        dumped_schema: Path) -> None:
    if UPDATE:
        for rel in USED:
            target = SCHEMA / rel
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text((dumped_schema / rel).read_text())
        (SCHEMA / "methods.json").write_text(json.dumps(method_index(dumped_schema), indent=1))
    for rel in USED:
        assert json.loads((dumped_schema / rel).read_text()) == \
            json.loads((SCHEMA / rel).read_text()), f"codex changed the schema of {rel}"
    assert method_index(dumped_schema) == json.loads((SCHEMA / "methods.json").read_text())
    methods = method_index(dumped_schema)
    for method in SENT_PARAMS:
        assert method in methods["ClientRequest"]
    for method in ANSWERED:
        assert method in methods["ServerRequest"]
    assert "item/tool/requestUserInput" in methods["ServerRequest"]


def check_against(schema_file: str, message: dict[str, Any]) -> None:
    """Required keys present and every key declared: enough to catch a renamed field."""
    schema = json.loads((SCHEMA / schema_file).read_text())
    declared = set(schema.get("properties") or {})
    missing = set(schema.get("required") or []) - set(message)
    unknown = set(message) - declared
    assert not missing and not unknown, (schema_file, missing, unknown)


def request_shape(request: Any) -> dict[str, Any]:
    body = request.body if isinstance(request.body, dict) else {}
    return {
        "method": request.method,
        "path": request.path,
        "headers": sorted(h.lower() for h in request.headers
                          if h.lower() not in ("content-length", "host")),
        "body_keys": sorted(body),
        "tools": [t.get("name") or t.get("type") for t in body.get("tools") or []],
        "stream": body.get("stream"),
    }


async def test_what_tack_sends_matches_the_schema_and_what_codex_sends_is_recorded(
        tmp_path: Path, git_repo: Path) -> None:
    tracker = LocalTracker(tmp_path / "tracker.db", prefix="TACK")
    issue = tracker.add_issue("say hi", state="In Progress")
    sent = tmp_path / "sent.jsonl"
    async with StubModelServer(SCRIPT) as server:
        home = codex_home(tmp_path, server.url)
        # `tee` records Tack's side of the stdio stream on its way to the real app-server.
        config = codex_config(command=f"tee {sent} | {CODEX_BIN} app-server")
        ctx = SessionContext(workspace=git_repo, issue=issue, tracker=tracker,
                             env={**os.environ, **codex_env(home)})
        session = await CodexBackend(config).start_session(ctx)

        async def ignore(event: Any) -> None:
            pass

        try:
            result = await session.run_turn("say hi", ignore)
        finally:
            await session.stop()
        requests = list(server.requests)
    assert result.ok, result.error
    messages = [json.loads(line) for line in sent.read_text().splitlines()]
    methods = [m.get("method") for m in messages if "method" in m]
    assert methods == ["initialize", "initialized", "thread/start", "turn/start"]
    for message in messages:
        assert "method" in message or "result" in message or "error" in message
        if message.get("method") in SENT_PARAMS:
            check_against(SENT_PARAMS[message["method"]], message["params"])
    answers = [m for m in messages if "result" in m]
    assert answers, "Tack answered no item/tool/call request"
    for answer in answers:
        check_against(ANSWERED["item/tool/call"], answer["result"])

    shapes = [request_shape(r) for r in requests]
    recorded = FIXTURES / "requests.json"
    if UPDATE:
        recorded.write_text(json.dumps(shapes, indent=1) + "\n")
    expected = json.loads(recorded.read_text())
    assert shapes == expected, "codex changed what it sends to the model server"
    assert all("tracker" in s["tools"] and "exec_command" in s["tools"] for s in shapes)


def test_the_protocol_types_are_generated_from_the_pinned_schema() -> None:
    done = subprocess.run([sys.executable, str(GENERATOR), "--check"],
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr


async def test_a_policy_the_protocol_rejects_is_a_clear_error_before_any_turn(
        tmp_path: Path, git_repo: Path) -> None:
    tracker = LocalTracker(tmp_path / "tracker.db", prefix="TACK")
    issue = tracker.add_issue("say hi", state="In Progress")
    async with StubModelServer(SCRIPT) as server:
        home = codex_home(tmp_path, server.url)
        ctx = SessionContext(workspace=git_repo, issue=issue, tracker=tracker,
                             env={**os.environ, **codex_env(home)})
        with pytest.raises(AgentError) as caught:
            await CodexBackend(codex_config(approval_policy="sometimes")).start_session(ctx)
        assert not any(r.step is not None for r in server.requests)
    message = caught.value.message
    assert "thread/start" in message and "approvalPolicy" in message
    assert "codex.approval_policy" in message
