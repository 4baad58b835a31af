"""The per-workspace app daemon: an asyncio server on a Unix socket, one JSON line per
request and per answer, holding the app process and one browser between CLI calls.

Run as `python -m tack.app.daemon WORKSPACE`. It exits on `stop`, on SIGTERM, and when the
run that owns it ($TACK_APP_OWNER_PID) is gone, ending the app and browser first.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import sys
import time
from pathlib import Path
from typing import Any

import structlog
from playwright.async_api import Error as PlaywrightError

from tack.app.door import serve as serve_door
from tack.app.home import OWNER_ENV, AppError, AppHome
from tack.app.procs import record, start_time
from tack.app.session import AppSession, Result, describe_playwright

log = structlog.get_logger("tack.app.daemon")
IDLE_ENV = "TACK_APP_IDLE_S"
DEFAULT_IDLE_S = 3600.0


async def dispatch(session: AppSession, cmd: str, args: dict[str, Any]) -> Result:
    if cmd == "ping":
        return "pong", {"pid": os.getpid()}
    if cmd == "start":
        return await session.start()
    if cmd == "status":
        return await session.status()
    if cmd == "logs":
        return await session.logs(int(args.get("lines", 50)))
    if cmd == "open":
        return await session.open(args.get("url"))
    if cmd == "snapshot":
        return await session.snapshot(args.get("scope"), bool(args.get("full")))
    if cmd in ("click", "fill", "select", "hover"):
        return await session.act(cmd, str(args["target"]), args.get("value"))
    if cmd == "press":
        return await session.press(str(args["key"]))
    if cmd == "wait":
        return await session.wait(args.get("text"), args.get("url"), args.get("gone"),
                                  int(args.get("timeout_ms", 10_000)))
    if cmd == "screenshot":
        return await session.screenshot(args.get("path"), args.get("ref"))
    if cmd == "console":
        return await session.console(bool(args.get("errors")))
    if cmd == "network":
        return await session.network(bool(args.get("failed")))
    if cmd == "eval":
        return await session.eval(str(args["script"]))
    if cmd == "record":
        return await session.record(str(args["action"]))
    raise AppError(f"unknown app command {cmd!r}")


class Daemon:
    def __init__(self, home: AppHome) -> None:
        self.home = home
        self.session = AppSession(home, home.read_config())
        self.done = asyncio.Event()
        self.lock = asyncio.Lock()  # one page: commands run one at a time
        self.last_used = time.monotonic()

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            line = await reader.readline()
            reply = await self.answer(json.loads(line or b"{}"))
            writer.write(json.dumps(reply, default=str).encode() + b"\n")
            await writer.drain()
        except (ConnectionError, ValueError):
            pass
        finally:
            writer.close()

    async def answer(self, request: dict[str, Any]) -> dict[str, Any]:
        """One request, from the socket or the door."""
        cmd = str(request.get("cmd", ""))
        if cmd != "ping":  # a liveness check is not use
            self.last_used = time.monotonic()
        if cmd == "ping":  # answered at once, even while a command holds the page
            return {"ok": True, "text": "pong", "data": {"pid": os.getpid()}}
        if cmd == "stop":
            async with self.lock:  # the app and browser are gone when the caller hears back
                await self.session.close()
            self.done.set()
            return {"ok": True, "text": "app session stopped", "data": {}}
        async with self.lock:
            return await self._run(cmd, dict(request.get("args") or {}))

    async def _run(self, cmd: str, args: dict[str, Any]) -> dict[str, Any]:
        for attempt in (1, 2):
            try:
                text, data = await dispatch(self.session, cmd, args)
                return {"ok": True, "text": text, "data": data}
            except AppError as exc:
                return {"ok": False, "error": exc.message}
            except PlaywrightError as exc:
                crashed = self.session.browser is not None and \
                    not self.session.browser.connected()
                if crashed and attempt == 1:
                    continue  # `page()` restarts the browser once, then the command reruns
                return {"ok": False, "error": describe_playwright(exc, cmd)}
            except (KeyError, TypeError, ValueError) as exc:
                return {"ok": False, "error": f"bad request for `{cmd}`: {exc}"}
            except Exception as exc:
                log.exception("app command failed", cmd=cmd)
                return {"ok": False, "error": f"`tack app {cmd}` failed: {exc!r}; see "
                                              f"{self.home.daemon_log()}"}
        return {"ok": False, "error": f"`tack app {cmd}` failed twice"}

    async def watch(self, owner: int | None, idle_s: float) -> None:
        """End with the owning run; a daemon nobody owns (started from a person's shell) ends
        after `idle_s` without a command."""
        born = start_time(owner) if owner else None
        while not self.done.is_set():
            if owner and start_time(owner) != born:
                self.done.set()
                return
            if not owner and time.monotonic() - self.last_used > idle_s:
                log.info("app daemon idle; stopping", idle_s=idle_s)
                self.done.set()
                return
            await asyncio.sleep(1)

    async def serve(self) -> None:
        sock = self.home.socket
        sock.parent.mkdir(parents=True, exist_ok=True)
        sock.unlink(missing_ok=True)
        server = await asyncio.start_unix_server(self.handle, path=str(sock))
        os.chmod(sock, 0o600)
        door = await serve_door(self.home, self.answer)
        record(self.home, "daemon", os.getpid())
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, self.done.set)
        owner = os.environ.get(OWNER_ENV, "")
        watcher = asyncio.create_task(self.watch(
            int(owner) if owner.isdigit() else None,
            float(os.environ.get(IDLE_ENV) or DEFAULT_IDLE_S)))
        try:
            await self.done.wait()
        finally:
            server.close()
            door.cancel()
            await self.session.close()
            sock.unlink(missing_ok=True)
            record(self.home, "daemon", None)
            watcher.cancel()


def main(argv: list[str] | None = None) -> None:
    args = argv if argv is not None else sys.argv[1:]
    home = AppHome(Path(args[0]))
    home.ensure()
    asyncio.run(Daemon(home).serve())


if __name__ == "__main__":
    main()
