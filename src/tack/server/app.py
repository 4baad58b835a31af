"""Starlette app over a running orchestrator: `/api/v1/*` JSON and the dashboard at `/`.

Binds 127.0.0.1 unless configured otherwise; a non-loopback bind requires a bearer token.
"""

from __future__ import annotations

import asyncio
import contextlib
import hmac
import socket
from datetime import datetime, timezone
from importlib import resources
from typing import TYPE_CHECKING, Any, Iterator

import uvicorn
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.middleware.base import BaseHTTPMiddleware, RequestResponseEndpoint
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, Response
from starlette.routing import Route

from tack.errors import TackError

if TYPE_CHECKING:
    from tack.orchestrator import Orchestrator

LOOPBACK = {"127.0.0.1", "localhost", "::1"}


def _error(status: int, code: str, message: str) -> JSONResponse:
    return JSONResponse({"error": {"code": code, "message": message}}, status_code=status)


class _BearerAuth(BaseHTTPMiddleware):
    def __init__(self, app: Any, token: str | None) -> None:
        super().__init__(app)
        self.token = token

    async def dispatch(self, request: Request, call_next: RequestResponseEndpoint) -> Response:
        if self.token:
            given = request.headers.get("authorization", "")
            if not hmac.compare_digest(given, f"Bearer {self.token}"):
                return _error(401, "unauthorized", "missing or wrong bearer token")
        return await call_next(request)


def create_app(orch: Orchestrator, *, token: str | None = None) -> Starlette:
    def redacted(payload: Any) -> Any:
        return orch.redactor.data(payload)

    async def state(request: Request) -> Response:
        return JSONResponse(redacted(orch.snapshot()))

    async def refresh(request: Request) -> Response:
        coalesced = orch.request_refresh()
        return JSONResponse(
            {
                "queued": True,
                "coalesced": coalesced,
                "requested_at": datetime.now(timezone.utc).isoformat().replace("+00:00", "Z"),
                "operations": ["poll", "reconcile"],
            },
            status_code=202,
        )

    async def issue(request: Request) -> Response:
        identifier = request.path_params["identifier"]
        detail = orch.issue_detail(identifier)
        if detail is None:
            return _error(404, "issue_not_found", f"issue {identifier!r} is unknown to this orchestrator")
        return JSONResponse(redacted(detail))

    async def cancel(request: Request) -> Response:
        identifier = request.path_params["identifier"]
        if orch.cancel_run(identifier):
            return JSONResponse({"canceled": True, "issue_identifier": identifier}, status_code=202)
        return _error(404, "not_running", f"issue {identifier!r} has no running agent")

    async def retry(request: Request) -> Response:
        identifier = request.path_params["identifier"]
        if orch.retry_now(identifier):
            return JSONResponse({"retry_now": True, "issue_identifier": identifier}, status_code=202)
        orch.request_refresh()
        return JSONResponse({"retry_now": False, "refresh": True}, status_code=202)

    async def dashboard(request: Request) -> Response:
        html = resources.files("tack.server").joinpath("dashboard.html").read_text()
        return HTMLResponse(html)

    async def health(request: Request) -> Response:
        return JSONResponse({"ok": True})

    routes = [
        Route("/", dashboard, methods=["GET"]),
        Route("/healthz", health, methods=["GET"]),
        Route("/api/v1/state", state, methods=["GET"]),
        Route("/api/v1/refresh", refresh, methods=["POST"]),
        Route("/api/v1/{identifier}/cancel", cancel, methods=["POST"]),
        Route("/api/v1/{identifier}/retry", retry, methods=["POST"]),
        Route("/api/v1/{identifier}", issue, methods=["GET"]),
    ]
    return Starlette(routes=routes, middleware=[Middleware(_BearerAuth, token=token)])


class _Server(uvicorn.Server):
    """uvicorn without its own signal handling: the orchestrator owns SIGINT/SIGTERM."""

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield


async def serve(
    orch: Orchestrator, *, host: str, port: int, token: str | None, started: asyncio.Future[int]
) -> None:
    """Serve until cancelled; resolves `started` with the bound port (port 0 = ephemeral)."""
    if host not in LOOPBACK and not token:
        raise TackError(
            f"server.host is {host!r}, which is reachable from other machines, but no "
            f"server.token is set. Set `server.token: $TACK_SERVER_TOKEN` in WORKFLOW.md or bind "
            f"127.0.0.1."
        )
    sock = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except (OSError, OverflowError) as exc:
        sock.close()
        raise TackError(
            f"Cannot listen on {host}:{port}: {getattr(exc, 'strerror', None) or exc}. Pick another port with "
            f"`tack up --port N` or server.port in WORKFLOW.md (0 picks a free one)."
        ) from exc
    config = uvicorn.Config(
        create_app(orch, token=token), log_level="warning", access_log=False, lifespan="off"
    )
    server = _Server(config)
    started.set_result(sock.getsockname()[1])
    try:
        await server.serve(sockets=[sock])
    finally:
        sock.close()
