"""Claude Code as a backend: `claude -p` with stream-json in and out.

One claude process serves the whole session: each turn writes a user message to its stdin
and reads events until the `result` line. If the process is gone between turns, the next
turn starts a new one with `--resume <session_id>`, so the conversation carries on. Tack's
host-side tools (`tracker`, `commit`) reach claude through the MCP stdio server in
`tack.agents.mcp_tracker`, which relays each call over a unix socket to this process.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import shlex
import shutil
import signal
import sys
from collections import deque
from typing import Any

from tack.agents.base import AgentEvent, EventSink, SessionContext, TokenUsage, TurnResult
from tack.agents.mcp_tracker import CLAUDE_PERMISSION_TOOL_NAME, SERVER_NAME, ToolRelay
from tack.agents.tools import shell_env
from tack.context.home import CONTEXT_SERVER_NAME
from tack.context.wiring import mcp_stdio_server
from tack.errors import AgentError
from tack.questions.model import Asked
from tack.sandbox.policy import claude_settings
from tack.tracker.credentials import environ_without
from tack.workflow.config import ClaudeConfig

EXCERPT = 2_000
STDERR_LINES = 40
# stream-json lines (the init line, big tool results) exceed asyncio's 64 KiB default.
LINE_LIMIT = 32 * 1024 * 1024
# After claude exits, how long to wait for lines still in the pipe.
EXIT_DRAIN_S = 2.0
# Permission modes in which claude asks before some tools (the others never ask).
ASKING_MODES = ("default", "acceptEdits", "plan", "auto")
# claude waits this long for an MCP server to answer `initialize` (MCP_TIMEOUT; its default
# is 30 s, and it honours at most 60 s), then runs without that server's tools. Tack's
# server is a Python process importing part of Tack: on a loaded machine (CI, fifty agents
# starting at once) it can take longer than 30 s, and the agent would lose `tracker` and
# `commit` and could not hand its issue off.
MCP_STARTUP_TIMEOUT_MS = 60_000
PERMISSION_PARKED = ("Not run yet: a person decides whether you may. End your turn at once, "
                     "without doing anything else; the decision arrives as the next message.")


def resolve_command(command: str, env: dict[str, str] | None = None) -> list[str]:
    """argv for `claude.command`; the program is looked up on PATH unless it names a path."""
    argv = shlex.split(command)
    if not argv:
        raise AgentError("claude.command is empty; set it to `claude` or a path to the binary")
    program = argv[0]
    if os.sep in program:
        found = program if os.access(program, os.X_OK) else None
    else:
        found = shutil.which(program, path=(env or os.environ).get("PATH"))
    if not found:
        raise AgentError(
            f"claude.command {command!r}: {program!r} was not found"
            + ("" if os.sep in program else " on PATH")
            + ". Install Claude Code (`npm install -g @anthropic-ai/claude-code`) or set "
            "`claude: {command: /path/to/claude}` in WORKFLOW.md; `tack doctor` checks it.",
            code="agent_binary_not_found",
        )
    return [found, *argv[1:]]


def usage_of(raw: dict[str, Any] | None) -> TokenUsage:
    if not raw:
        return TokenUsage()
    inp = sum(int(raw.get(k) or 0) for k in
              ("input_tokens", "cache_creation_input_tokens", "cache_read_input_tokens"))
    out = int(raw.get("output_tokens") or 0)
    return TokenUsage(inp, out, inp + out)


def call_summary(tool_input: dict[str, Any]) -> str:
    """A tool call's input in one line, for the question a person reads."""
    for key in ("command", "file_path", "url", "pattern"):
        if isinstance(tool_input.get(key), str):
            return f"`{tool_input[key][:300]}`"
    return json.dumps(tool_input)[:300]


def _text_of(content: Any) -> str:
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return "\n".join(str(b.get("text", "")) for b in content
                         if isinstance(b, dict) and b.get("type") == "text")
    return ""


class ClaudeSession:
    def __init__(self, config: ClaudeConfig, ctx: SessionContext, argv: list[str]) -> None:
        self.config = config
        self.ctx = ctx
        self.argv = argv
        self.session_id: str | None = None
        self.proc: asyncio.subprocess.Process | None = None
        self.stderr_tail: deque[str] = deque(maxlen=STDERR_LINES)
        self._stderr_task: asyncio.Task[None] | None = None
        self._closed = False
        # Usage already reported this turn, from assistant messages as they arrive, so a
        # turn cancelled before its `result` line (say, by reconciliation after the agent
        # handed the issue off) still counts its tokens; `result` reports only the rest.
        self._turn_usage = TokenUsage()
        self._seen_messages: set[str] = set()
        # claude's MCP server reaches ctx.tracker and the commit tool through this relay.
        self.relay: ToolRelay | None = None
        # tool_use id -> tool name, so each tool_result names its tool like the call did.
        self._tool_names: dict[str, str] = {}
        # A question the agent asked through `ask_human` this turn: the turn parks on it.
        self._asked: Asked | None = None
        # Tool calls a person allowed (tool name, input): the permission prompt lets them run.
        self._granted: list[tuple[str, dict[str, Any]]] = []

    # --- process ------------------------------------------------------------------

    def command_line(self) -> list[str]:
        args = [*self.argv, "-p", "--output-format", "stream-json", "--input-format",
                "stream-json", "--verbose", "--permission-mode", self.config.permission_mode]
        if self.config.allowed_tools:
            allowed = list(self.config.allowed_tools)
            if mcp_stdio_server(self.ctx.env) is not None:  # the read-only context tools
                allowed.append(f"mcp__{CONTEXT_SERVER_NAME}")
            args += ["--allowedTools", ",".join(allowed)]
        if self.ctx.sandbox is not None:
            # Claude Code sandboxes its Bash tool itself; it gets Tack's policy to do it with.
            settings = claude_settings(self.ctx.sandbox, self.ctx.workspace)
            args += ["--settings", json.dumps(settings)]
            if not self.ctx.sandbox.network:
                # The network is off; claude's own web tools would go around its sandbox.
                args += ["--disallowedTools", "WebFetch,WebSearch"]
        if self.config.model:
            args += ["--model", self.config.model]
        mcp = self.mcp_config()
        if mcp is not None:
            args += ["--mcp-config", json.dumps(mcp), "--strict-mcp-config"]
        if self.asks_permissions and self.relay is not None:
            args += ["--permission-prompt-tool", CLAUDE_PERMISSION_TOOL_NAME]
        if self.session_id:
            args += ["--resume", self.session_id]
        return args + list(self.config.extra_args)

    @property
    def asks_permissions(self) -> bool:
        """Permission prompts become questions: only where the run can park on one."""
        return (self.ctx.can_park and self.config.ask_permissions
                and self.config.permission_mode in ASKING_MODES)

    def mcp_config(self) -> dict[str, Any] | None:
        servers: dict[str, Any] = {}
        if self.relay is not None:
            # Only the socket path: the tracker's credentials stay in this process, and commits
            # are made here, outside whatever sandbox claude runs in.
            servers[SERVER_NAME] = {"type": "stdio", "command": sys.executable,
                                    "args": ["-m", "tack.agents.mcp_tracker", "--socket",
                                             str(self.relay.path),
                                             *(["--ask"] if self.ctx.can_park else []),
                                             *(["--permission"] if self.asks_permissions
                                               else [])]}
        context = mcp_stdio_server(self.ctx.env)
        if context is not None:
            servers[CONTEXT_SERVER_NAME] = {"type": "stdio", **context}
        if not servers:
            return None
        return {"mcpServers": servers}

    async def _start_relay(self) -> None:
        if self.relay is None:
            self.relay = await ToolRelay(self.ctx.tracker, self.ctx.issue.id,
                                         workspace=self.ctx.workspace,
                                         on_ask=self._on_ask,
                                         on_permission=self._on_permission).start()

    def _on_ask(self, asked: Asked) -> None:
        asked.source = "claude"
        self._asked = self._asked or asked

    def _on_permission(self, args: dict[str, Any]) -> dict[str, Any]:
        """claude's permission prompt: a call a person allowed runs; any other parks the
        turn on a question (its reply tells claude the call did not run yet)."""
        tool = str(args.get("tool_name") or "")
        tool_input = args.get("input") if isinstance(args.get("input"), dict) else {}
        assert isinstance(tool_input, dict)
        if (tool, tool_input) in self._granted:
            return {"behavior": "allow", "updatedInput": tool_input}
        if self._asked is None:
            recommended = self.config.permission_recommended
            self._asked = Asked(
                f"The agent asks permission to use {tool}: {call_summary(tool_input)}",
                ["allow", "deny"], {"allow": 1, "deny": 2}.get(recommended or ""),
                allow_free_text=False, source="claude.permission",
                resume={"permission": {"tool_name": tool, "input": tool_input}})
        return {"behavior": "deny", "message": PERMISSION_PARKED}

    async def resume(self, saved: dict[str, Any], answer: str, on_event: EventSink) -> TurnResult:
        """Continue the parked conversation: `claude --resume <session>` with the answer."""
        self.session_id = str(saved["session_id"])
        prompt = f"A person answered your question: {answer}\nContinue from where you stopped."
        asked = saved.get("permission")
        if isinstance(asked, dict):
            tool, tool_input = str(asked.get("tool_name")), dict(asked.get("input") or {})
            call = f"{tool} ({call_summary(tool_input)})"
            if answer.strip().lower() == "allow":
                self._granted.append((tool, tool_input))
                prompt = (f"A person allowed {call}. Make that call again, exactly as before; "
                          "it runs now. Then continue from where you stopped.")
            else:
                prompt = (f"A person did not allow {call} (answer: {answer}). Do not try it "
                          "again; find another way, or stop and explain why you cannot.")
        return await self.run_turn(prompt, on_event)

    def env(self) -> dict[str, str]:
        env = shell_env(self.ctx)
        env.setdefault("MCP_TIMEOUT", str(MCP_STARTUP_TIMEOUT_MS))
        env.update(self.config.env)
        return env

    async def _spawn(self) -> asyncio.subprocess.Process:
        await self._start_relay()
        try:
            proc = await asyncio.create_subprocess_exec(
                *self.command_line(), cwd=self.ctx.workspace, env=self.env(),
                stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE,
                stderr=asyncio.subprocess.PIPE, start_new_session=True, limit=LINE_LIMIT,
            )
        except OSError as exc:
            raise AgentError(f"cannot start claude ({self.argv[0]}): {exc}") from None
        if self.ctx.on_process:
            self.ctx.on_process(proc.pid, True)
        self.stderr_tail.clear()
        self._stderr_task = asyncio.create_task(self._drain_stderr(proc))
        return proc

    async def _drain_stderr(self, proc: asyncio.subprocess.Process) -> None:
        assert proc.stderr is not None
        while line := await proc.stderr.readline():
            self.stderr_tail.append(line.decode(errors="replace").rstrip())

    async def _kill(self) -> None:
        proc, self.proc = self.proc, None
        if proc is None:
            return
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(proc.pid, signal.SIGKILL)
        with contextlib.suppress(ProcessLookupError):
            await proc.wait()
        if self._stderr_task is not None:
            self._stderr_task.cancel()
        if self.ctx.on_process:
            self.ctx.on_process(proc.pid, False)

    # --- turns --------------------------------------------------------------------

    async def run_turn(self, prompt: str, on_event: EventSink) -> TurnResult:
        if self._closed:
            raise AgentError(f"claude session {self.session_id} is already stopped")
        if self.proc is None or self.proc.returncode is not None:
            await self._kill()
            self.proc = await self._spawn()
        proc = self.proc
        assert proc.stdin is not None and proc.stdout is not None
        self._turn_usage = TokenUsage()
        self._seen_messages.clear()
        message = {"type": "user", "session_id": self.session_id or "",
                   "message": {"role": "user", "content": [{"type": "text", "text": prompt}]},
                   "parent_tool_use_id": None}
        exited = asyncio.ensure_future(proc.wait())
        try:
            proc.stdin.write((json.dumps(message) + "\n").encode())
            await proc.stdin.drain()
            while line := await self._next_line(proc, exited):
                try:
                    event = json.loads(line)
                except json.JSONDecodeError:
                    continue
                if isinstance(event, dict):
                    result = await self._handle(event, on_event)
                    if result is not None:
                        return result
        except asyncio.CancelledError:
            await self._kill()
            raise
        except (BrokenPipeError, ConnectionResetError):
            pass
        finally:
            if not exited.done():
                exited.cancel()
        code = await proc.wait()
        if self._stderr_task is not None:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(asyncio.shield(self._stderr_task), 1)
        await self._kill()
        tail = " | ".join(list(self.stderr_tail)[-5:])
        error = f"claude exited with code {code} before finishing the turn" + (
            f": {tail}" if tail else "")
        await on_event(AgentEvent("turn_failed", error, {"exit_code": code}))
        return TurnResult(ok=False, error=error)

    @staticmethod
    async def _next_line(proc: asyncio.subprocess.Process, exited: asyncio.Future[int]) -> bytes:
        """The next stdout line, or b"" once claude has exited and its output is drained.

        EOF alone is not enough: a child claude started (a shell, the MCP server) can hold
        the pipe open after claude itself died, and the turn would wait for the stall timer.
        """
        assert proc.stdout is not None
        reading = asyncio.ensure_future(proc.stdout.readline())
        waiting: set[asyncio.Future[Any]] = {reading, exited}
        done, _ = await asyncio.wait(waiting, return_when=asyncio.FIRST_COMPLETED)
        if reading in done:
            return reading.result()
        try:
            # claude is gone; what it wrote before dying is already in the pipe buffer.
            return await asyncio.wait_for(reading, EXIT_DRAIN_S)
        except TimeoutError:
            return b""

    async def _handle(self, event: dict[str, Any], on_event: EventSink) -> TurnResult | None:
        kind = event.get("type")
        if kind == "system" and event.get("subtype") == "init":
            await self._check_mcp(event, on_event)
            new_id = event.get("session_id")
            if new_id and new_id != self.session_id:
                first = self.session_id is None
                self.session_id = str(new_id)
                if first:
                    await on_event(AgentEvent(
                        "session_started", f"session {self.session_id}",
                        {"session_id": self.session_id, "model": event.get("model"),
                         "tools": event.get("tools"), "mcp_servers": event.get("mcp_servers")},
                    ))
        elif kind == "assistant":
            await self._count_message_usage(event.get("message") or {}, on_event)
            for block in (event.get("message") or {}).get("content") or []:
                if block.get("type") == "text" and block.get("text"):
                    await on_event(AgentEvent("message", block["text"]))
                elif block.get("type") == "tool_use":
                    arguments = block.get("input") or {}
                    self._tool_names[str(block.get("id"))] = str(block.get("name"))
                    await on_event(AgentEvent(
                        "tool_call", f"{block.get('name')} {json.dumps(arguments)[:200]}",
                        {"name": block.get("name"), "arguments": arguments,
                         "call_id": block.get("id")},
                    ))
        elif kind == "user":
            content = (event.get("message") or {}).get("content")
            for block in content if isinstance(content, list) else []:
                if isinstance(block, dict) and block.get("type") == "tool_result":
                    ok = not block.get("is_error")
                    call_id = block.get("tool_use_id")
                    name = self._tool_names.pop(str(call_id), None)
                    await on_event(AgentEvent(
                        "tool_result", f"{name or 'tool'} {'ok' if ok else 'failed'}",
                        {"name": name, "call_id": call_id, "ok": ok,
                         "output": _text_of(block.get("content"))[:EXCERPT]},
                    ))
        elif kind == "rate_limit_event":
            await on_event(AgentEvent("rate_limits", "rate limits", dict(event)))
        elif kind == "result":
            return await self._finish(event, on_event)
        return None

    async def _check_mcp(self, init: dict[str, Any], on_event: EventSink) -> None:
        """Say so when claude runs without Tack's tools: its MCP server did not start in
        time (MCP_TIMEOUT), and the agent cannot move its issue or commit."""
        for server in init.get("mcp_servers") or []:
            if (isinstance(server, dict) and server.get("name") == SERVER_NAME
                    and server.get("status") != "connected"):
                await on_event(AgentEvent(
                    "notification", f"claude runs without Tack's tools: its MCP server "
                    f"{SERVER_NAME!r} is {server.get('status')!r} (claude.env MCP_TIMEOUT "
                    "sets how long claude waits for it)", {"mcp_server": server}))

    async def _count_message_usage(self, message: dict[str, Any], on_event: EventSink) -> None:
        """Report a model response's usage once (claude repeats it for each content block)."""
        message_id = message.get("id")
        if not message_id or message_id in self._seen_messages:
            return
        self._seen_messages.add(str(message_id))
        await self._report_usage(usage_of(message.get("usage")), on_event)

    async def _report_usage(self, usage: TokenUsage, on_event: EventSink) -> None:
        if not usage.total_tokens:
            return
        self._turn_usage = self._turn_usage + usage
        await on_event(AgentEvent(
            "token_usage", f"+{usage.input_tokens} in / +{usage.output_tokens} out",
            usage.to_dict(), usage=usage,
        ))

    async def _finish(self, event: dict[str, Any], on_event: EventSink) -> TurnResult:
        usage = usage_of(event.get("usage"))
        seen = self._turn_usage
        rest_in = max(usage.input_tokens - seen.input_tokens, 0)
        rest_out = max(usage.output_tokens - seen.output_tokens, 0)
        await self._report_usage(TokenUsage(rest_in, rest_out, rest_in + rest_out), on_event)
        text = str(event.get("result") or "")
        asked, self._asked = self._asked, None
        if asked is not None:  # parked: the conversation resumes from this session
            asked.resume = {**asked.resume, "backend": "claude", "session_id": self.session_id}
        if event.get("subtype") == "success" and not event.get("is_error"):
            await on_event(AgentEvent("turn_completed", text[:EXCERPT],
                                      {"usage": usage.to_dict(), "parked": asked is not None,
                                       "num_turns": event.get("num_turns")}))
            return TurnResult(ok=True, final_message=text, usage=usage, asked=asked)
        error = text or str(event.get("subtype") or "claude reported an error")
        if event.get("api_error_status"):
            error = f"model API error {event['api_error_status']}: {error}"
        await on_event(AgentEvent("turn_failed", error[:EXCERPT],
                                  {"subtype": event.get("subtype"), "usage": usage.to_dict()}))
        return TurnResult(ok=False, error=error[:500], usage=usage)

    async def stop(self) -> None:
        if self._closed:
            return
        self._closed = True
        await self._kill()
        if self.relay is not None:
            await self.relay.close()
            self.relay = None


class ClaudeBackend:
    name = "claude"

    def __init__(self, config: ClaudeConfig | None = None) -> None:
        self.config = config or ClaudeConfig()

    async def start_session(self, ctx: SessionContext) -> ClaudeSession:
        if not ctx.workspace.is_dir():
            raise AgentError(f"workspace {ctx.workspace} does not exist; claude needs an "
                             "existing directory to work in")
        env = {**(ctx.env or environ_without()), **self.config.env}
        return ClaudeSession(self.config, ctx, resolve_command(self.config.command, env))
