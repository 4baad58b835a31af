"""The Codex backend: drives `codex app-server` over JSON-RPC 2.0 on stdio (SPEC §10).

One app-server process and one thread per session; each turn is a `turn/start` on that
thread. Approvals are answered, and dynamic tool calls (`tracker`, `commit`) run host-side.
A turn that asks for user input (`requestUserInput`, MCP elicitation) parks on a question to
a person when the orchestrator can park (docs/questions.md): the session stops, and the
answer arrives later as the next turn on the same thread (`thread/resume`); elsewhere it
fails the attempt.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import json
import os
import signal
import time
from typing import Any

import psutil
import pydantic

from tack.agents import codex_protocol as wire
from tack.agents.base import AgentEvent, EventSink, SessionContext, TokenUsage, TurnResult
from tack.agents.tools import TOOLS, run_tool
from tack.context.home import CONTEXT_SERVER_NAME
from tack.context.wiring import mcp_stdio_server
from tack.errors import AgentError
from tack.questions.model import Asked
from tack.tracker.credentials import environ_without
from tack.workflow.config import CodexConfig

# Lines can carry whole file diffs or command output; asyncio's default limit is 64 KiB.
LINE_LIMIT = 64 * 1024 * 1024
STDERR_KEEP = 16_000
RESULT_EXCERPT = 2_000
# Streaming deltas are reported at most this often (liveness, without flooding the store).
DELTA_EVERY_S = 0.5
STOP_GRACE_S = 2.0

CLIENT_INFO = {"name": "tack", "title": "Tack", "version": "0.1.0"}
# Run host-side: `commit` writes the worktree's git directory, which codex's sandbox cannot.
DYNAMIC_TOOLS = ("tracker", "commit")
# How long codex waits for the context MCP server (`startup_timeout_sec`) and, a little longer,
# the session start for its outcome: on a loaded machine the Python server can take over 30 s.
MCP_SERVER_STARTUP_S, MCP_STARTUP_TIMEOUT_S = 60, 65.0
APPROVAL_REQUESTS = {
    "item/commandExecution/requestApproval": "acceptForSession",
    "item/fileChange/requestApproval": "acceptForSession",
    # Legacy (v1) approval requests use ReviewDecision values.
    "execCommandApproval": "approved_for_session",
    "applyPatchApproval": "approved_for_session",
}
DENIED = {
    "item/commandExecution/requestApproval": "cancel",
    "item/fileChange/requestApproval": "cancel",
    "execCommandApproval": "abort",
    "applyPatchApproval": "abort",
}
INPUT_REQUESTS = ("item/tool/requestUserInput", "mcpServer/elicitation/request")
TOOL_ITEMS = ("commandExecution", "fileChange", "dynamicToolCall", "mcpToolCall")
_EOF = object()
# What Tack sends, checked against the protocol types generated from the pinned CLI's
# schema (`tools/agents/generate_codex_protocol.py`) before it goes over the wire.
SENT_TYPES: dict[str, type[pydantic.BaseModel]] = {
    "initialize": wire.InitializeParams,
    "thread/start": wire.ThreadStartParams,
    "turn/start": wire.TurnStartParams,
}
ANSWER_TYPES: dict[str, type[pydantic.BaseModel]] = {
    "item/tool/call": wire.DynamicToolCallResponse,
    "item/commandExecution/requestApproval": wire.CommandExecutionRequestApprovalResponse,
    "item/fileChange/requestApproval": wire.FileChangeRequestApprovalResponse,
    "execCommandApproval": wire.ExecCommandApprovalResponse,
    "applyPatchApproval": wire.ApplyPatchApprovalResponse,
}


def checked(method: str, payload: dict[str, Any], types: dict[str, type[pydantic.BaseModel]],
            ) -> dict[str, Any]:
    """`payload` unchanged if it fits the pinned protocol, else a clear AgentError."""
    model = types.get(method)
    if model is not None:
        try:
            model.model_validate(payload)
        except pydantic.ValidationError as exc:
            problems = "; ".join(
                f"{'.'.join(str(p) for p in e['loc']) or '(root)'}: {e['msg']}"
                for e in exc.errors()[:3])
            raise AgentError(
                f"codex {method}: Tack would send a message the pinned codex protocol "
                f"rejects ({problems}). Check codex.approval_policy, codex.thread_sandbox, "
                "codex.turn_sandbox_policy, codex.thread_params and codex.turn_params in "
                "WORKFLOW.md.", code="codex_protocol") from None
    return payload


def codex_context_config(server: dict[str, Any]) -> dict[str, Any]:
    """`thread/start.config` overrides that give codex the context MCP server: started with
    the thread (not lazily) and its tools offered directly (not deferred behind tool search),
    so the model sees search/symbol/read/map/catalog from the first turn."""
    server = {"startup_timeout_sec": MCP_SERVER_STARTUP_S, **server}
    return {"mcp_servers": {CONTEXT_SERVER_NAME: server},
            "features": {"mcp_lazy_stdio_startup": False,
                         "tool_search_always_defer_mcp_tools": False}}


def dynamic_tool_specs() -> list[dict[str, Any]]:
    """`thread/start.dynamicTools`: the host-side tools advertised to Codex."""
    return [
        {"type": "function", "name": t.name, "description": t.description,
         "inputSchema": t.parameters}
        for t in TOOLS if t.name in DYNAMIC_TOOLS
    ]


def _usage_of(breakdown: dict[str, Any] | None) -> TokenUsage:
    b = breakdown or {}
    inp, out = int(b.get("inputTokens") or 0), int(b.get("outputTokens") or 0)
    return TokenUsage(inp, out, int(b.get("totalTokens") or inp + out))


def _tool_summary(item: dict[str, Any]) -> tuple[str, Any]:
    kind = item.get("type")
    if kind == "commandExecution":
        return "shell", item.get("command")
    if kind == "fileChange":
        return "apply_patch", [c.get("path") for c in item.get("changes") or []]
    if kind == "mcpToolCall":
        return f"{item.get('server')}/{item.get('tool')}", item.get("arguments")
    return str(item.get("tool")), item.get("arguments")


def _tool_outcome(item: dict[str, Any]) -> tuple[bool, str]:
    kind = item.get("type")
    status = item.get("status")
    if kind == "commandExecution":
        output = item.get("aggregatedOutput") or ""
        return status == "completed" and item.get("exitCode") in (0, None), (
            f"exit code: {item.get('exitCode')}\n{output}")
    if kind == "dynamicToolCall":
        texts = [c.get("text", "") for c in item.get("contentItems") or []]
        return bool(item.get("success")), "\n".join(texts)
    if kind == "mcpToolCall":
        return status == "completed", json.dumps(item.get("result") or item.get("error"))
    return status == "completed", str(status)


class CodexSession:
    def __init__(self, config: CodexConfig, ctx: SessionContext) -> None:
        self.config = config
        self.ctx = ctx
        self.session_id: str | None = None
        self.thread_id: str | None = None
        self.pid: int | None = None
        extra = config.model_extra or {}
        # Tack extensions: extra params merged into thread/start and turn/start, and
        # whether approval requests are answered automatically.
        self.thread_params: dict[str, Any] = dict(extra.get("thread_params") or {})
        self.turn_params: dict[str, Any] = dict(extra.get("turn_params") or {})
        self.auto_approve = bool(extra.get("auto_approve", True))
        self._proc: asyncio.subprocess.Process | None = None
        self._pending: dict[int, asyncio.Future[Any]] = {}
        self._inbox: asyncio.Queue[Any] = asyncio.Queue()
        self._next_id = 1
        self._stderr: collections.deque[str] = collections.deque()
        self._stderr_size = 0
        self._tasks: list[asyncio.Task[None]] = []
        self._reported = TokenUsage()
        self._stopped = False
        self._exited = False
        # Every pid and process group seen under the app-server, so a second signal still
        # reaches descendants orphaned by the first.
        self._seen: set[tuple[str, int]] = set()

    # --- process and framing -------------------------------------------------------

    async def start(self) -> None:
        workspace = self.ctx.workspace.resolve()
        if not workspace.is_dir():
            raise AgentError(f"workspace {workspace} does not exist; codex needs an existing "
                             "directory to run in")
        self._proc = await asyncio.create_subprocess_exec(
            "bash", "-lc", self.config.command, cwd=workspace,
            env=self.ctx.env or environ_without(),
            stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE, start_new_session=True, limit=LINE_LIMIT,
        )
        self.pid = self._proc.pid
        if self.ctx.on_process:
            self.ctx.on_process(self.pid, True)
        self._tasks = [asyncio.create_task(self._read_stdout()),
                       asyncio.create_task(self._read_stderr())]
        try:
            await self._request("initialize", {
                "clientInfo": CLIENT_INFO, "capabilities": {"experimentalApi": True}})
            await self._send({"method": "initialized"})
            params: dict[str, Any] = {
                "cwd": str(workspace),
                "approvalPolicy": self.config.approval_policy or "never",
                "sandbox": self.config.thread_sandbox or "workspace-write",
                "dynamicTools": dynamic_tool_specs(),
                **self.thread_params,
            }
            context = mcp_stdio_server(self.ctx.env)
            if context is not None:  # the org-context MCP server, as config overrides
                params["config"] = {**(params.get("config") or {}),
                                    **codex_context_config(context)}
            result = await self._request("thread/start", params)
            self.thread_id = str(((result or {}).get("thread") or {})["id"])
            if context is not None:
                await self._await_mcp_startup(CONTEXT_SERVER_NAME)
        except BaseException:
            await self.stop()
            raise

    async def _await_mcp_startup(self, name: str) -> None:
        """Wait (bounded) until codex reports MCP server `name` ready or failed, so its tools
        are in the first turn's request; every message read meanwhile goes back in order."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + MCP_STARTUP_TIMEOUT_S
        held: list[Any] = []
        try:
            while (remaining := deadline - loop.time()) > 0:
                try:
                    message = await asyncio.wait_for(self._inbox.get(), remaining)
                except TimeoutError:
                    break
                held.append(message)
                if not isinstance(message, dict):
                    break
                params = message.get("params") or {}
                if (message.get("method") == "mcpServer/startupStatus/updated"
                        and params.get("name") == name and params.get("status") != "starting"):
                    break
        finally:
            while not self._inbox.empty():
                held.append(self._inbox.get_nowait())
            for message in held:
                self._inbox.put_nowait(message)

    async def _read_stdout(self) -> None:
        assert self._proc and self._proc.stdout
        try:
            while line := await self._proc.stdout.readline():
                try:
                    message = json.loads(line)
                except json.JSONDecodeError:
                    self._keep_stderr(f"[non-JSON stdout] {line[:500]!r}\n")
                    continue
                if not isinstance(message, dict):
                    continue
                if "method" not in message and "id" in message:
                    future = self._pending.pop(message["id"], None)
                    if future and not future.done():
                        future.set_result(message)
                else:
                    self._inbox.put_nowait(message)
            # EOF: let the exit code and the last stderr arrive for the error message.
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._proc.wait(), 1.0)
        except (ValueError, asyncio.LimitOverrunError) as exc:
            self._keep_stderr(f"[stdout framing error] {exc}\n")
        finally:
            self._exited = True
            self._inbox.put_nowait(_EOF)
            for future in self._pending.values():
                if not future.done():
                    future.set_exception(AgentError(self._exit_reason()))
            self._pending.clear()

    async def _read_stderr(self) -> None:
        assert self._proc and self._proc.stderr
        while chunk := await self._proc.stderr.read(65536):
            self._keep_stderr(chunk.decode("utf-8", errors="replace"))

    def _keep_stderr(self, text: str) -> None:
        self._stderr.append(text)
        self._stderr_size += len(text)
        while self._stderr_size > STDERR_KEEP and len(self._stderr) > 1:
            self._stderr_size -= len(self._stderr.popleft())

    def stderr_tail(self, limit: int = 800) -> str:
        return "".join(self._stderr)[-limit:].strip()

    def _exit_reason(self) -> str:
        code = self._proc.returncode if self._proc else None
        tail = self.stderr_tail()
        return (f"codex app-server exited (code {code}; command {self.config.command!r})"
                + (f"; stderr: {tail}" if tail else ""))

    async def _send(self, message: dict[str, Any]) -> None:
        assert self._proc and self._proc.stdin
        try:
            self._proc.stdin.write(json.dumps(message).encode() + b"\n")
            await self._proc.stdin.drain()
        except (BrokenPipeError, ConnectionResetError) as exc:
            raise AgentError(self._exit_reason()) from exc

    async def _request(self, method: str, params: dict[str, Any]) -> Any:
        checked(method, params, SENT_TYPES)
        request_id = self._next_id
        self._next_id += 1
        future: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        self._pending[request_id] = future
        await self._send({"id": request_id, "method": method, "params": params})
        timeout_ms = self.config.read_timeout_ms
        try:
            reply = await asyncio.wait_for(future, timeout_ms / 1000)
        except TimeoutError:
            self._pending.pop(request_id, None)
            raise AgentError(
                f"codex app-server did not answer {method!r} within codex.read_timeout_ms "
                f"({timeout_ms} ms); check that codex.command ({self.config.command!r}) starts "
                f"`codex app-server`" + (f"; stderr: {self.stderr_tail()}"
                                         if self.stderr_tail() else ""),
                code="response_timeout",
            ) from None
        if "error" in reply:
            error = reply["error"] or {}
            raise AgentError(f"codex app-server refused {method!r}: "
                             f"{error.get('message') or error}")
        return reply.get("result")

    # --- turns ---------------------------------------------------------------------

    async def run_turn(self, prompt: str, on_event: EventSink) -> TurnResult:
        if self._stopped or self.thread_id is None:
            raise AgentError(f"codex session {self.session_id} is already stopped")
        if self._exited:
            return await self._fail(on_event, self._exit_reason(), TokenUsage())
        try:
            return await self._run_turn(prompt, on_event)
        except asyncio.CancelledError:
            # The orchestrator gave up on this turn (timeout, reconciliation, shutdown):
            # nothing may outlive it.
            self._kill_tree(signal.SIGKILL)
            raise

    async def _run_turn(self, prompt: str, on_event: EventSink) -> TurnResult:
        params: dict[str, Any] = {
            "threadId": self.thread_id,
            "input": [{"type": "text", "text": prompt}],
            "cwd": str(self.ctx.workspace.resolve()),
            **({"approvalPolicy": self.config.approval_policy}
               if self.config.approval_policy else {}),
            **({"sandboxPolicy": self.config.turn_sandbox_policy}
               if self.config.turn_sandbox_policy else _sandbox_policy(self.ctx)),
            **self.turn_params,
        }
        try:
            result = await self._request("turn/start", params)
            turn_id = str(((result or {}).get("turn") or {})["id"])
        except AgentError as exc:
            return await self._fail(on_event, f"turn/start failed: {exc.message}", TokenUsage())
        self.session_id = f"{self.thread_id}-{turn_id}"
        await on_event(AgentEvent(
            "session_started", f"codex session {self.session_id}",
            {"session_id": self.session_id, "thread_id": self.thread_id,
             "turn_id": turn_id, "pid": self.pid},
        ))
        turn = _TurnState(turn_id)
        while True:
            message = await self._inbox.get()
            if message is _EOF:
                return await self._fail(on_event, self._exit_reason(), turn.usage)
            outcome = await self._handle(message, turn, on_event)
            if outcome is not None:
                return outcome

    async def _handle(self, message: dict[str, Any], turn: _TurnState, on_event: EventSink
                      ) -> TurnResult | None:
        method = str(message.get("method"))
        params = message.get("params") or {}
        if "id" in message:
            return await self._answer(message["id"], method, params, turn, on_event)
        if method == "turn/completed":
            data = params.get("turn") or {}
            status = data.get("status")
            if status == "completed":
                await on_event(AgentEvent("turn_completed", turn.last_message[:RESULT_EXCERPT],
                                          {"turn_id": turn.id, "usage": turn.usage.to_dict()}))
                return TurnResult(ok=True, final_message=turn.last_message, usage=turn.usage)
            error = (data.get("error") or {}).get("message") or f"turn {status}"
            return await self._fail(on_event, f"codex turn {status}: {error}", turn.usage)
        if method == "thread/tokenUsage/updated":
            total = _usage_of((params.get("tokenUsage") or {}).get("total"))
            delta = TokenUsage(total.input_tokens - self._reported.input_tokens,
                               total.output_tokens - self._reported.output_tokens,
                               total.total_tokens - self._reported.total_tokens)
            if delta.total_tokens > 0 or delta.input_tokens > 0 or delta.output_tokens > 0:
                self._reported = total
                turn.usage += delta
                await on_event(AgentEvent(
                    "token_usage", f"+{delta.input_tokens} in / +{delta.output_tokens} out",
                    {**delta.to_dict(), "thread_total": total.to_dict()}, usage=delta))
            return None
        if method == "account/rateLimits/updated":
            await on_event(AgentEvent("rate_limits", "rate limits updated",
                                      params.get("rateLimits") or params))
            return None
        if method == "error":
            error = params.get("error") or {}
            await on_event(AgentEvent("error", str(error.get("message") or error),
                                      {"will_retry": params.get("willRetry"), "raw": error}))
            return None
        item = params.get("item") or {}
        if method == "item/started" and item.get("type") in TOOL_ITEMS:
            name, arguments = _tool_summary(item)
            await on_event(AgentEvent("tool_call", f"{name} {json.dumps(arguments)[:200]}",
                                      {"name": name, "arguments": arguments,
                                       "call_id": item.get("id")}))
            return None
        if method == "item/completed" and item.get("type") in TOOL_ITEMS:
            name, _ = _tool_summary(item)
            ok, output = _tool_outcome(item)
            await on_event(AgentEvent("tool_result", f"{name} {'ok' if ok else 'failed'}",
                                      {"name": name, "ok": ok, "call_id": item.get("id"),
                                       "output": output[:RESULT_EXCERPT]}))
            return None
        if method == "item/completed" and item.get("type") == "agentMessage":
            turn.last_message = str(item.get("text") or "")
            await on_event(AgentEvent("message", turn.last_message, {"item_id": item.get("id")}))
            return None
        if method.endswith("Delta") or method.endswith("/delta"):
            now = time.monotonic()
            if now - turn.last_delta < DELTA_EVERY_S:
                return None
            turn.last_delta = now
        await on_event(AgentEvent("notification", method, {"method": method}))
        return None

    async def _answer(self, request_id: Any, method: str, params: dict[str, Any],
                      turn: _TurnState, on_event: EventSink) -> TurnResult | None:
        """Answer a request from the app-server; a result here ends the turn."""
        if method in APPROVAL_REQUESTS:
            decision = APPROVAL_REQUESTS[method] if self.auto_approve else DENIED[method]
            await self._send({"id": request_id, "result": checked(
                method, {"decision": decision}, ANSWER_TYPES)})
            await on_event(AgentEvent("notification", f"{method}: {decision}",
                                      {"method": method, "decision": decision}))
            if not self.auto_approve:
                return await self._fail(
                    on_event, f"approval required ({method}) and codex.auto_approve is false",
                    turn.usage)
            return None
        if method == "item/tool/call":
            result = await self._call_tool(params)
            await self._send({"id": request_id, "result": checked(method, result, ANSWER_TYPES)})
            return None
        if method in INPUT_REQUESTS and self.ctx.can_park:
            # Parked: the request is left unanswered and the app-server stopped with the
            # session; the answer comes back as the next turn on this thread.
            question = asked_from_codex(method, params)
            question.resume = {"backend": "codex", "thread_id": self.thread_id,
                               "method": method}
            await on_event(AgentEvent("turn_completed", "waiting for a person to answer",
                                      {"turn_id": turn.id, "usage": turn.usage.to_dict(),
                                       "parked": True}))
            return TurnResult(ok=True, final_message="waiting for a person to answer",
                              usage=turn.usage, asked=question)
        if method in INPUT_REQUESTS:
            questions = [q.get("question", "") for q in params.get("questions") or []]
            asked = "; ".join(q for q in questions if q) or params.get("message") or method
            await self._send({"id": request_id, "error": {
                "code": -32000, "message": "Tack runs agents unattended; no user input"}})
            return await self._fail(
                on_event, f"input required: the agent asked for user input ({asked}); "
                "Tack runs agents unattended, so the attempt fails", turn.usage)
        await self._send({"id": request_id, "error": {
            "code": -32601, "message": f"{method} is not supported by Tack"}})
        await on_event(AgentEvent("notification", f"unsupported request {method}",
                                  {"method": method}))
        return None

    async def resume(self, saved: dict[str, Any], answer: str, on_event: EventSink) -> TurnResult:
        """Continue the thread that was parked on a question: `thread/resume`, then a turn
        whose input is the answer."""
        try:
            result = await self._request("thread/resume", {
                "threadId": str(saved["thread_id"]), "cwd": str(self.ctx.workspace.resolve()),
                "approvalPolicy": self.config.approval_policy or "never",
                "sandbox": self.config.thread_sandbox or "workspace-write"})
            self.thread_id = str(((result or {}).get("thread") or {})["id"])
        except (AgentError, KeyError) as exc:
            return await self._fail(on_event, f"thread/resume failed: {exc}", TokenUsage())
        return await self.run_turn(
            f"A person answered your question: {answer}\nContinue from where you stopped.",
            on_event)

    async def _call_tool(self, params: dict[str, Any]) -> dict[str, Any]:
        name = str(params.get("tool") or "")
        if name not in DYNAMIC_TOOLS:
            ok, text = False, (f"error: unsupported tool {name!r}; available: "
                               f"{', '.join(DYNAMIC_TOOLS)}")
        else:
            arguments = params.get("arguments")
            outcome = await run_tool(name, arguments if isinstance(arguments, dict) else {},
                                     self.ctx)
            ok, text = outcome.ok, outcome.output
        return {"success": ok, "contentItems": [{"type": "inputText", "text": text}]}

    async def _fail(self, on_event: EventSink, error: str, usage: TokenUsage) -> TurnResult:
        await on_event(AgentEvent("turn_failed", error, {"usage": usage.to_dict()}))
        return TurnResult(ok=False, error=error, usage=usage)

    # --- stopping ------------------------------------------------------------------

    def _kill_tree(self, sig: int) -> None:
        """Signal the app-server's process group and every descendant that left it
        (Codex runs commands in their own PTY sessions)."""
        if self.pid is None:
            return
        self._seen.add(("group", self.pid))
        with contextlib.suppress(psutil.Error):
            for child in psutil.Process(self.pid).children(recursive=True):
                self._seen.add(("pid", child.pid))
                with contextlib.suppress(OSError):
                    self._seen.add(("group", os.getpgid(child.pid)))
        for kind, number in sorted(self._seen):
            with contextlib.suppress(ProcessLookupError, PermissionError):
                if kind == "group":
                    os.killpg(number, sig)
                else:
                    os.kill(number, sig)

    async def stop(self) -> None:
        if self._stopped:
            return
        self._stopped = True
        proc = self._proc
        if proc is not None:
            if proc.stdin:
                with contextlib.suppress(Exception):
                    proc.stdin.close()
            self._kill_tree(signal.SIGTERM)
            try:
                await asyncio.wait_for(proc.wait(), STOP_GRACE_S)
            except TimeoutError:
                pass
            self._kill_tree(signal.SIGKILL)
            with contextlib.suppress(ProcessLookupError):
                await proc.wait()
            if self.ctx.on_process and self.pid is not None:
                self.ctx.on_process(self.pid, False)
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task


class _TurnState:
    def __init__(self, turn_id: str) -> None:
        self.id = turn_id
        self.usage = TokenUsage()
        self.last_message = ""
        self.last_delta = 0.0


class CodexBackend:
    name = "codex"

    def __init__(self, config: CodexConfig | None = None) -> None:
        self.config = config or CodexConfig()

    async def start_session(self, ctx: SessionContext) -> CodexSession:
        session = CodexSession(self.config, ctx)
        await session.start()
        return session


def asked_from_codex(method: str, params: dict[str, Any]) -> Asked:
    """A `requestUserInput` (its first question; Codex asks 1-3, "prefer 1") or an MCP
    elicitation as Tack's question. Codex marks the recommended option "(Recommended)"."""
    questions = params.get("questions") or []
    if method != "item/tool/requestUserInput" or not questions:
        text = str(params.get("message") or f"{params.get('serverName', 'an MCP server')} "
                   "asks for input")
        return Asked(text, source="codex.elicitation")
    first = questions[0]
    options = [str(o.get("label") or "") for o in first.get("options") or []]
    recommended = next((n for n, label in enumerate(options, 1)
                        if label.lower().endswith("(recommended)")), None)
    text = str(first.get("question") or first.get("header") or "")
    if len(questions) > 1:
        text += " (Codex asked more; only this first question is posted.)"
    return Asked(text, options, recommended, allow_free_text=bool(first.get("isOther")),
                 secret=bool(first.get("isSecret")), source="codex.requestUserInput")


def _sandbox_policy(ctx: SessionContext) -> dict[str, Any]:
    """Tack's sandbox as Codex's own turn policy: write the workspace only, no network
    (Codex cannot filter hosts; `codex.turn_sandbox_policy` loosens it)."""
    if ctx.sandbox is None:
        return {}
    return {"sandboxPolicy": {"type": "workspaceWrite", "writableRoots": [],
                              "networkAccess": False}}
