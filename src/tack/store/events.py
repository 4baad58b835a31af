"""Agent chatter, buffered: events and run counters written in one transaction every 50 ms or
100 events instead of one commit each.

Only agent events go through the buffer. Every scheduling write (runs, retries, claims,
hand-offs, the publish queue) flushes it first and then commits on its own, so a scheduling
fact is durable before Tack acts on it, and the timeline keeps its order.

A `kill -9` can lose at most the open window. The loss is never silent: the first event of a
window (or of a new run within it) commits an "unflushed" marker naming the runs and the time
the window opened; the flush deletes it in the same transaction. A marker found by the next
owner of the store (`Store.acquire`) becomes a `gap` event on each affected run.
"""

from __future__ import annotations

import asyncio
import json
import sqlite3
import time
from datetime import UTC, datetime
from typing import Any

FLUSH_EVERY_S = 0.05
FLUSH_AT_EVENTS = 100
UNFLUSHED_KEY = "events_unflushed"

_INSERT = ("INSERT INTO events(run_id, issue_id, identifier, at, kind, message, data)"
           " VALUES (?, ?, ?, ?, ?, ?, ?)")

EventRow = tuple[int | None, str | None, str | None, float, str, str, str | None]


class EventBuffer:
    """Pending agent events and run-counter updates for one SQLite connection (one thread)."""

    def __init__(self, db: sqlite3.Connection) -> None:
        self.db = db
        self.rows: list[EventRow] = []
        self.run_fields: dict[int, dict[str, Any]] = {}
        self._marked: set[int] = set()  # runs the committed marker names
        self._since: float | None = None
        self._timer: asyncio.TimerHandle | None = None

    def add(self, row: EventRow) -> None:
        run_id = row[0]
        if run_id is not None and run_id not in self._marked:
            self._mark(run_id, row[3])
        self.rows.append(row)
        if len(self.rows) >= FLUSH_AT_EVENTS:
            self.flush()
        else:
            self._arm()

    def update_run(self, run_id: int, fields: dict[str, Any]) -> None:
        """Counters (tokens, last event) that may lag by one window: merged, written at flush."""
        if run_id not in self._marked:
            self._mark(run_id, None)
        self.run_fields.setdefault(run_id, {}).update(fields)
        self._arm()

    def flush(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        if not self.rows and not self.run_fields and not self._marked:
            return
        if self.db.in_transaction:
            # Someone else's transaction is open on this connection (a caller holding it
            # across an await): never fold our rows into it; try again next window.
            self._arm()
            return
        rows, updates = self.rows, self.run_fields
        self.rows, self.run_fields = [], {}
        self.db.execute("BEGIN IMMEDIATE")
        try:
            self.db.executemany(_INSERT, rows)
            for run_id, fields in updates.items():
                cols = ", ".join(f"{k} = ?" for k in fields)
                self.db.execute(f"UPDATE runs SET {cols} WHERE id = ?", (*fields.values(), run_id))
            self.db.execute("DELETE FROM meta WHERE key = ?", (UNFLUSHED_KEY,))
            self.db.execute("COMMIT")
        except BaseException:
            self.db.execute("ROLLBACK")
            raise
        self._marked.clear()
        self._since = None

    def _mark(self, run_id: int, at: float | None) -> None:
        # Committed before the event is accepted: if this process dies before the flush, the
        # next owner knows which runs lost chatter and since when.
        if self._since is None:
            self._since = at if at is not None else time.time()
        self._marked.add(run_id)
        self.db.execute(
            "INSERT OR REPLACE INTO meta(key, value) VALUES (?, ?)",
            (UNFLUSHED_KEY, json.dumps({"since": self._since, "runs": sorted(self._marked)})),
        )

    def _arm(self) -> None:
        if self._timer is not None:
            return
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:  # no event loop (a CLI command, a sync test): write through,
            if not self.db.in_transaction:  # or at the store's next call after theirs
                self.flush()
            return
        self._timer = loop.call_later(FLUSH_EVERY_S, self.flush)


def record_gaps(db: sqlite3.Connection) -> list[int]:
    """Turn a marker left by a process killed mid-window into a `gap` event per affected run;
    returns those run ids. Call only as the store's owner."""
    row = db.execute("SELECT value FROM meta WHERE key = ?", (UNFLUSHED_KEY,)).fetchone()
    if row is None:
        return []
    marker = json.loads(row[0])
    since = float(marker["since"])
    when = datetime.fromtimestamp(since, tz=UTC).isoformat(timespec="milliseconds")
    message = (f"agent events after {when} may be missing: Tack stopped before writing them")
    runs = [int(r) for r in marker.get("runs", [])]
    db.execute("BEGIN IMMEDIATE")
    try:
        for run_id in runs:
            run = db.execute("SELECT issue_id, identifier FROM runs WHERE id = ?",
                             (run_id,)).fetchone()
            if run is None:
                continue
            db.execute(_INSERT, (run_id, run[0], run[1], time.time(), "gap", message,
                                 json.dumps({"since": since})))
        db.execute("DELETE FROM meta WHERE key = ?", (UNFLUSHED_KEY,))
        db.execute("COMMIT")
    except BaseException:
        db.execute("ROLLBACK")
        raise
    return runs
