"""`GET /api/v1/events`: a server-sent event stream of redacted state snapshots.

A snapshot is pushed as soon as the orchestrator reports a change (bursts coalesced) and at
least every second; with `?issue=ID` the issue's detail (timeline) follows whenever it changes.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Callable
from typing import TYPE_CHECKING, Any

from starlette.requests import Request
from starlette.responses import Response, StreamingResponse

from tack.server.feedback import with_feedback

if TYPE_CHECKING:
    from tack.orchestrator import Orchestrator

HEARTBEAT_SECONDS = 1.0
COALESCE_SECONDS = 0.05


def sse(event: str, payload: Any) -> str:
    data = json.dumps(payload, separators=(",", ":"), default=str)
    return f"event: {event}\ndata: {data}\n\n"


async def state_stream(
    orch: Orchestrator, redact: Callable[[Any], Any], issue: str | None
) -> AsyncIterator[str]:
    changed = asyncio.Event()
    orch.listeners.append(changed.set)
    try:
        yield "retry: 1000\n\n"
        last_detail: str | None = None
        while True:
            changed.clear()
            yield sse("state", redact(orch.snapshot()))
            if issue:
                detail = redact(with_feedback(orch.issue_detail(issue), orch.store.db))
                encoded = json.dumps(detail, default=str, sort_keys=True)
                if encoded != last_detail:
                    last_detail = encoded
                    yield sse("issue", {"issue_identifier": issue, "detail": detail})
            try:
                await asyncio.wait_for(changed.wait(), HEARTBEAT_SECONDS)
                await asyncio.sleep(COALESCE_SECONDS)
            except TimeoutError:
                pass
    finally:
        orch.listeners.remove(changed.set)


def events_endpoint(orch: Orchestrator, redact: Callable[[Any], Any]) -> Callable[[Request], Any]:
    async def events(request: Request) -> Response:
        issue = request.query_params.get("issue") or None
        return StreamingResponse(
            state_stream(orch, redact, issue),
            media_type="text/event-stream",
            headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"},
        )

    return events
