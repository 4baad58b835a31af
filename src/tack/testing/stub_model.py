"""A real HTTP server that replays a script as an OpenAI-compatible model.

It answers `POST /v1/chat/completions` and `POST /v1/responses` (SSE streaming or plain
JSON) and `GET /v1/models`, and records every request it receives, so tests and `tack demo`
can run real clients against it offline.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import socket
import threading
import time
from collections.abc import AsyncIterator, Callable, Generator, Iterator
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import uvicorn
from starlette.applications import Starlette
from starlette.requests import ClientDisconnect, Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route

from tack.errors import TackError
from tack.testing import anthropic_wire
from tack.testing import openai_wire as wire
from tack.testing.script import Script, Selection, Step, load_script, pick_step

_SECRET_HEADERS = {"authorization", "x-api-key", "api-key", "openai-api-key"}
_START_TIMEOUT_S = 10.0


@dataclass
class RecordedRequest:
    method: str
    path: str
    headers: dict[str, str]
    body: Any
    at: float
    # Which scripted conversation and step answered it (None when none did).
    conversation: str | None = None
    step: int | None = None


def _redact(headers: dict[str, str]) -> dict[str, str]:
    out = {}
    for key, value in headers.items():
        if key.lower() == "authorization":
            out[key] = "Bearer ***" if value.lower().startswith("bearer") else "***"
        elif key.lower() in _SECRET_HEADERS:
            out[key] = "***"
        else:
            out[key] = value
    return out


class _NoSignalServer(uvicorn.Server):
    """Library use must not take over the host process's SIGINT/SIGTERM handlers."""

    @contextlib.contextmanager
    def capture_signals(self) -> Generator[None, None, None]:
        yield


class _NoMatch(Exception):
    pass


class StubModelServer:
    """Serve `script` on host:port (0 = an ephemeral port) until stopped."""

    def __init__(
        self,
        script: Script | dict[str, Any] | str | Path,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        record_path: Path | None = None,
    ) -> None:
        self.script = load_script(script)
        self.host = host
        self.port = port
        self.record_path = Path(record_path) if record_path else None
        self.requests: list[RecordedRequest] = []
        self.app = Starlette(routes=self._routes())
        self._lock = threading.Lock()
        # Full item history (input + output) of every Responses answer, for previous_response_id.
        self._responses: dict[str, list[dict[str, Any]]] = {}
        self._ordered_next = 0
        self._server: uvicorn.Server | None = None
        self._task: asyncio.Task[None] | None = None
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None
        self._thread_loop: asyncio.AbstractEventLoop | None = None

    @property
    def url(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}/v1"

    # --- lifecycle ------------------------------------------------------------------

    async def start(self, *, handle_signals: bool = False) -> None:
        """Listen and serve in the running event loop; returns once accepting connections."""
        if self._task is not None:
            raise TackError("the stub model server is already running")
        family = socket.AF_INET6 if ":" in self.host else socket.AF_INET
        try:
            sock = socket.create_server((self.host, self.port), family=family)
        except OSError as exc:
            raise TackError(
                f"stub model server cannot listen on {self.host}:{self.port} "
                f"({exc.strerror or exc}); choose another --port or 0 for any free port."
            ) from None
        self.port = sock.getsockname()[1]
        config = uvicorn.Config(
            self.app, log_level="warning", lifespan="off", access_log=False,
            timeout_graceful_shutdown=1,
        )
        server_class = uvicorn.Server if handle_signals else _NoSignalServer
        self._server = server_class(config)
        self._stopping.clear()
        self._task = asyncio.create_task(self._server.serve(sockets=[sock]))
        deadline = time.monotonic() + _START_TIMEOUT_S
        while not self._server.started:
            if self._task.done():
                self._task.result()
                raise TackError("the stub model server stopped while starting")
            if time.monotonic() > deadline:
                raise TackError("the stub model server did not start within 10 s")
            await asyncio.sleep(0.01)

    async def wait_closed(self) -> None:
        """Serve until the server stops (the CLI waits here until Ctrl-C)."""
        if self._task is not None:
            await self._task

    async def stop(self) -> None:
        if self._server is None or self._task is None:
            return
        self._stopping.set()
        self._server.should_exit = True
        with contextlib.suppress(asyncio.CancelledError):
            await self._task
        self._server = None
        self._task = None

    def start_in_thread(self) -> None:
        """Run the server on its own event loop in a daemon thread."""
        ready = threading.Event()
        failure: list[BaseException] = []

        def run() -> None:
            loop = asyncio.new_event_loop()
            self._thread_loop = loop
            try:
                loop.run_until_complete(self.start())
            except BaseException as exc:  # handed to the caller's thread
                failure.append(exc)
                ready.set()
                loop.close()
                return
            ready.set()
            try:
                loop.run_until_complete(self.wait_closed())
            finally:
                loop.close()

        self._thread = threading.Thread(target=run, name="tack-stub-model", daemon=True)
        self._thread.start()
        if not ready.wait(_START_TIMEOUT_S + 5):
            raise TackError("the stub model server thread did not start")
        if failure:
            self._thread = None
            raise failure[0]

    def stop_thread(self) -> None:
        if self._thread is None or self._thread_loop is None:
            return
        future = asyncio.run_coroutine_threadsafe(self.stop(), self._thread_loop)
        future.result(timeout=15)
        self._thread.join(timeout=15)
        self._thread = None
        self._thread_loop = None

    async def __aenter__(self) -> StubModelServer:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    def __enter__(self) -> StubModelServer:
        self.start_in_thread()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop_thread()

    # --- HTTP -----------------------------------------------------------------------

    def _routes(self) -> list[Route]:
        routes = []
        for prefix in ("/v1", ""):
            routes += [
                Route(f"{prefix}/chat/completions", self._chat, methods=["POST"]),
                Route(f"{prefix}/responses", self._responses_api, methods=["POST"]),
                Route(f"{prefix}/models", self._models, methods=["GET"]),
                Route(f"{prefix}/messages", self._anthropic_messages, methods=["POST"]),
                Route(f"{prefix}/messages/count_tokens", self._anthropic_count_tokens,
                      methods=["POST"]),
            ]
        return routes

    async def _models(self, request: Request) -> Response:
        self._record(request, None)
        return JSONResponse(
            {"object": "list",
             "data": [{"id": "stub", "object": "model", "created": 0, "owned_by": "tack"}]}
        )

    async def _read_body(self, request: Request) -> dict[str, Any] | Response:
        try:
            body = await request.json()
        except ClientDisconnect:
            # The client gave up mid-request (its run was canceled): nobody to answer.
            return Response(status_code=499)
        except (json.JSONDecodeError, UnicodeDecodeError):
            self._record(request, None)
            return JSONResponse(wire.error_body("request body is not valid JSON", 400), 400)
        if not isinstance(body, dict):
            self._record(request, body)
            return JSONResponse(wire.error_body("request body must be a JSON object", 400), 400)
        return body

    async def _chat(self, request: Request) -> Response:
        body = await self._read_body(request)
        if isinstance(body, Response):
            return body
        messages = [m for m in body.get("messages") or [] if isinstance(m, dict)]
        step = await self._scripted_step(
            request, body, wire.chat_first_user(messages), wire.chat_step_index(messages)
        )
        if isinstance(step, Response):
            return step
        reply = wire.Reply.from_step(
            step, model=str(body.get("model", "stub")),
            request_chars=len(json.dumps(messages)),
        )
        if body.get("stream"):
            options = body.get("stream_options") or {}
            chunks = wire.chat_stream(reply, include_usage=bool(options.get("include_usage")))
            return _sse(chunks)
        return JSONResponse(wire.chat_completion(reply))

    async def _responses_api(self, request: Request) -> Response:
        body = await self._read_body(request)
        if isinstance(body, Response):
            return body
        previous = body.get("previous_response_id")
        with self._lock:
            prior = list(self._responses.get(previous, [])) if previous else []
        if previous and not prior:
            self._record(request, body)
            message = f"Previous response with id '{previous}' not found."
            return JSONResponse(wire.error_body(message, 400), 400)
        items = prior + wire.responses_input_items(body)
        step = await self._scripted_step(
            request, body, wire.responses_first_user(items), wire.responses_step_index(items)
        )
        if isinstance(step, Response):
            return step
        reply = wire.Reply.from_step(
            step, model=str(body.get("model", "stub")),
            request_chars=len(json.dumps(items)) + len(str(body.get("instructions") or "")),
        )
        shape = wire.ResponseShape(reply, body)
        with self._lock:
            self._responses[shape.id] = items + shape.output()
        if body.get("stream"):
            return _sse(wire.responses_stream(shape))
        return JSONResponse(shape.response(done=True))

    async def _anthropic_messages(self, request: Request) -> Response:
        """Anthropic Messages API, as the claude CLI calls it."""
        body = await self._read_body(request)
        if isinstance(body, Response):
            return body
        model = str(body.get("model", "stub"))
        if anthropic_wire.is_side_request(body):
            # Titles and summaries must not consume script steps.
            self._record(request, body)
            step = Step(text=anthropic_wire.SIDE_REQUEST_TEXT)
        else:
            messages = [m for m in body.get("messages") or [] if isinstance(m, dict)]
            scripted = await self._scripted_step(
                request, body, anthropic_wire.first_user(messages),
                anthropic_wire.step_index(messages), error_body=anthropic_wire.error_body,
            )
            if isinstance(scripted, Response):
                return scripted
            step = scripted
        reply = wire.Reply.from_step(step, model=model,
                                     request_chars=len(json.dumps(body.get("messages"))))
        if body.get("stream"):
            return _sse(anthropic_wire.message_stream(reply))
        return JSONResponse(anthropic_wire.message(reply))

    async def _anthropic_count_tokens(self, request: Request) -> Response:
        body = await self._read_body(request)
        if isinstance(body, Response):
            return body
        self._record(request, body)
        return JSONResponse(anthropic_wire.count_tokens(body))

    # --- replay ---------------------------------------------------------------------

    async def _scripted_step(
        self,
        request: Request,
        body: dict[str, Any],
        first_user: str,
        index: int,
        *,
        error_body: Callable[[str, int], dict[str, Any]] = wire.error_body,
    ) -> Step | Response:
        """The scripted step for this request, recorded, after its delay; a Response (in the
        API's error shape) is the whole answer: no matching step, a hang, a scripted error."""
        try:
            chosen = self._select(first_user, index)
        except _NoMatch as exc:
            self._record(request, body)
            return JSONResponse(error_body(str(exc), 400), 400)
        self._record(request, body, chosen)
        step = chosen.step
        if step.expect is not None and step.expect not in json.dumps(body, ensure_ascii=False):
            return JSONResponse(error_body(
                f"stub expectation failed: the request does not contain {step.expect!r}", 400),
                400)
        if step.delay_ms:
            await self._wait(request, step.delay_ms / 1000)
        if step.hang:
            await self._wait(request, None)
            return Response(status_code=499)
        if step.error is not None:
            return JSONResponse(error_body(step.error.message, step.error.status),
                                step.error.status)
        return step

    def _select(self, first_user: str, index: int) -> Selection:
        script = self.script
        if script.mode == "ordered":
            with self._lock:
                position = self._ordered_next
                self._ordered_next += 1
            return pick_step(script.steps, position, "<ordered>")
        conversation = script.conversation_for(first_user)
        if conversation is None:
            excerpt = first_user[:200] + ("..." if len(first_user) > 200 else "")
            patterns = [c.label for c in script.conversations]
            raise _NoMatch(
                f"no conversation of stub script {script.source} matches the first user "
                f"message {excerpt!r}; patterns: {patterns}"
            )
        return pick_step(conversation.steps, index, conversation.label)

    async def _wait(self, request: Request, seconds: float | None) -> None:
        """Sleep, returning early when the client goes away or the server stops."""
        deadline = None if seconds is None else time.monotonic() + seconds
        while not self._stopping.is_set():
            if deadline is not None and time.monotonic() >= deadline:
                return
            if await request.is_disconnected():
                return
            remaining = 0.02 if deadline is None else deadline - time.monotonic()
            await asyncio.sleep(max(0.0, min(0.02, remaining)))

    def _record(
        self, request: Request, body: Any, chosen: Selection | None = None
    ) -> RecordedRequest:
        recorded = RecordedRequest(
            method=request.method,
            path=request.url.path,
            headers=_redact(dict(request.headers)),
            body=body,
            at=time.time(),
            conversation=chosen.conversation if chosen else None,
            step=chosen.index if chosen else None,
        )
        with self._lock:
            self.requests.append(recorded)
            if self.record_path is not None:
                with self.record_path.open("a", encoding="utf-8") as fh:
                    fh.write(json.dumps(asdict(recorded)) + "\n")
        return recorded


def _sse(chunks: Iterator[bytes]) -> StreamingResponse:
    async def stream() -> AsyncIterator[bytes]:
        for chunk in chunks:
            yield chunk

    return StreamingResponse(
        stream(), media_type="text/event-stream",
        headers={"cache-control": "no-cache", "x-accel-buffering": "no"},
    )


def serve_forever(
    script: str | Path, *, host: str, port: int, record_path: Path | None,
    on_ready: Callable[[StubModelServer], None],
) -> None:
    """Run the server in this thread until Ctrl-C (SIGINT) or SIGTERM."""

    async def main() -> None:
        server = StubModelServer(script, host=host, port=port, record_path=record_path)
        await server.start(handle_signals=True)
        on_ready(server)
        await server.wait_closed()

    asyncio.run(main())
