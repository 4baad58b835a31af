"""Starlette app over a running orchestrator: `/api/v1/*` JSON and the dashboard at `/`.

Binds 127.0.0.1 unless configured otherwise; a non-loopback bind requires a bearer token.
"""

from __future__ import annotations

import asyncio
import contextlib
import hmac
import socket
from collections.abc import Iterator
from datetime import UTC, datetime
from importlib import resources
from typing import TYPE_CHECKING, Any
from urllib.parse import quote, urlsplit

import uvicorn
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import (
    HTMLResponse,
    JSONResponse,
    PlainTextResponse,
    RedirectResponse,
    Response,
)
from starlette.routing import Route
from starlette.types import ASGIApp, Receive, Scope, Send

from tack.errors import TackError
from tack.eval.records import best_of_record
from tack.server.artifacts import artifact_routes, with_artifacts
from tack.server import issue_view, pages
from tack.server.events import events_endpoint, ui_events_endpoint
from tack.server.feedback import feedback_endpoint, with_feedback
from tack.server.questions import question_kinds, question_routes
from tack.server.metrics import PROMETHEUS_CONTENT_TYPE, MetricsSource, prometheus_text
from tack.store.metrics import parse_since

if TYPE_CHECKING:
    from tack.orchestrator import Orchestrator

LOOPBACK = {"127.0.0.1", "localhost", "::1"}


def _error(status: int, code: str, message: str) -> JSONResponse:
    return JSONResponse({"error": {"code": code, "message": message}}, status_code=status)


TOKEN_COOKIE = "tack_token"


def _same(given: str, expected: str) -> bool:
    return hmac.compare_digest(given.encode(), expected.encode())


def _cross_site(request: Request) -> bool:
    """A browser request sent by a page of another origin (scripts and curl send neither
    header and pass). `Sec-Fetch-Site` decides when the browser sends it: it stays right
    behind a proxy that rewrites Host; older browsers are judged by Origin against the Host
    they asked for."""
    fetch_site = request.headers.get("sec-fetch-site")
    if fetch_site is not None:
        return fetch_site not in ("same-origin", "none")
    origin = request.headers.get("origin")
    if origin is None:
        return False
    hosts = {request.headers.get("host"), request.headers.get("x-forwarded-host")}
    return urlsplit(origin).netloc not in hosts


LOOPBACK_HOSTS = {"localhost", "127.0.0.1", "[::1]", "::1"}


def _foreign_host(request: Request) -> bool:
    """On a loopback server without a token, a Host that is not a loopback name is a page that
    re-pointed its own domain at 127.0.0.1 (DNS rebinding) to read the API."""
    host = (request.headers.get("host") or "").lower()
    name = host.rsplit(":", 1)[0] if not host.endswith("]") else host
    return bool(host) and name not in LOOPBACK_HOSTS


class _BearerAuth:
    """Bearer token in `Authorization`, or the cookie set by opening `/?token=...` once.

    A plain ASGI middleware (not BaseHTTPMiddleware) so server-sent event streams pass through
    unbuffered. Browsers cannot put headers on an EventSource, hence the cookie.
    """

    def __init__(self, app: ASGIApp, token: str | None) -> None:
        self.app = app
        self.token = token

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["method"] == "POST" and _cross_site(Request(scope)):
            # Another site's page must not cancel runs or post feedback through the browser of
            # someone who has the dashboard open (loopback has no token to stop it).
            refused = _error(403, "cross_site", "a POST from another site's page is refused; "
                             "use the dashboard, or send the request without an Origin header")
            await refused(scope, receive, send)
            return
        if scope["type"] == "http" and not self.token and _foreign_host(Request(scope)):
            refused = _error(403, "foreign_host", "this server answers only to localhost, "
                             "127.0.0.1 and [::1]; to reach it by another name, set "
                             "server.token in WORKFLOW.md")
            await refused(scope, receive, send)
            return
        if scope["type"] != "http" or not self.token:
            await self.app(scope, receive, send)
            return
        request = Request(scope)
        if _same(request.headers.get("authorization", ""), f"Bearer {self.token}") or _same(
            request.cookies.get(TOKEN_COOKIE, ""), self.token
        ):
            await self.app(scope, receive, send)
            return
        response: Response
        if request.url.path == "/" and _same(request.query_params.get("token", ""), self.token):
            # Trade the token in the URL for a cookie, and drop it from the address bar.
            response = RedirectResponse("/", status_code=303)
            response.set_cookie(TOKEN_COOKIE, self.token, httponly=True, samesite="strict")
        else:
            response = _error(
                401, "unauthorized",
                "missing or wrong bearer token; send `Authorization: Bearer <token>`, or open "
                "/?token=<token> once in a browser",
            )
        await response(scope, receive, send)


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
                "requested_at": datetime.now(UTC).isoformat().replace("+00:00", "Z"),
                "operations": ["poll", "reconcile"],
            },
            status_code=202,
        )

    async def issue(request: Request) -> Response:
        identifier = request.path_params["identifier"]
        detail = with_artifacts(with_feedback(orch.issue_detail(identifier), orch.store.db),
                                orch.workflow.tack_dir)
        if detail is None:
            return _error(404, "issue_not_found", f"issue {identifier!r} is unknown to this orchestrator")
        detail["best_of"] = best_of_record(orch.workflow.tack_dir, detail["issue_identifier"])
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
        html = html.replace("<!--nav-->", str(pages.nav("/")))
        return HTMLResponse(html, headers={"Cache-Control": "no-store"})

    board_source = pages.BoardSource(orch)

    def page(html: str) -> Response:
        return HTMLResponse(orch.redactor.text(html), headers={"Cache-Control": "no-store"})

    async def board_page(request: Request) -> Response:
        await board_source.refresh()
        labels = sorted({label for i in board_source.issues for label in i.labels}, key=str.lower)
        return page(pages.board_page(orch.workflow.config.agent.backend, labels))

    async def issue_page(request: Request) -> Response:
        identifier = request.path_params["identifier"]
        return page(await issue_view.render(orch, identifier))

    async def run_page(request: Request) -> Response:
        row = orch.store.run(int(request.path_params["run_id"]))
        if row is None:
            return _error(404, "run_not_found", f"no run {request.path_params['run_id']}")
        return RedirectResponse(f"/issues/{quote(row['identifier'], safe='')}", status_code=303)

    async def lessons_page(request: Request) -> Response:
        return page(pages.lessons_page(issue_view.lessons(orch)))

    async def principles_page(request: Request) -> Response:
        from tack.principles.filing import SCAN_LABEL

        listed, error = issue_view.principles(orch)
        await board_source.refresh()
        terminal = {s.lower() for s in orch.workflow.config.tracker.terminal_states}
        findings = [i for i in board_source.issues
                    if SCAN_LABEL in i.labels and i.state.lower() not in terminal]
        return page(pages.principles_page(listed, error, findings))

    async def gc_report_page(request: Request) -> Response:
        report, error = await issue_view.gc_report(orch)
        return page(pages.gc_report_page(report, error))

    async def questions_page(request: Request) -> Response:
        from tack.questions.store import QuestionStore

        store = QuestionStore(orch.store.db)
        open_questions = [orch.redactor.data(q.public()) for q in store.where(status="open")]
        answered = [orch.redactor.data(q.public()) for q in store.where()
                    if q.answered_at is not None][:50]
        return page(pages.questions_page(open_questions, answered, question_kinds(orch)))

    async def metrics_page(request: Request) -> Response:
        return page(pages.metrics_page())

    async def plan_approve(request: Request) -> Response:
        return await issue_view.plan_decision(orch, request, approve=True)

    async def plan_reject(request: Request) -> Response:
        return await issue_view.plan_decision(orch, request, approve=False)

    # The vendored htmx files (static/VENDORED.md), the charts' script and the pages' style,
    # read once; nothing else is served from there.
    types = {".js": "text/javascript; charset=utf-8", ".css": "text/css; charset=utf-8"}
    files = {
        f.name: (f.read_bytes(), types[ext])
        for f in resources.files("tack.server").joinpath("static").iterdir()
        for ext in types if f.name.endswith(ext)
    }

    async def static(request: Request) -> Response:
        found = files.get(request.path_params["name"])
        if found is None:
            return _error(404, "not_found", f"no static file {request.path_params['name']!r}")
        return Response(found[0], media_type=found[1], headers={"Cache-Control": "max-age=3600"})

    metrics_source = MetricsSource(orch)

    async def metrics_json(request: Request) -> Response:
        since = request.query_params.get("since", "7d")
        try:
            window = parse_since(since)
        except ValueError as exc:
            return _error(400, "invalid_since", str(exc))
        metrics = await metrics_source.get(window)
        return JSONResponse(redacted({"since": since, **metrics.to_dict()}))

    async def prometheus(request: Request) -> Response:
        metrics = await metrics_source.get(None, with_git=False)
        text = prometheus_text(redacted(orch.snapshot()), metrics)
        return PlainTextResponse(orch.redactor.text(text), media_type=PROMETHEUS_CONTENT_TYPE)

    async def health(request: Request) -> Response:
        return JSONResponse({"ok": True})

    routes = [
        Route("/", dashboard, methods=["GET"]),
        Route("/healthz", health, methods=["GET"]),
        Route("/metrics", prometheus, methods=["GET"]),
        Route("/static/{name}", static, methods=["GET"]),
        Route("/board", board_page, methods=["GET"]),
        Route("/issues/{identifier}", issue_page, methods=["GET"]),
        Route("/runs/{run_id:int}", run_page, methods=["GET"]),
        Route("/lessons", lessons_page, methods=["GET"]),
        Route("/principles", principles_page, methods=["GET"]),
        Route("/gc-report", gc_report_page, methods=["GET"]),
        Route("/questions", questions_page, methods=["GET"]),
        Route("/metrics-page", metrics_page, methods=["GET"]),
        Route("/ui/events", ui_events_endpoint(orch, redacted, board_source), methods=["GET"]),
        Route("/api/v1/state", state, methods=["GET"]),
        Route("/api/v1/events", events_endpoint(orch, redacted), methods=["GET"]),
        Route("/api/v1/metrics", metrics_json, methods=["GET"]),
        Route("/api/v1/refresh", refresh, methods=["POST"]),
        Route("/api/v1/runs/{run_id}/feedback", feedback_endpoint(orch), methods=["POST"]),
        *artifact_routes(orch),
        *question_routes(orch),
        Route("/api/v1/{identifier}/cancel", cancel, methods=["POST"]),
        Route("/api/v1/{identifier}/retry", retry, methods=["POST"]),
        Route("/api/v1/{identifier}/plan/approve", plan_approve, methods=["POST"]),
        Route("/api/v1/{identifier}/plan/reject", plan_reject, methods=["POST"]),
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
