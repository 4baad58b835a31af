"""`GET /api/v1/events`: a server-sent event stream of redacted state snapshots; and
`GET /ui/events`, the dashboard's stream of the same state as named HTML fragments.

A snapshot is pushed as soon as the orchestrator reports a change (bursts coalesced) and at
least every second; with `?issue=ID` the issue's detail (timeline) follows whenever it changes.
The UI stream sends a fragment only when its HTML differs from the last one on that connection.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
import re
from collections.abc import AsyncGenerator, AsyncIterator, Callable
from typing import TYPE_CHECKING, Any

from starlette.requests import Request
from starlette.responses import Response, StreamingResponse

from tack.server import fragments
from tack.server.feedback import with_feedback

if TYPE_CHECKING:
    from tack.orchestrator import Orchestrator

HEARTBEAT_SECONDS = 1.0
COALESCE_SECONDS = 0.05
# Rendering every panel costs ~20 ms at 200 running sessions, paid per open page on the
# orchestrator's loop: the HTML stream batches changes over a quarter second instead.
UI_COALESCE_SECONDS = 0.25


def sse(event: str, payload: Any) -> str:
    data = json.dumps(payload, separators=(",", ":"), default=str)
    return f"event: {event}\ndata: {data}\n\n"


async def _changes(orch: Orchestrator, coalesce_s: float) -> AsyncGenerator[None, None]:
    """Yields at once, then after each change the orchestrator reports (a burst coalesced over
    `coalesce_s`) and at least every HEARTBEAT_SECONDS. Use with `contextlib.aclosing`, so a
    client that disconnects unregisters the listener at once."""
    changed = asyncio.Event()
    orch.listeners.append(changed.set)
    try:
        while True:
            changed.clear()
            yield
            try:
                await asyncio.wait_for(changed.wait(), HEARTBEAT_SECONDS)
                await asyncio.sleep(coalesce_s)
            except TimeoutError:
                pass
    finally:
        orch.listeners.remove(changed.set)


async def state_stream(
    orch: Orchestrator, redact: Callable[[Any], Any], issue: str | None
) -> AsyncIterator[str]:
    yield "retry: 1000\n\n"
    last_detail: str | None = None
    async with contextlib.aclosing(_changes(orch, COALESCE_SECONDS)) as changes:
        async for _ in changes:
            yield sse("state", redact(orch.snapshot()))
            if issue:
                detail = redact(with_feedback(orch.issue_detail(issue), orch.store.db))
                encoded = json.dumps(detail, default=str, sort_keys=True)
                if encoded != last_detail:
                    last_detail = encoded
                    yield sse("issue", {"issue_identifier": issue, "detail": detail})


def sse_html(event: str, html: str) -> str:
    """One named event; every line of the HTML goes on its own `data:` line (SSE framing)."""
    lines = re.split(r"\r\n|\r|\n", html)
    return f"event: {event}\n" + "".join(f"data: {line}\n" for line in lines) + "\n"


async def ui_stream(
    orch: Orchestrator, redact: Callable[[Any], Any], issue: str | None
) -> AsyncIterator[str]:
    yield "retry: 1000\n\n"
    sent: dict[str, bytes] = {}
    async with contextlib.aclosing(_changes(orch, UI_COALESCE_SECONDS)) as changes:
        async for _ in changes:
            panels = fragments.state_fragments(redact(orch.snapshot()))
            if issue:
                detail = redact(with_feedback(orch.issue_detail(issue), orch.store.db))
                panels.update(fragments.issue_fragments(issue, detail))
            out = []
            for event, html in panels.items():
                digest = hashlib.blake2b(html.encode(), digest_size=16).digest()
                if sent.get(event) != digest:
                    sent[event] = digest
                    out.append(sse_html(event, html))
            # A comment line when nothing changed keeps proxies and the browser's watchdog happy.
            yield "".join(out) or ": idle\n\n"


Stream = Callable[["Orchestrator", Callable[[Any], Any], "str | None"], AsyncIterator[str]]


def _endpoint(stream: Stream, orch: Orchestrator,
              redact: Callable[[Any], Any]) -> Callable[[Request], Any]:
    async def events(request: Request) -> Response:
        issue = request.query_params.get("issue") or None
        return StreamingResponse(
            stream(orch, redact, issue),
            media_type="text/event-stream",
            headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"},
        )

    return events


def events_endpoint(orch: Orchestrator, redact: Callable[[Any], Any]) -> Callable[[Request], Any]:
    """`GET /api/v1/events`: JSON snapshots, for scripts."""
    return _endpoint(state_stream, orch, redact)


def ui_events_endpoint(orch: Orchestrator, redact: Callable[[Any], Any]) -> Callable[[Request], Any]:
    """`GET /ui/events`: the dashboard's HTML fragments."""
    return _endpoint(ui_stream, orch, redact)
