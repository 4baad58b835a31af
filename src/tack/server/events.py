"""`GET /api/v1/events`: a server-sent event stream of redacted state snapshots; and
`GET /ui/events`, the dashboard's stream of the same state as named HTML fragments.

A snapshot is pushed as soon as the orchestrator reports a change (bursts coalesced) and at
least every second; with `?issue=ID` the issue's detail (timeline) follows whenever it changes.
The UI stream sends a fragment only when its HTML differs from the last one on that connection.
All open streams share one snapshot and one rendering per change (`Shared`).
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
import re
import time
from collections.abc import AsyncGenerator, AsyncIterator, Callable
from typing import TYPE_CHECKING, Any

from starlette.requests import Request
from starlette.responses import Response, StreamingResponse

from tack.server import fragments, pages
from tack.server.artifacts import with_artifacts
from tack.server.feedback import with_feedback

if TYPE_CHECKING:
    from tack.orchestrator import Orchestrator

HEARTBEAT_SECONDS = 1.0
COALESCE_SECONDS = 0.05
# Rendering every panel costs ~20 ms at 200 running sessions, paid per open page on the
# orchestrator's loop: the HTML stream batches changes over a quarter second instead.
UI_COALESCE_SECONDS = 0.25


class Shared:
    """What every open stream computes from the same state (the redacted snapshot, the
    rendered panels), computed once per change the orchestrator reports and at most once per
    heartbeat period for each key, whatever the number of viewers."""

    def __init__(self, orch: Orchestrator, size: int = 32,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.orch = orch
        self.size = size
        self.clock = clock
        self._memo: dict[Any, tuple[tuple[int, int], Any]] = {}

    def get(self, key: Any, compute: Callable[[], Any]) -> Any:
        stamp = (self.orch.changes, int(self.clock() // HEARTBEAT_SECONDS))
        hit = self._memo.get(key)
        if hit is not None and hit[0] == stamp:
            return hit[1]
        value = compute()
        # Older stamps can never be served again; keep only this one's (at most `size` keys).
        self._memo = {k: v for k, v in self._memo.items() if v[0] == stamp and k != key}
        self._memo[key] = (stamp, value)
        while len(self._memo) > self.size:  # the least recently computed key goes first
            del self._memo[next(iter(self._memo))]
        return value


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
    shared: Shared, redact: Callable[[Any], Any], issue: str | None
) -> AsyncIterator[str]:
    orch = shared.orch
    yield "retry: 1000\n\n"
    last_detail: str | None = None
    async with contextlib.aclosing(_changes(orch, COALESCE_SECONDS)) as changes:
        async for _ in changes:
            yield shared.get("state", lambda: sse("state", redact(orch.snapshot())))
            if issue:
                detail, encoded = shared.get(("issue", issue), lambda: _detail(orch, redact, issue))
                if encoded != last_detail:
                    last_detail = encoded
                    yield sse("issue", {"issue_identifier": issue, "detail": detail})


def _detail(orch: Orchestrator, redact: Callable[[Any], Any], issue: str) -> tuple[Any, str]:
    detail = redact(with_artifacts(with_feedback(orch.issue_detail(issue), orch.store.db),
                                     orch.workflow.tack_dir))
    return detail, json.dumps(detail, default=str, sort_keys=True)


def sse_html(event: str, html: str) -> str:
    """One named event; every line of the HTML goes on its own `data:` line (SSE framing)."""
    lines = re.split(r"\r\n|\r|\n", html)
    return f"event: {event}\n" + "".join(f"data: {line}\n" for line in lines) + "\n"


def _view_panels(orch: Orchestrator, redact: Callable[[Any], Any], issue: str | None,
                 view: str, board: pages.BoardSource) -> dict[str, str]:
    """The panels of the board (`view=board`) or of an issue's page (`view=issue`)."""
    if view == "board":
        config = orch.workflow.config
        html = pages.board(board.issues, board.states(), redact(orch.snapshot()),
                           config.agent.backend, config.review.plan_review_state, board.error,
                           config.tracker.terminal_states)
        return {"board": orch.redactor.text(str(html))}
    if view == "issue" and issue:
        detail = redact(with_artifacts(with_feedback(orch.issue_detail(issue), orch.store.db),
                                         orch.workflow.tack_dir))
        events = list(reversed((detail or {}).get("recent_events") or []))
        return {"timeline-head": pages.issue_head(issue, detail),
                "feedback": fragments.timeline_runs(detail),
                "transcript": pages.transcript(events)}
    return {}


def _panels(orch: Orchestrator, redact: Callable[[Any], Any], issue: str | None,
            view: str = "", board: pages.BoardSource | None = None) -> list[tuple[str, bytes, str]]:
    """(event, digest, framed SSE message) for every panel of the page (and of `issue`)."""
    if view and board is not None:
        panels = _view_panels(orch, redact, issue, view, board)
    else:
        panels = fragments.state_fragments(redact(orch.snapshot()))
        if issue:
            detail = redact(with_artifacts(with_feedback(orch.issue_detail(issue), orch.store.db),
                                         orch.workflow.tack_dir))
            panels.update(fragments.issue_fragments(issue, detail))
    return [(event, hashlib.blake2b(html.encode(), digest_size=16).digest(), sse_html(event, html))
            for event, html in panels.items()]


async def ui_stream(
    shared: Shared, redact: Callable[[Any], Any], issue: str | None, view: str = "",
    board: pages.BoardSource | None = None,
) -> AsyncIterator[str]:
    orch = shared.orch
    yield "retry: 1000\n\n"
    sent: dict[str, bytes] = {}
    async with contextlib.aclosing(_changes(orch, UI_COALESCE_SECONDS)) as changes:
        async for _ in changes:
            if view == "board" and board is not None:
                await board.refresh()  # at most every BOARD_TTL_SECONDS, shared by all pages
            out = []
            for event, digest, message in shared.get(
                    ("ui", issue, view), lambda: _panels(orch, redact, issue, view, board)):
                if sent.get(event) != digest:
                    sent[event] = digest
                    out.append(message)
            # A comment line when nothing changed keeps proxies and the browser's watchdog happy.
            yield "".join(out) or ": idle\n\n"


Stream = Callable[[Shared, Callable[[Any], Any], "str | None"], AsyncIterator[str]]


def _endpoint(stream: Stream, orch: Orchestrator,
              redact: Callable[[Any], Any]) -> Callable[[Request], Any]:
    shared = Shared(orch)

    async def events(request: Request) -> Response:
        issue = request.query_params.get("issue") or None
        return StreamingResponse(
            stream(shared, redact, issue),
            media_type="text/event-stream",
            headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"},
        )

    return events


def events_endpoint(orch: Orchestrator, redact: Callable[[Any], Any]) -> Callable[[Request], Any]:
    """`GET /api/v1/events`: JSON snapshots, for scripts."""
    return _endpoint(state_stream, orch, redact)


def ui_events_endpoint(orch: Orchestrator, redact: Callable[[Any], Any],
                       board: pages.BoardSource) -> Callable[[Request], Any]:
    """`GET /ui/events`: the pages' HTML fragments; `?view=board` or `?view=issue&issue=ID`
    sends only that page's panels."""
    shared = Shared(orch)

    async def events(request: Request) -> Response:
        issue = request.query_params.get("issue") or None
        view = request.query_params.get("view") or ""
        return StreamingResponse(
            ui_stream(shared, redact, issue, view, board),
            media_type="text/event-stream",
            headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"},
        )

    return events
