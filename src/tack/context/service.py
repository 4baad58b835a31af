"""`tack context serve`: the long-lived sidecar. It syncs on a schedule and whenever a client
POSTs `/sync` (Tack does after a hand-off push or a merged PR), and serves the MCP tools over
streamable HTTP at `/mcp`, on 127.0.0.1 only."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import socket
import threading
import time
from pathlib import Path
from typing import Any, Callable, TypeVar

import httpx
import structlog
import uvicorn
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from tack.context.home import ContextHome
from tack.context.manifest import load_manifest
from tack.context.mcp_server import build_server
from tack.context.sync import sync

log = structlog.get_logger("tack.context")
HOST = "127.0.0.1"
T = TypeVar("T")
# How long a stopping sidecar lets an in-flight sync finish before it exits without it.
STOP_WAIT_S = 5.0


def _in_daemon_thread(fn: Callable[[], T]) -> asyncio.Future[T]:
    """Run `fn` in a daemon thread. Unlike `asyncio.to_thread`, a sync still fetching when
    SIGTERM arrives cannot hold the process open: `asyncio.run` and the interpreter wait for
    the default executor's threads, and a slow fetch kept a stopped sidecar alive."""
    loop = asyncio.get_running_loop()
    future: asyncio.Future[T] = loop.create_future()

    def settle(result: T | None, exc: BaseException | None) -> None:
        if future.done():
            return
        if exc is not None:
            future.set_exception(exc)
        else:
            future.set_result(result)  # type: ignore[arg-type]

    def run() -> None:
        try:
            value, error = fn(), None
        except BaseException as exc:  # noqa: BLE001 - handed to the awaiting task
            value, error = None, exc
        try:
            loop.call_soon_threadsafe(settle, value, error)
        except RuntimeError:
            pass  # the loop is closed: the sidecar stopped without this result

    threading.Thread(target=run, name="context-sync", daemon=True).start()
    return future


class Sidecar:
    def __init__(self, home: ContextHome, manifest: Path, interval_s: float) -> None:
        self.home = home
        self.manifest_path = manifest
        self.interval_s = interval_s
        self.wake = asyncio.Event()
        self.pending: set[str] = set()
        self.cycles = 0
        self.last: dict[str, Any] = {}

    async def run_cycles(self) -> None:
        index = self.home.open_index()
        inflight: asyncio.Future[Any] | None = None
        try:
            while True:
                only = set(self.pending) or None
                self.pending.clear()
                self.wake.clear()
                started = time.monotonic()
                try:
                    manifest = load_manifest(self.manifest_path)  # edits apply next cycle
                    inflight = _in_daemon_thread(
                        lambda: sync(self.home.path, manifest, index, only))
                    report = await asyncio.shield(inflight)
                    self.last = {"errors": report.errors, "seconds":
                                 round(time.monotonic() - started, 3),
                                 "indexed": {k: vars(v) for k, v in report.indexed.items()}}
                except Exception as exc:  # noqa: BLE001 - keep serving the last good index
                    log.warning("context sync cycle failed", error=str(exc))
                    self.last = {"errors": {"*": str(exc)}}
                self.cycles += 1
                if self.pending:
                    continue
                try:
                    await asyncio.wait_for(self.wake.wait(), self.interval_s)
                except TimeoutError:
                    pass
        finally:
            if inflight is not None and not inflight.done():
                # Let the sync finish before its index closes; past the bound, exit without it
                # (its thread is a daemon; the index commits atomically).
                await asyncio.wait([inflight], timeout=STOP_WAIT_S)
            if inflight is None or inflight.done():
                index.close()

    async def sync_endpoint(self, request: Request) -> JSONResponse:
        body: Any = {}
        if await request.body():
            body = await request.json()
        repos = [str(r) for r in (body.get("repos") or [])] if isinstance(body, dict) else []
        self.pending.update(repos)
        if not repos:  # everything
            self.pending.update(r.name for r in load_manifest(self.manifest_path).repos)
        self.wake.set()
        return JSONResponse({"queued": sorted(self.pending), "cycle": self.cycles}, 202)

    async def status_endpoint(self, request: Request) -> JSONResponse:
        return JSONResponse({"cycles": self.cycles, "last": self.last, "pid": os.getpid()})


async def serve(home: ContextHome, manifest: Path, *, interval_s: float = 300.0,
                port: int = 0) -> None:
    """Run the sidecar until cancelled."""
    load_manifest(manifest)  # a broken manifest stops here with a clear error
    home.configure(manifest, interval_s)
    sidecar = Sidecar(home, manifest, interval_s)
    mcp = build_server(home)
    app = mcp.streamable_http_app()
    app.router.routes.append(Route("/sync", sidecar.sync_endpoint, methods=["POST"]))
    app.router.routes.append(Route("/status", sidecar.status_endpoint, methods=["GET"]))
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((HOST, port))
    bound = sock.getsockname()[1]
    # An MCP client may hold a streaming GET open: without a bound on the graceful shutdown,
    # uvicorn waits for it forever and SIGTERM never ends the sidecar.
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", lifespan="on",
                                           timeout_graceful_shutdown=2))
    url = f"http://{HOST}:{bound}"
    home.service_file.write_text(json.dumps({"pid": os.getpid(), "url": url,
                                             "mcp_url": f"{url}/mcp", "port": bound}))
    cycles = asyncio.create_task(sidecar.run_cycles())
    # uvicorn re-raises SIGTERM after its shutdown; as KeyboardInterrupt it still lets the
    # `finally` below remove service.json, so clients never see a dead service as alive.
    signal.signal(signal.SIGTERM, _interrupt)
    try:
        await server.serve(sockets=[sock])
    finally:
        cycles.cancel()
        await asyncio.gather(cycles, return_exceptions=True)
        home.service_file.unlink(missing_ok=True)


def _interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt


def notify(home: ContextHome, repos: list[str] | None = None) -> bool:
    """Ask a running sidecar to fetch now (after a push or merge). False when none runs."""
    info = home.service()
    if info is None:
        return False
    try:
        httpx.post(f"{info['url']}/sync", json={"repos": repos or []}, timeout=5)
    except httpx.HTTPError:
        return False
    return True
