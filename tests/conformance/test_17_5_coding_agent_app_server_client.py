"""SPEC §17.5 Coding-Agent App-Server Client: the Codex backend against the real, pinned
`codex app-server` and the stub model server. One test per bullet, named after it.

Most bullets are read off one recorded session (`run`): Tack's side of stdio is captured
with `tee`, the events with a recorder, and the model requests by the stub server.
"""

from __future__ import annotations

import asyncio
import json
import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterator

import psutil
import pytest

from tack.agents.base import AgentEvent, SessionContext, TurnResult
from tack.agents.codex import CLIENT_INFO, CodexBackend, dynamic_tool_specs
from tack.errors import AgentError
from tack.orchestrator.worker import _agent_env
from tack.testing import StubModelServer
from tack.tracker.base import Issue
from tack.tracker.local import LocalTracker
from tests.agents.codex_helpers import (
    CODEX_BIN, codex_config, codex_env, codex_home, requires_codex,
)
from tests.conftest import git

pytestmark = requires_codex

SECRET = "ghp_conformance_secret_value"
STEPS = [
    {"tool_calls": [{"name": "exec_command", "arguments": {
        "cmd": "echo edited > edited.txt && echo token=${GITHUB_TOKEN:-absent}"}}]},
    {"tool_calls": [{"name": "tracker", "arguments": {"action": "show"}}]},
    {"tool_calls": [{"name": "tracker", "arguments": {"action": "explode"}}]},
    {"tool_calls": [{"name": "tracker",
                     "arguments": {"action": "move", "state": "Human Review"}}]},
    {"text": "all done"},
]


@dataclass
class Run:
    root: Path
    workspace: Path
    issue: Issue
    tracker: LocalTracker
    result: TurnResult | None = None
    sent: list[dict[str, Any]] = field(default_factory=list)
    events: list[AgentEvent] = field(default_factory=list)
    requests: list[Any] = field(default_factory=list)
    stderr: str = ""
    pid: int | None = None

    def of(self, kind: str) -> list[AgentEvent]:
        return [e for e in self.events if e.kind == kind]

    def sent_request(self, method: str) -> dict[str, Any]:
        return next(m for m in self.sent if m.get("method") == method)

    def tool_results(self, name: str) -> list[dict[str, Any]]:
        return [e.data for e in self.of("tool_result") if e.data["name"] == name]


def make_workspace(root: Path) -> tuple[Path, LocalTracker, Issue]:
    workspace = root / "workspaces" / "TACK-1"
    workspace.mkdir(parents=True)
    git(workspace, "init", "-q", "-b", "main")
    (workspace / "README.md").write_text("demo\n")
    git(workspace, "add", "-A")
    git(workspace, "commit", "-q", "-m", "initial")
    tracker = LocalTracker(root / "tracker.db", prefix="TACK")
    return workspace, tracker, tracker.add_issue("conformance", state="In Progress")


async def run_session(run: Run, steps: list[dict[str, Any]], prompt: str = "go",
                      env: dict[str, str] | None = None, **extra: Any) -> Run:
    sent = run.root / f"sent-{time.monotonic_ns()}.jsonl"
    async with StubModelServer({"conversations": [{"steps": steps}]}) as server:
        home = codex_home(run.root, server.url)
        config = codex_config(
            command=f"echo 'tack-diagnostic: starting' >&2; tee {sent} | {CODEX_BIN} app-server",
            **extra)
        ctx = SessionContext(workspace=run.workspace, issue=run.issue, tracker=run.tracker,
                             env={**(env or dict(os.environ)), **codex_env(home)})
        session = await CodexBackend(config).start_session(ctx)
        run.pid = session.pid

        async def record(event: AgentEvent) -> None:
            run.events.append(event)

        try:
            run.result = await asyncio.wait_for(session.run_turn(prompt, record), 60)
        finally:
            run.stderr = session.stderr_tail(4000)
            await session.stop()
        run.requests = list(server.requests)
    run.sent = [json.loads(line) for line in sent.read_text().splitlines()]
    return run


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Run]:
    root = tmp_path_factory.mktemp("conformance-17-5")
    workspace, tracker, issue = make_workspace(root)
    with pytest.MonkeyPatch.context() as mp:  # restores a GITHUB_TOKEN the machine has
        mp.setenv("GITHUB_TOKEN", SECRET)
        env = _agent_env(workspace, issue)
    yield asyncio.run(run_session(Run(root, workspace, issue, tracker), STEPS,
                                  prompt=f"Work on {issue.identifier}", env=env))


@pytest.fixture
def fresh(tmp_path: Path) -> Run:
    workspace, tracker, issue = make_workspace(tmp_path)
    return Run(tmp_path, workspace, issue, tracker)


def test_launch_command_uses_workspace_cwd_and_invokes_bash_lc_codex_command(run: Run) -> None:
    """Launch command uses workspace cwd and invokes `bash -lc <codex.command>`"""
    assert run.sent_request("thread/start")["params"]["cwd"] == str(run.workspace.resolve())
    shell = [e for e in run.of("tool_result") if e.data["name"] == "shell"]
    assert shell and (run.workspace / "edited.txt").read_text() == "edited\n"
    # The launch went through bash: the diagnostic echo of the shell command line ran.
    assert "tack-diagnostic: starting" in run.stderr


def test_session_startup_follows_the_targeted_codex_app_server_protocol(run: Run) -> None:
    """Session startup follows the targeted Codex app-server protocol."""
    methods = [m.get("method") for m in run.sent if "method" in m]
    assert methods == ["initialize", "initialized", "thread/start", "turn/start"]
    assert [m["id"] for m in run.sent if m.get("method") in ("initialize", "thread/start",
                                                              "turn/start")] == [1, 2, 3]


def test_client_identity_and_capability_payloads_are_valid(run: Run) -> None:
    """Client identity/capability payloads are valid when the targeted Codex app-server
    protocol requires them."""
    params = run.sent_request("initialize")["params"]
    assert params["clientInfo"] == CLIENT_INFO
    assert params["capabilities"] == {"experimentalApi": True}  # needed for dynamicTools


def test_policy_startup_payloads_use_the_documented_approval_and_sandbox_settings(
        run: Run) -> None:
    """Policy-related startup payloads use the implementation's documented approval/sandbox
    settings"""
    thread = run.sent_request("thread/start")["params"]
    assert thread["approvalPolicy"] == "never" and thread["sandbox"] == "workspace-write"
    turn = run.sent_request("turn/start")["params"]
    assert "approvalPolicy" not in turn and "sandboxPolicy" not in turn


async def test_configured_policies_pass_through_unchanged(fresh: Run) -> None:
    """Policy-related startup payloads use the implementation's documented approval/sandbox
    settings (configured values are passed through)"""
    policy = {"type": "workspaceWrite", "writableRoots": [], "networkAccess": False}
    await run_session(fresh, [{"text": "ok"}], approval_policy="on-request",
                      thread_sandbox="read-only", turn_sandbox_policy=policy)
    assert fresh.sent_request("thread/start")["params"]["sandbox"] == "read-only"
    turn = fresh.sent_request("turn/start")["params"]
    assert turn["approvalPolicy"] == "on-request" and turn["sandboxPolicy"] == policy


def test_thread_and_turn_identities_are_extracted_to_emit_session_started(run: Run) -> None:
    """Thread and turn identities exposed by the targeted protocol are extracted and used to
    emit `session_started`"""
    started = run.of("session_started")[0].data
    assert started["session_id"] == f"{started['thread_id']}-{started['turn_id']}"
    assert started["pid"] == run.pid
    assert all(r.headers.get("thread-id") == started["thread_id"] for r in run.requests)


async def test_request_response_read_timeout_is_enforced(fresh: Run) -> None:
    """Request/response read timeout is enforced"""
    ctx = SessionContext(workspace=fresh.workspace, issue=fresh.issue, tracker=fresh.tracker,
                         env={**os.environ, "HOME": str(fresh.root)})
    started = time.monotonic()
    with pytest.raises(AgentError, match=r"did not answer 'initialize'.*read_timeout_ms"):
        await CodexBackend(codex_config(command="cat >/dev/null", read_timeout_ms=250)
                           ).start_session(ctx)
    assert time.monotonic() - started < 5


async def test_turn_timeout_is_enforced(fresh: Run) -> None:
    """Turn timeout is enforced"""
    async with StubModelServer({"conversations": [{"steps": [{"hang": True}]}]}) as server:
        ctx = SessionContext(workspace=fresh.workspace, issue=fresh.issue,
                             tracker=fresh.tracker,
                             env={**os.environ, **codex_env(codex_home(fresh.root, server.url))})
        session = await CodexBackend(codex_config()).start_session(ctx)

        async def ignore(event: AgentEvent) -> None:
            pass

        # The orchestrator bounds each turn with codex.turn_timeout_ms exactly like this.
        with pytest.raises(TimeoutError):
            await asyncio.wait_for(session.run_turn("hang", ignore), 1.0)
        assert session.pid is not None
        pid = session.pid
        await session.stop()
    try:
        assert psutil.Process(pid).status() == psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        pass


def test_transport_framing_required_by_the_protocol_is_handled(run: Run) -> None:
    """Transport framing required by the targeted protocol is handled correctly"""
    raw = (run.root / next(p.name for p in run.root.glob("sent-*.jsonl"))).read_bytes()
    lines = raw.split(b"\n")
    assert lines[-1] == b"" and all(json.loads(line) for line in lines[:-1])
    assert all(m.get("jsonrpc") is None or m["jsonrpc"] == "2.0" for m in run.sent)
    assert run.result is not None and run.result.ok


def test_diagnostic_stderr_is_kept_separate_from_the_protocol_stream(run: Run) -> None:
    """For stdio-based transports, diagnostic stderr handling is kept separate from the
    protocol stream"""
    assert "tack-diagnostic: starting" in run.stderr
    assert not any("tack-diagnostic" in e.message for e in run.events)
    assert run.result is not None and run.result.ok


async def test_command_and_file_change_approvals_follow_the_documented_policy(
        fresh: Run) -> None:
    """Command/file-change approvals are handled according to the implementation's
    documented policy"""
    steps = [{"tool_calls": [{"name": "exec_command", "arguments": {
        "cmd": "touch approved.txt", "sandbox_permissions": "require_escalated",
        "justification": "create a file"}}]}, {"text": "ok"}]
    await run_session(fresh, steps, approval_policy="on-request")
    decisions = [e.data for e in fresh.events if e.data.get("decision")]
    assert decisions and decisions[0]["decision"] == "acceptForSession"
    assert (fresh.workspace / "approved.txt").exists()
    answered = [m for m in fresh.sent if "result" in m]
    assert {"decision": "acceptForSession"} in [m["result"] for m in answered]


async def test_unsupported_dynamic_tool_calls_are_rejected_without_stalling(
        fresh: Run) -> None:
    """Unsupported dynamic tool calls are rejected without stalling the session"""
    deploy = {"type": "function", "name": "deploy", "description": "deploy",
              "inputSchema": {"type": "object", "properties": {}}}
    steps = [{"tool_calls": [{"name": "deploy", "arguments": {}}]}, {"text": "gave up"}]
    await run_session(fresh, steps, thread_params={
        "dynamicTools": [*dynamic_tool_specs(), deploy]})
    assert fresh.result is not None and fresh.result.ok
    answer = next(m["result"] for m in fresh.sent if "result" in m)
    assert answer["success"] is False
    assert "unsupported tool 'deploy'" in answer["contentItems"][0]["text"]


async def test_user_input_requests_follow_the_documented_policy_and_do_not_stall(
        fresh: Run) -> None:
    """User input requests are handled according to the implementation's documented policy
    and do not stall indefinitely"""
    question = {"id": "q", "header": "Q", "question": "Proceed?",
                "options": [{"label": "Yes", "description": "y"},
                            {"label": "No", "description": "n"}]}
    steps = [{"tool_calls": [{"name": "request_user_input",
                              "arguments": {"questions": [question]}}]}, {"text": "x"}]
    await run_session(fresh, steps, turn_params={
        "collaborationMode": {"mode": "plan", "settings": {"model": "stub"}}})
    assert fresh.result is not None and not fresh.result.ok
    assert "asked for user input (Proceed?)" in (fresh.result.error or "")


def test_usage_and_rate_limit_telemetry_is_extracted(run: Run) -> None:
    """Usage and rate-limit telemetry exposed by the targeted protocol is extracted"""
    usage = run.of("token_usage")
    assert usage and all(e.usage and e.usage.total_tokens > 0 for e in usage)
    assert run.result is not None
    assert run.result.usage.total_tokens == usage[-1].data["thread_total"]["total_tokens"]
    limits = run.of("rate_limits")
    assert limits and limits[0].data.get("limitId") == "codex"


def test_approval_input_usage_and_rate_limit_signals_follow_the_protocol(run: Run) -> None:
    """Approval, user-input-required, usage, and rate-limit signals are interpreted according
    to the targeted protocol"""
    # Usage is codex's absolute thread total turned into deltas; each delta is positive
    # and they never double count.
    totals = [e.data["thread_total"]["total_tokens"] for e in run.of("token_usage")]
    assert totals == sorted(set(totals))
    deltas = [e.usage.total_tokens for e in run.of("token_usage") if e.usage]
    assert [sum(deltas[: i + 1]) for i in range(len(deltas))] == totals
    # Approvals and user input: see the approval and user-input tests above.
    assert run.of("turn_completed") and not run.of("turn_failed")


def test_session_startup_advertises_the_supported_client_side_tool_specs(run: Run) -> None:
    """If client-side tools are implemented, session startup advertises the supported tool
    specs using the targeted app-server protocol"""
    tools = run.sent_request("thread/start")["params"]["dynamicTools"]
    assert [t["name"] for t in tools] == ["tracker", "commit"]
    assert all(set(t) == {"type", "name", "description", "inputSchema"} for t in tools)
    sent_to_model = [t.get("name") for t in run.requests[0].body["tools"]]
    assert {"tracker", "commit"} <= set(sent_to_model)


def test_only_the_selected_adapters_tools_are_advertised(run: Run) -> None:
    """If provider-native agent tools are implemented: only the selected adapter's tools are
    advertised to the session"""
    tools = run.sent_request("thread/start")["params"]["dynamicTools"]
    assert [t["name"] for t in tools] == ["tracker", "commit"]
    assert "linear_graphql" not in json.dumps(run.requests[0].body["tools"])


def test_valid_inputs_execute_host_side_with_configured_adapter_auth(run: Run) -> None:
    """If provider-native agent tools are implemented: valid inputs execute host-side with
    configured adapter auth"""
    assert run.tracker.get("TACK-1").state == "Human Review"
    moved = [r for r in run.tool_results("tracker") if "moved" in r["output"]]
    assert moved and moved[0]["ok"]


def test_current_issue_and_native_ref_are_available_as_tool_context(run: Run) -> None:
    """If provider-native agent tools are implemented: the current normalized issue and
    `native_ref` are available as internal tool context"""
    shown = run.tool_results("tracker")[0]
    assert shown["ok"] and shown["output"].startswith("TACK-1: conformance")
    assert "state: In Progress" in shown["output"]
    assert run.issue.native_ref  # the tool acts on ctx.issue, native_ref included


def test_tracker_secrets_are_not_inherited_by_the_coding_agent_process(run: Run) -> None:
    """If provider-native agent tools are implemented: tracker secrets are not inherited by
    the coding-agent child process"""
    shell = run.tool_results("shell")[0]
    assert "token=absent" in shell["output"]
    assert SECRET not in json.dumps([e.data for e in run.events])


def test_invalid_arguments_return_structured_failure_payloads(run: Run) -> None:
    """If provider-native agent tools are implemented: invalid arguments, missing auth, and
    transport failures return structured failure payloads"""
    failures = [m["result"] for m in run.sent if "result" in m and not m["result"]["success"]]
    assert failures and failures[0]["contentItems"][0]["type"] == "inputText"
    assert "unknown action 'explode'" in failures[0]["contentItems"][0]["text"]


async def test_unsupported_tool_names_still_fail_without_stalling(fresh: Run) -> None:
    """If provider-native agent tools are implemented: unsupported tool names still fail
    without stalling the session"""
    ghost = {"type": "function", "name": "linear_graphql", "description": "not ours",
             "inputSchema": {"type": "object", "properties": {}}}
    steps = [{"tool_calls": [{"name": "linear_graphql", "arguments": {}}]}, {"text": "ok"}]
    started = time.monotonic()
    await run_session(fresh, steps, thread_params={"dynamicTools": [ghost]})
    assert fresh.result is not None and fresh.result.ok
    assert time.monotonic() - started < 30
    answer = next(m["result"] for m in fresh.sent if "result" in m)
    assert answer["success"] is False
