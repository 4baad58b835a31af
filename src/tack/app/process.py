"""The app under construction as a child process: its own process group, its output kept
(the last lines in memory for errors, everything in `app.log`), and a readiness wait."""

from __future__ import annotations

import asyncio
import collections
import re
import time
import urllib.error
import urllib.request
from pathlib import Path

from tack.app.home import AppError
from tack.app.procs import kill_group


def url_answers(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=2) as response:
            return int(response.status) < 500
    except urllib.error.HTTPError as exc:
        return exc.code < 500
    except (OSError, ValueError):
        return False


class AppProcess:
    def __init__(self, command: str, cwd: Path, env: dict[str, str], log_path: Path) -> None:
        self.command = command
        self.cwd = cwd
        self.env = env
        self.log_path = log_path
        self.lines: collections.deque[str] = collections.deque(maxlen=500)
        self.proc: asyncio.subprocess.Process | None = None
        self._reader: asyncio.Task[None] | None = None

    @property
    def running(self) -> bool:
        return self.proc is not None and self.proc.returncode is None

    async def start(self) -> int:
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        self.proc = await asyncio.create_subprocess_shell(
            self.command, cwd=self.cwd, env=self.env, stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT,
            start_new_session=True)
        self._reader = asyncio.create_task(self._read())
        return self.proc.pid

    async def _read(self) -> None:
        assert self.proc is not None and self.proc.stdout is not None
        with self.log_path.open("a", encoding="utf-8") as log:
            async for raw in self.proc.stdout:
                line = raw.decode(errors="replace").rstrip("\n")
                self.lines.append(line)
                log.write(line + "\n")
                log.flush()

    def tail(self, count: int = 20) -> list[str]:
        return list(self.lines)[-count:]

    async def wait_ready(self, ready: str, timeout_ms: int) -> None:
        """Poll `ready` (a URL, or `log:REGEX` over the output) until it holds or time is up."""
        pattern = re.compile(ready[4:]) if ready.startswith("log:") else None
        deadline = time.monotonic() + timeout_ms / 1000
        while time.monotonic() < deadline:
            if not self.running:
                await asyncio.sleep(0.05)  # let the reader drain the last output
                raise AppError(self._failure(f"the app exited with code "
                                             f"{self.proc.returncode if self.proc else '?'} "
                                             "before it was ready"))
            if pattern is not None:
                if any(pattern.search(line) for line in self.lines):
                    return
            elif await asyncio.to_thread(url_answers, ready):
                return
            await asyncio.sleep(0.1)
        raise AppError(self._failure(f"the app was not ready after {timeout_ms} ms (waited for "
                                     f"{ready})"))

    def _failure(self, what: str) -> str:
        tail = "\n".join(f"  | {line}" for line in self.tail(20)) or "  | (no output)"
        return (f"`app.start` ({self.command}) failed: {what}. Check the command and "
                f"`app.ready` in WORKFLOW.md; the last lines of its output:\n{tail}")

    async def stop(self) -> None:
        if self.proc is not None:
            # The shell may be gone while its children (the dev server) live on in its group.
            await asyncio.to_thread(kill_group, self.proc.pid)
            try:
                await asyncio.wait_for(self.proc.wait(), 5)
            except (TimeoutError, ProcessLookupError):
                pass
        if self._reader is not None:
            self._reader.cancel()
            await asyncio.gather(self._reader, return_exceptions=True)
