"""Tack's own coding agent: a tool-using loop over any OpenAI-compatible endpoint.

Speaks Chat Completions or the Responses API (`builtin.api`) with SSE streaming, keeps the
conversation across turns, and runs the tools of `tack.agents.tools` in the workspace.
Works with OpenAI, vLLM, llama.cpp, Ollama and the stub model server.
"""

from __future__ import annotations

import asyncio
import functools
import json
import ssl
import time
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any, Protocol

import httpx

from tack.agents.base import (
    AgentEvent,
    EventSink,
    SessionContext,
    TokenUsage,
    TurnResult,
)
from tack.agents.tools import (
    APP_TOOL, SKILL_TOOL, ToolSpec, context_tool, run_tool, tool_specs,
)
from tack import sandbox
from tack.app.agent_tool import app_configured
from tack.errors import AgentError
from tack.questions.model import AnswerError, Asked
from tack.questions.tool import ASK_HUMAN_TOOL
from tack.skills.agent_tool import skill_catalog
from tack.workflow.config import BuiltinConfig

RESULT_EXCERPT = 2_000
NOTIFY_EVERY_S = 0.5
MAX_RETRIES = 2

DEFAULT_SYSTEM_PROMPT = """\
You are a careful software engineer working autonomously on one issue ({identifier}: {title})
in a git working copy at {workspace}. Every path you use is relative to that directory;
nothing outside it is reachable.

Tools:
- list_files, read_file: look around before changing anything.
- edit_file (exact text replacement) and write_file: change files.
- shell: run commands (tests, linters, git) with bash in the workspace.
- tracker: show your issue and its comments, comment on it, or move it to another state.
- commit: record your work on the issue's branch with a message (use it, not `git commit`).

Work in small verified steps: read, change, run the tests, commit. When the work
is done, say briefly what you changed and how you verified it. Nobody is watching this
session live: do not ask questions in your replies. If you are genuinely blocked on a
decision only a person can make and the ask_human tool is offered, use it; the session
stops until someone answers.
"""


class ModelRequestError(Exception):
    """A model request failed; `retryable` for 429, 5xx, timeouts and dropped connections."""

    def __init__(self, status: int | None, message: str, *, retryable: bool = False) -> None:
        super().__init__(f"{status} {message}" if status else message)
        self.status = status
        self.retryable = retryable


@dataclass
class ToolCall:
    call_id: str
    name: str
    arguments: str


@dataclass
class ModelReply:
    text: str = ""
    calls: list[ToolCall] = field(default_factory=list)
    usage: TokenUsage = field(default_factory=TokenUsage)
    # Responses API output items, to send back as history.
    items: list[dict[str, Any]] = field(default_factory=list)


class _ReplyBuilder(Protocol):
    chars: int

    def feed(self, event: str | None, data: dict[str, Any]) -> None: ...

    def finish(self) -> ModelReply: ...


def _usage(raw: dict[str, Any] | None, inp: str, out: str) -> TokenUsage:
    if not raw:
        return TokenUsage()
    i, o = int(raw.get(inp) or 0), int(raw.get(out) or 0)
    return TokenUsage(i, o, int(raw.get("total_tokens") or i + o))


def _error_message(payload: Any) -> str:
    if isinstance(payload, dict):
        error = payload.get("error", payload)
        if isinstance(error, dict) and error.get("message"):
            return str(error["message"])
        if isinstance(error, str):
            return error
    return json.dumps(payload)[:300]


# --- Chat Completions -------------------------------------------------------------------


class _ChatBuilder:
    def __init__(self) -> None:
        self.parts: list[str] = []
        self.calls: dict[int, dict[str, str]] = {}
        self.usage = TokenUsage()
        self.chars = 0

    def feed(self, event: str | None, data: dict[str, Any]) -> None:
        if data.get("error"):
            raise ModelRequestError(None, _error_message(data))
        if data.get("usage"):
            self.usage = _usage(data["usage"], "prompt_tokens", "completion_tokens")
        for choice in data.get("choices") or []:
            delta = choice.get("delta") or {}
            if delta.get("content"):
                self.parts.append(delta["content"])
                self.chars += len(delta["content"])
            for tc in delta.get("tool_calls") or []:
                slot = self.calls.setdefault(
                    int(tc.get("index", len(self.calls))), {"id": "", "name": "", "args": ""}
                )
                function = tc.get("function") or {}
                slot["id"] = slot["id"] or tc.get("id") or ""
                slot["name"] = slot["name"] or function.get("name") or ""
                slot["args"] += function.get("arguments") or ""
                self.chars += len(function.get("arguments") or "")

    def finish(self) -> ModelReply:
        calls = [
            ToolCall(slot["id"] or f"call_{index}", slot["name"], slot["args"] or "{}")
            for index, slot in sorted(self.calls.items())
        ]
        return ModelReply("".join(self.parts), calls, self.usage)


class ChatConversation:
    path = "/chat/completions"

    def __init__(self, system_prompt: str, tools: list[ToolSpec]) -> None:
        self.messages: list[dict[str, Any]] = [{"role": "system", "content": system_prompt}]
        self.tools = tools

    def add_user(self, text: str) -> None:
        self.messages.append({"role": "user", "content": text})

    def body(self, config: BuiltinConfig) -> dict[str, Any]:
        body: dict[str, Any] = {
            "model": config.model,
            "messages": self.messages,
            "tools": [t.chat_schema() for t in self.tools],
            "stream": True,
            "stream_options": {"include_usage": True},
        }
        if config.temperature is not None:
            body["temperature"] = config.temperature
        return body

    def builder(self) -> _ChatBuilder:
        return _ChatBuilder()

    def parse_complete(self, data: dict[str, Any]) -> ModelReply:
        message = ((data.get("choices") or [{}])[0]).get("message") or {}
        calls = [
            ToolCall(tc.get("id") or f"call_{i}", tc["function"]["name"],
                     tc["function"].get("arguments") or "{}")
            for i, tc in enumerate(message.get("tool_calls") or [])
        ]
        usage = _usage(data.get("usage"), "prompt_tokens", "completion_tokens")
        return ModelReply(message.get("content") or "", calls, usage)

    def add_reply(self, reply: ModelReply) -> None:
        message: dict[str, Any] = {"role": "assistant", "content": reply.text or None}
        if reply.calls:
            message["tool_calls"] = [
                {"id": c.call_id, "type": "function",
                 "function": {"name": c.name, "arguments": c.arguments}}
                for c in reply.calls
            ]
        else:
            message["content"] = reply.text
        self.messages.append(message)

    def add_tool_result(self, call: ToolCall, output: str) -> None:
        self.messages.append({"role": "tool", "tool_call_id": call.call_id, "content": output})

    def export(self) -> dict[str, Any]:
        return {"messages": self.messages}

    def restore(self, saved: dict[str, Any]) -> None:
        self.messages = list(saved["messages"])


# --- Responses --------------------------------------------------------------------------


class _ResponsesBuilder:
    def __init__(self) -> None:
        self.items: list[dict[str, Any]] = []
        self.final: dict[str, Any] | None = None
        self.chars = 0

    def feed(self, event: str | None, data: dict[str, Any]) -> None:
        kind = data.get("type") or event
        if kind in ("response.output_text.delta", "response.function_call_arguments.delta"):
            self.chars += len(data.get("delta") or "")
        elif kind == "response.output_item.done" and isinstance(data.get("item"), dict):
            self.items.append(data["item"])
        elif kind == "response.completed":
            self.final = data.get("response") or {}
        elif kind in ("response.failed", "response.incomplete"):
            response = data.get("response") or {}
            detail = response.get("error") or response.get("incomplete_details") or kind
            raise ModelRequestError(None, f"{kind}: {_error_message(detail)}")
        elif kind == "error":
            raise ModelRequestError(None, _error_message(data))

    def finish(self) -> ModelReply:
        if self.final is None:
            raise ModelRequestError(None, "stream ended before response.completed",
                                    retryable=True)
        return _reply_from_items(self.final.get("output") or self.items, self.final)


def _reply_from_items(items: list[dict[str, Any]], response: dict[str, Any]) -> ModelReply:
    text: list[str] = []
    calls: list[ToolCall] = []
    for item in items:
        if item.get("type") == "message":
            text += [p.get("text", "") for p in item.get("content") or []
                     if p.get("type") == "output_text"]
        elif item.get("type") == "function_call":
            calls.append(ToolCall(item.get("call_id") or item.get("id") or "",
                                  item.get("name", ""), item.get("arguments") or "{}"))
    usage = _usage(response.get("usage"), "input_tokens", "output_tokens")
    return ModelReply("".join(text), calls, usage, items)


class ResponsesConversation:
    path = "/responses"

    def __init__(self, system_prompt: str, tools: list[ToolSpec]) -> None:
        self.instructions = system_prompt
        self.tools = tools
        # The whole history is sent each time (no server-side state), so any
        # Responses-compatible server works.
        self.input: list[dict[str, Any]] = []

    def add_user(self, text: str) -> None:
        self.input.append({"type": "message", "role": "user", "content": text})

    def body(self, config: BuiltinConfig) -> dict[str, Any]:
        body: dict[str, Any] = {
            "model": config.model,
            "instructions": self.instructions,
            "input": self.input,
            "tools": [t.responses_schema() for t in self.tools],
            "stream": True,
            "store": False,
        }
        if config.temperature is not None:
            body["temperature"] = config.temperature
        return body

    def builder(self) -> _ResponsesBuilder:
        return _ResponsesBuilder()

    def parse_complete(self, data: dict[str, Any]) -> ModelReply:
        if data.get("status") == "failed":
            raise ModelRequestError(None, _error_message(data.get("error") or data))
        return _reply_from_items(data.get("output") or [], data)

    def add_reply(self, reply: ModelReply) -> None:
        for item in reply.items:
            if item.get("type") == "message":
                self.input.append({"type": "message", "role": "assistant",
                                   "content": "".join(
                                       p.get("text", "") for p in item.get("content") or []
                                       if p.get("type") == "output_text")})
        for call in reply.calls:
            self.input.append({"type": "function_call", "call_id": call.call_id,
                               "name": call.name, "arguments": call.arguments})

    def add_tool_result(self, call: ToolCall, output: str) -> None:
        self.input.append({"type": "function_call_output", "call_id": call.call_id,
                           "output": output})

    def export(self) -> dict[str, Any]:
        return {"instructions": self.instructions, "input": self.input}

    def restore(self, saved: dict[str, Any]) -> None:
        self.instructions, self.input = saved["instructions"], list(saved["input"])


# --- SSE --------------------------------------------------------------------------------


async def sse_events(response: httpx.Response) -> AsyncIterator[tuple[str | None, str]]:
    """(event, data) pairs of a text/event-stream body."""
    event: str | None = None
    data: list[str] = []
    async for line in response.aiter_lines():
        if not line:
            if data:
                yield event, "\n".join(data)
            event, data = None, []
            continue
        if line.startswith(":"):
            continue
        name, _, value = line.partition(":")
        value = value[1:] if value.startswith(" ") else value
        if name == "event":
            event = value
        elif name == "data":
            data.append(value)
    if data:
        yield event, "\n".join(data)


# --- the session ------------------------------------------------------------------------


@functools.cache
def _tls_context() -> ssl.SSLContext:
    """One TLS context for every session: building one loads the CA bundle, about 50 ms of
    CPU on the event loop, which with 200 sessions starting at once held back every agent's
    first request until the last session was built."""
    return httpx.create_ssl_context()


class BuiltinSession:
    # Seconds before the first retry; doubles each time.
    retry_backoff_s = 0.25

    def __init__(self, config: BuiltinConfig, ctx: SessionContext,
                 skills_budget: int | None = None) -> None:
        self.config = config
        self.ctx = ctx
        self.session_id: str | None = f"builtin-{uuid.uuid4().hex[:12]}"
        prompt = config.system_prompt or DEFAULT_SYSTEM_PROMPT.format(
            identifier=ctx.issue.identifier, title=ctx.issue.title, workspace=ctx.workspace
        )
        self.catalog = skill_catalog(ctx.workspace, skills_budget or 0)
        tools = tool_specs(ctx)
        if self.catalog.shown:
            tools = [*tools, SKILL_TOOL]
        if app_configured(ctx.workspace):
            tools = [*tools, APP_TOOL]
        tools = [*tools, *context_tool(ctx.env)]
        if ctx.can_park:
            tools = [*tools, ASK_HUMAN_TOOL]
        prompt += self.catalog.text
        self.conversation: ChatConversation | ResponsesConversation = (
            ResponsesConversation(prompt, tools) if config.api == "responses"
            else ChatConversation(prompt, tools)
        )
        headers = {"Accept": "text/event-stream"}
        if config.api_key:
            headers["Authorization"] = f"Bearer {config.api_key}"
        self._client = httpx.AsyncClient(
            base_url=config.base_url.rstrip("/"), headers=headers,
            timeout=httpx.Timeout(config.request_timeout_ms / 1000), verify=_tls_context(),
        )
        self._announced = False
        self._closed = False

    async def run_turn(self, prompt: str, on_event: EventSink) -> TurnResult:
        await self._announce(on_event)
        self.conversation.add_user(prompt)
        return await self._steps(on_event)

    async def resume(self, saved: dict[str, Any], answer: str, on_event: EventSink) -> TurnResult:
        """Continue the conversation saved when the agent asked a person: the answer is the
        `ask_human` call's result, and the loop goes on from there."""
        self.session_id = str(saved.get("session_id") or self.session_id)
        self.conversation.restore(saved["conversation"])
        await self._announce(on_event)
        pending = ToolCall(str(saved["call_id"]), ASK_HUMAN_TOOL.name, "{}")
        self.conversation.add_tool_result(pending, f"A person answered: {answer}")
        return await self._steps(on_event)

    async def _announce(self, on_event: EventSink) -> None:
        if self._closed:
            raise AgentError(f"builtin agent session {self.session_id} is already stopped")
        if not self._announced:
            self._announced = True
            await on_event(AgentEvent(
                "session_started", f"session {self.session_id}",
                {"session_id": self.session_id, "model": self.config.model,
                 "api": self.config.api},
            ))
            if self.catalog.dropped:
                await on_event(AgentEvent(
                    "notification",
                    f"skills left out of the catalog (skills.catalog_budget): "
                    f"{', '.join(self.catalog.dropped)}",
                    {"skills_shown": self.catalog.shown,
                     "skills_dropped": self.catalog.dropped},
                ))

    async def _steps(self, on_event: EventSink) -> TurnResult:
        usage = TokenUsage()
        for step in range(1, self.config.max_steps_per_turn + 1):
            try:
                reply = await self._ask_model(on_event)
            except ModelRequestError as exc:
                return await self._fail(on_event, f"model request failed: {exc}", usage)
            usage += reply.usage
            self.conversation.add_reply(reply)
            if reply.usage.total_tokens:
                await on_event(AgentEvent(
                    "token_usage",
                    f"+{reply.usage.input_tokens} in / +{reply.usage.output_tokens} out",
                    reply.usage.to_dict(), usage=reply.usage,
                ))
            if reply.text:
                await on_event(AgentEvent("message", reply.text, {"step": step}))
            if not reply.calls:
                await on_event(AgentEvent(
                    "turn_completed", reply.text[:RESULT_EXCERPT],
                    {"steps": step, "usage": usage.to_dict()}, usage=None,
                ))
                return TurnResult(ok=True, final_message=reply.text, usage=usage)
            asked: tuple[Asked, ToolCall] | None = None
            for call in reply.calls:
                if call.name == ASK_HUMAN_TOOL.name and self.ctx.can_park and asked is None:
                    asked = await self._ask(call, on_event)
                else:
                    await self._run_call(call, on_event)
            if asked is not None:
                return await self._park(*asked, on_event, usage)
        return await self._fail(on_event, "step limit reached", usage)

    async def _ask(self, call: ToolCall, on_event: EventSink) -> tuple[Asked, ToolCall] | None:
        """An `ask_human` call: the question to park on, or None when the call was malformed
        (the model is told why, as for any tool)."""
        await on_event(AgentEvent("tool_call", f"{call.name} {call.arguments[:200]}",
                                  {"name": call.name, "call_id": call.call_id}))
        try:
            args = json.loads(call.arguments or "{}")
            return Asked.from_tool_args(args if isinstance(args, dict) else {}), call
        except (json.JSONDecodeError, AnswerError) as exc:
            message = exc.message if isinstance(exc, AnswerError) else f"invalid JSON: {exc}"
            self.conversation.add_tool_result(call, f"error: {message}")
            return None

    async def _park(self, asked: Asked, call: ToolCall, on_event: EventSink,
                    usage: TokenUsage) -> TurnResult:
        """Stop the turn on a question; what resumes it is the whole conversation so far."""
        asked.resume = {"backend": "builtin", "session_id": self.session_id,
                        "call_id": call.call_id, "api": self.config.api,
                        "conversation": self.conversation.export()}
        await on_event(AgentEvent("turn_completed", "waiting for a person to answer",
                                  {"usage": usage.to_dict(), "parked": True}))
        return TurnResult(ok=True, final_message="waiting for a person to answer",
                          usage=usage, asked=asked)

    async def _fail(self, on_event: EventSink, error: str, usage: TokenUsage) -> TurnResult:
        await on_event(AgentEvent("turn_failed", error, {"usage": usage.to_dict()}))
        return TurnResult(ok=False, error=error, usage=usage)

    async def _run_call(self, call: ToolCall, on_event: EventSink) -> None:
        try:
            arguments: Any = json.loads(call.arguments or "{}")
        except json.JSONDecodeError:
            arguments = call.arguments
        await on_event(AgentEvent(
            "tool_call", f"{call.name} {call.arguments[:200]}",
            {"name": call.name, "arguments": arguments, "call_id": call.call_id},
        ))
        outcome = await run_tool(call.name, arguments, self.ctx,
                                 shell_timeout_ms=self.config.shell_timeout_ms)
        await on_event(AgentEvent(
            "tool_result", f"{call.name} {'ok' if outcome.ok else 'failed'}",
            {"name": call.name, "ok": outcome.ok, "call_id": call.call_id,
             "output": outcome.output[:RESULT_EXCERPT]},
        ))
        self.conversation.add_tool_result(call, outcome.output)

    async def _ask_model(self, on_event: EventSink) -> ModelReply:
        for attempt in range(MAX_RETRIES + 1):
            try:
                return await self._request_once(on_event)
            except ModelRequestError as exc:
                retrying = exc.retryable and attempt < MAX_RETRIES
                await on_event(AgentEvent(
                    "error", f"model request failed: {exc}",
                    {"status": exc.status, "attempt": attempt + 1, "retrying": retrying},
                ))
                if not retrying:
                    raise
                await asyncio.sleep(self.retry_backoff_s * 2**attempt)
        raise AssertionError("unreachable")

    async def _request_once(self, on_event: EventSink) -> ModelReply:
        body = self.conversation.body(self.config)
        started = last_notice = time.monotonic()
        try:
            async with self._client.stream("POST", self.conversation.path, json=body) as resp:
                if resp.status_code >= 400:
                    raw = await resp.aread()
                    try:
                        message = _error_message(json.loads(raw))
                    except ValueError:
                        message = raw.decode(errors="replace")[:300] or resp.reason_phrase
                    retryable = resp.status_code == 429 or resp.status_code >= 500
                    raise ModelRequestError(resp.status_code, message, retryable=retryable)
                if "text/event-stream" not in resp.headers.get("content-type", ""):
                    return self.conversation.parse_complete(json.loads(await resp.aread()))
                builder = self.conversation.builder()
                async for event, data in sse_events(resp):
                    if data.strip() == "[DONE]":
                        break
                    builder.feed(event, json.loads(data))
                    now = time.monotonic()
                    if now - last_notice >= NOTIFY_EVERY_S:
                        last_notice = now
                        await on_event(AgentEvent(
                            "notification", "model is responding",
                            {"chars": builder.chars, "elapsed_s": round(now - started, 1)},
                        ))
                return builder.finish()
        except httpx.TimeoutException:
            raise ModelRequestError(
                None, f"timed out after {self.config.request_timeout_ms} ms "
                f"({self.config.base_url})", retryable=True,
            ) from None
        except httpx.TransportError as exc:
            raise ModelRequestError(
                None, f"{type(exc).__name__} talking to {self.config.base_url}: {exc}",
                retryable=True,
            ) from None
        except json.JSONDecodeError as exc:
            raise ModelRequestError(None, f"malformed response from the model: {exc}") from None

    async def stop(self) -> None:
        if not self._closed:
            self._closed = True
            await self._client.aclose()
            if self.ctx.sandbox is not None:  # its commands' sandbox ends with the session
                await sandbox.close_sessions(self.ctx.workspace)


class BuiltinBackend:
    name = "builtin"

    def __init__(self, config: BuiltinConfig | None = None,
                 skills_budget: int | None = None) -> None:
        self.config = config or BuiltinConfig()
        # Characters of the skill catalog in the system prompt (None: no skills).
        self.skills_budget = skills_budget

    async def start_session(self, ctx: SessionContext) -> BuiltinSession:
        if not ctx.workspace.is_dir():
            raise AgentError(f"workspace {ctx.workspace} does not exist; the builtin agent "
                             "needs an existing directory to work in")
        return BuiltinSession(self.config, ctx, self.skills_budget)
