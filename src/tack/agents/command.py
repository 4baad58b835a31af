"""Any CLI as a backend: `bash -lc <command.command>` in the workspace, once per turn.

The prompt arrives on stdin and in the file named by `$TACK_PROMPT_FILE`; output lines are
streamed as `notification` events; an exit code in `success_exit_codes` ends the turn well.
`timeout_ms` kills the whole process group.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import tempfile
import uuid
from collections import deque
from pathlib import Path

from tack import sandbox
from tack.agents.base import AgentEvent, EventSink, SessionContext, TurnResult
from tack.agents.tools import shell_env
from tack.errors import AgentError
from tack.workflow.config import CommandConfig

# At most this many output lines become events per turn; the rest only reach the tail.
MAX_LINE_EVENTS = 200
LINE_CHARS = 500
TAIL_LINES = 20


class CommandSession:
    def __init__(self, config: CommandConfig, ctx: SessionContext) -> None:
        assert config.command is not None
        self.command = config.command
        self.config = config
        self.ctx = ctx
        self.session_id: str | None = f"command-{uuid.uuid4().hex[:12]}"
        self.turns = 0
        self._prompt_dir = Path(tempfile.mkdtemp(prefix="tack-prompt-"))
        self._proc: asyncio.subprocess.Process | None = None

    async def run_turn(self, prompt: str, on_event: EventSink) -> TurnResult:
        self.turns += 1
        if self.turns == 1:
            await on_event(AgentEvent("session_started", f"session {self.session_id}",
                                      {"session_id": self.session_id,
                                       "command": self.command}))
        prompt_file = self._prompt_dir / f"turn-{self.turns}.md"
        prompt_file.write_text(prompt, encoding="utf-8")
        env = shell_env(self.ctx)
        env.update({"TACK_PROMPT_FILE": str(prompt_file), "TACK_TURN": str(self.turns),
                    "TACK_ISSUE_IDENTIFIER": self.ctx.issue.identifier,
                    "TACK_ISSUE_ID": self.ctx.issue.id,
                    "TACK_WORKSPACE": str(self.ctx.workspace)})
        argv = ["bash", "-lc", self.command]
        boxed = None
        if self.ctx.sandbox is not None:
            try:
                boxed = await sandbox.prepare(argv, self.ctx.sandbox, self.ctx.workspace, env,
                                              read_only=[self._prompt_dir])
            except sandbox.SandboxUnavailable as exc:
                return await self._fail(on_event, exc.message, deque())
            argv, env = boxed.argv, boxed.env
        try:
            return await self._run(argv, env, prompt, on_event, boxed)
        finally:
            if boxed is not None:
                boxed.close()

    async def _run(self, argv: list[str], env: dict[str, str], prompt: str,
                   on_event: EventSink, boxed: sandbox.SandboxedCommand | None) -> TurnResult:
        proc = await asyncio.create_subprocess_exec(
            *argv, cwd=self.ctx.workspace, env=env,
            stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.STDOUT, start_new_session=True,
        )
        self._proc = proc
        if self.ctx.on_process:
            self.ctx.on_process(proc.pid, True)
        tail: deque[str] = deque(maxlen=TAIL_LINES)
        try:
            try:
                code = await asyncio.wait_for(
                    self._pump(proc, prompt, on_event, tail), self.config.timeout_ms / 1000)
            except TimeoutError:
                self._kill(proc)
                error = f"command timed out after {self.config.timeout_ms} ms and was killed"
                return await self._fail(on_event, error, tail)
        finally:
            self._kill(proc)
            with contextlib.suppress(ProcessLookupError):
                await proc.wait()
            self._proc = None
            if self.ctx.on_process:
                self.ctx.on_process(proc.pid, False)
        why = boxed.explain(code) if boxed is not None else ""
        if why:  # the sandbox had to stop something: the turn did not do what it meant to
            return await self._fail(on_event, f"command exited with code {code} (sandbox: "
                                              f"{why})", tail)
        if code in self.config.success_exit_codes:
            final = "\n".join(tail)
            await on_event(AgentEvent("turn_completed", f"exit code {code}",
                                      {"exit_code": code}))
            return TurnResult(ok=True, final_message=final)
        return await self._fail(on_event, f"command exited with code {code}", tail)

    async def _pump(self, proc: asyncio.subprocess.Process, prompt: str,
                    on_event: EventSink, tail: deque[str]) -> int:
        assert proc.stdin is not None and proc.stdout is not None
        with contextlib.suppress(BrokenPipeError, ConnectionResetError):
            proc.stdin.write(prompt.encode())
            await proc.stdin.drain()
        proc.stdin.close()
        sent = 0
        while line := await proc.stdout.readline():
            text = line.decode(errors="replace").rstrip()[:LINE_CHARS]
            tail.append(text)
            if sent < MAX_LINE_EVENTS:
                sent += 1
                await on_event(AgentEvent("notification", text, {"stream": "output"}))
        return await proc.wait()

    async def _fail(self, on_event: EventSink, error: str, tail: deque[str]) -> TurnResult:
        output = "\n".join(tail)
        await on_event(AgentEvent("turn_failed", error, {"output_tail": output}))
        return TurnResult(ok=False, error=f"{error}: {output[-500:]}" if output else error)

    @staticmethod
    def _kill(proc: asyncio.subprocess.Process) -> None:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(proc.pid, signal.SIGKILL)

    async def stop(self) -> None:
        if self._proc is not None:
            self._kill(self._proc)
        for path in self._prompt_dir.glob("*"):
            path.unlink(missing_ok=True)
        with contextlib.suppress(OSError):
            self._prompt_dir.rmdir()


class CommandBackend:
    name = "command"

    def __init__(self, config: CommandConfig | None = None) -> None:
        self.config = config or CommandConfig()

    async def start_session(self, ctx: SessionContext) -> CommandSession:
        if not self.config.command or not self.config.command.strip():
            raise AgentError(
                "agent.backend is `command` but command.command is not set in WORKFLOW.md; "
                "add `command: {command: \"aider --message-file $TACK_PROMPT_FILE\"}` or "
                "similar.", code="invalid_agent_config")
        if not ctx.workspace.is_dir():
            raise AgentError(f"workspace {ctx.workspace} does not exist")
        return CommandSession(self.config, ctx)
