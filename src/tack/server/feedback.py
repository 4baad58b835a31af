"""Feedback from the dashboard: `POST /api/v1/runs/{run_id}/feedback` stores a thumbs up/down
through `tack.learning.give_feedback` (the store `tack feedback` writes), and every issue
detail lists the feedback already given on each of its runs.
"""

from __future__ import annotations

import asyncio
import json
import sqlite3
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qsl

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

if TYPE_CHECKING:
    from tack.orchestrator import Orchestrator

SENTIMENTS = {"up": 1, "down": -1}
MAX_COMMENT_CHARS = 10_000
MAX_AUTHOR_CHARS = 100
_SYMBOL = {1: "up", -1: "down"}


def _error(status: int, code: str, message: str) -> JSONResponse:
    return JSONResponse({"error": {"code": code, "message": message}}, status_code=status)


def run_feedback(db: sqlite3.Connection, run_ids: list[int]) -> dict[int, list[dict[str, Any]]]:
    """Feedback rows per run, oldest first: `{sentiment: up|down|null, body, author, at}`."""
    out: dict[int, list[dict[str, Any]]] = {run_id: [] for run_id in run_ids}
    if not run_ids:
        return out
    marks = ",".join("?" * len(run_ids))
    try:
        rows = db.execute(
            f"SELECT run_id, sentiment, body, author, created_at, recorded_at, kind, state "
            f"FROM review_feedback WHERE run_id IN ({marks}) ORDER BY id", run_ids).fetchall()
    except sqlite3.OperationalError:  # no feedback table yet: nobody gave feedback
        return out
    for run_id, sentiment, body, author, created_at, recorded_at, kind, state in rows:
        out[int(run_id)].append({
            "sentiment": _SYMBOL.get(int(sentiment or 0)), "body": body, "author": author,
            "at": created_at or datetime.fromtimestamp(float(recorded_at), UTC).isoformat(),
            "kind": kind, "state": state})
    return out


def with_feedback(detail: dict[str, Any] | None, db: sqlite3.Connection) -> dict[str, Any] | None:
    """The issue detail with `runs[].feedback` added (a copy; None stays None)."""
    if detail is None:
        return None
    runs = detail.get("runs") or []
    given = run_feedback(db, [int(r["run_id"]) for r in runs])
    return {**detail, "runs": [{**r, "feedback": given.get(int(r["run_id"]), [])} for r in runs]}


def parse_feedback(raw: bytes, content_type: str = "application/json") -> tuple[int, str | None, str | None]:
    """(sentiment, comment, author) from a JSON body, or a form-encoded one (the dashboard's
    htmx buttons); ValueError with the fix."""
    data: Any
    if content_type.split(";")[0].strip().lower() == "application/x-www-form-urlencoded":
        try:
            data = dict(parse_qsl(raw.decode(), keep_blank_values=True, strict_parsing=bool(raw)))
        except ValueError:  # UnicodeDecodeError included
            raise ValueError("the form-encoded body cannot be parsed; send "
                             "sentiment=up|down&comment=...&author=...") from None
    else:
        try:
            data = json.loads(raw or b"null")
        except ValueError:
            raise ValueError('the body is not JSON; send {"sentiment": "up"|"down", '
                             '"comment": "...", "author": "..."}') from None
    if not isinstance(data, dict):
        raise ValueError(  # noqa: TRY004 - becomes a 400 with the other input errors
            'the body must be a JSON object like {"sentiment": "down", "comment": "..."}')
    unknown = sorted(set(data) - {"sentiment", "comment", "author"})
    if unknown:
        raise ValueError(f"unknown field(s) {', '.join(unknown)}; the fields are sentiment, "
                         "comment and author")
    sentiment = data.get("sentiment")
    if sentiment not in SENTIMENTS:
        raise ValueError(f'"sentiment" must be "up" or "down", not {json.dumps(sentiment)}')
    comment, author = data.get("comment"), data.get("author")
    for name, value, limit in (("comment", comment, MAX_COMMENT_CHARS),
                               ("author", author, MAX_AUTHOR_CHARS)):
        if value is not None and not isinstance(value, str):
            raise ValueError(f'"{name}" must be a string')
        if isinstance(value, str) and len(value) > limit:
            raise ValueError(f'"{name}" is longer than {limit} characters')
    return (SENTIMENTS[sentiment], (comment or "").strip() or None,
            (author or "").strip() or None)


def _give(db_path: Path, run_id: int, sentiment: int, comment: str | None,
          author: str | None) -> int:
    from tack.learning import give_feedback

    # Its own connection: this runs on a worker thread (give_feedback asks git for the branch).
    db = sqlite3.connect(db_path, isolation_level=None, check_same_thread=False)
    try:
        db.execute("PRAGMA busy_timeout=10000")
        return give_feedback(db, run_id, sentiment=sentiment, comment=comment,
                             author=author or "dashboard")
    finally:
        db.close()


def feedback_endpoint(orch: Orchestrator) -> Callable[[Request], Any]:
    async def feedback(request: Request) -> Response:
        raw_id = request.path_params["run_id"]
        if not raw_id.isdigit() or orch.store.run(int(raw_id)) is None:
            return _error(404, "run_not_found", f"there is no run {raw_id!r}; run ids are in "
                          "`runs[].run_id` of GET /api/v1/<identifier>, in `tack runs` and in "
                          "`tack status`")
        try:
            sentiment, comment, author = parse_feedback(
                await request.body(), request.headers.get("content-type", "application/json"))
        except ValueError as exc:
            return _error(400, "invalid_feedback", f"POST /api/v1/runs/{raw_id}/feedback: {exc}")
        run_id = int(raw_id)
        row_id = await asyncio.to_thread(_give, orch.store.path, run_id, sentiment, comment,
                                         author)
        orch.notify()
        return JSONResponse({"id": row_id, "run_id": run_id,
                             "sentiment": _SYMBOL[sentiment], "comment": comment,
                             "author": author or "dashboard"}, status_code=201)

    return feedback
