"""Durable orchestrator state in SQLite (WAL): runs, events, retry and publish queues, agent
processes.

Every scheduling write commits before it returns, so a `kill -9` loses nothing already
recorded. Agent chatter (`buffer_event`, `buffer_run_update`) is written in batches by
`tack.store.events.EventBuffer`; every other method flushes that buffer first. One
orchestrator owns a store at a time (an exclusive lock file beside the database).
"""

from __future__ import annotations

import fcntl
import json
import os
import sqlite3
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tack.errors import StoreError
from tack.store.events import EventBuffer, record_gaps

SCHEMA_VERSION = 1

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS runs (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  issue_id TEXT NOT NULL,
  identifier TEXT NOT NULL,
  attempt INTEGER,
  status TEXT NOT NULL,
  started_at REAL NOT NULL,
  ended_at REAL,
  error TEXT,
  workspace TEXT,
  session_id TEXT,
  turn_count INTEGER NOT NULL DEFAULT 0,
  input_tokens INTEGER NOT NULL DEFAULT 0,
  output_tokens INTEGER NOT NULL DEFAULT 0,
  total_tokens INTEGER NOT NULL DEFAULT 0,
  last_event TEXT,
  last_message TEXT,
  last_event_at REAL,
  issue_state TEXT,
  issue_url TEXT,
  owner_pid INTEGER,
  end_reason TEXT
);
CREATE INDEX IF NOT EXISTS runs_identifier ON runs(identifier, id);
CREATE INDEX IF NOT EXISTS runs_status ON runs(status);
CREATE TABLE IF NOT EXISTS events (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  run_id INTEGER,
  issue_id TEXT,
  identifier TEXT,
  at REAL NOT NULL,
  kind TEXT NOT NULL,
  message TEXT NOT NULL DEFAULT '',
  data TEXT
);
CREATE INDEX IF NOT EXISTS events_identifier ON events(identifier, id);
CREATE INDEX IF NOT EXISTS events_run ON events(run_id, id);
CREATE TABLE IF NOT EXISTS retry_queue (
  issue_id TEXT PRIMARY KEY,
  identifier TEXT NOT NULL,
  attempt INTEGER NOT NULL,
  due_at REAL NOT NULL,
  error TEXT,
  kind TEXT NOT NULL DEFAULT 'failure'
);
CREATE TABLE IF NOT EXISTS publish_queue (
  run_id INTEGER PRIMARY KEY,
  issue_id TEXT NOT NULL,
  identifier TEXT NOT NULL,
  attempt INTEGER NOT NULL,
  due_at REAL NOT NULL,
  error TEXT
);
CREATE TABLE IF NOT EXISTS processes (
  pgid INTEGER PRIMARY KEY,
  run_id INTEGER,
  started_at REAL NOT NULL
);
"""

TERMINAL_RUN_STATUSES = (
    "succeeded",
    "failed",
    "timed_out",
    "stalled",
    "canceled",
    "interrupted",
)


@dataclass(frozen=True)
class RetryRow:
    issue_id: str
    identifier: str
    attempt: int
    due_at: float  # wall clock (epoch seconds): survives restarts
    error: str | None
    kind: str  # "continuation" | "failure" | "recovery"


@dataclass(frozen=True)
class PublishRow:
    """A hand-off being published: queued before its first attempt, so one that fails or is
    cut off (shutdown, kill -9) is tried again at `due_at` (pull_requests.retry_*)."""

    run_id: int
    issue_id: str
    identifier: str
    attempt: int  # the attempt made at due_at; 1 is the first publish
    due_at: float  # wall clock (epoch seconds): survives restarts
    error: str | None  # the last attempt's error, redacted; None while none has failed


class Store:
    """SQLite-backed state. Use from one thread (the orchestrator's event loop)."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self._lock_fd: int | None = None
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._db = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False)
            self._db.row_factory = sqlite3.Row
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA synchronous=NORMAL")
            self._db.execute("PRAGMA busy_timeout=5000")
            self._db.executescript(_SCHEMA)
            _add_missing_columns(self._db)
            self._db.execute(
                "INSERT OR IGNORE INTO meta(key, value) VALUES ('schema_version', ?)",
                (str(SCHEMA_VERSION),),
            )
            self._events = EventBuffer(self._db)
        except sqlite3.DatabaseError as exc:
            raise StoreError(
                f"Cannot open the state store {self.path}: {exc}. If the file is damaged, move "
                f"it aside (nothing in the tracker depends on it) and start again."
            ) from exc

    # -- ownership -------------------------------------------------------------------------

    def acquire(self) -> None:
        """Take the exclusive orchestrator lock, or explain who holds it."""
        lock_path = self.path.with_suffix(self.path.suffix + ".lock")
        fd = os.open(lock_path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.pread(fd, 64, 0).decode(errors="replace").strip() or "another process"
            os.close(fd)
            raise StoreError(
                f"Another `tack up` (pid {holder}) is already running on {self.path}. Two "
                f"orchestrators on one store would run issues twice; stop the other one first."
            ) from None
        os.ftruncate(fd, 0)
        os.pwrite(fd, str(os.getpid()).encode(), 0)
        self._lock_fd = fd
        record_gaps(self._db)  # chatter a killed owner never wrote: say so on each run

    @property
    def db(self) -> sqlite3.Connection:
        """The connection, for readers and writers outside this class: pending agent events
        are written first, so they see the whole timeline."""
        self._events.flush()
        return self._db

    def flush(self) -> None:
        """Write buffered agent events now (one transaction)."""
        self._events.flush()

    def close(self) -> None:
        self._events.flush()
        self._db.close()
        if self._lock_fd is not None:
            os.close(self._lock_fd)
            self._lock_fd = None

    # -- runs ------------------------------------------------------------------------------

    def start_run(
        self,
        *,
        issue_id: str,
        identifier: str,
        attempt: int | None,
        issue_state: str | None = None,
        issue_url: str | None = None,
    ) -> int:
        cur = self.db.execute(
            "INSERT INTO runs(issue_id, identifier, attempt, status, started_at, issue_state,"
            " issue_url, owner_pid) VALUES (?, ?, ?, 'running', ?, ?, ?, ?)",
            (issue_id, identifier, attempt, time.time(), issue_state, issue_url, os.getpid()),
        )
        return int(cur.lastrowid or 0)

    def update_run(self, run_id: int, **fields: Any) -> None:
        if not fields:
            return
        cols = ", ".join(f"{k} = ?" for k in fields)
        self.db.execute(f"UPDATE runs SET {cols} WHERE id = ?", (*fields.values(), run_id))

    def finish_run(self, run_id: int, status: str, error: str | None = None, *,
                   reason: str | None = None) -> None:
        """End a run; `reason` says why in words ("handed off: moved to 'Human Review'")."""
        self.db.execute(
            "UPDATE runs SET status = ?, error = ?, ended_at = ?, end_reason = ? WHERE id = ?",
            (status, error, time.time(), reason, run_id),
        )

    def running_runs(self) -> list[sqlite3.Row]:
        return self.db.execute("SELECT * FROM runs WHERE status = 'running' ORDER BY id").fetchall()

    def mark_interrupted(self, reason: str) -> list[sqlite3.Row]:
        """Runs left 'running' by a process that is gone become 'interrupted'; returns them."""
        rows = self.running_runs()
        now = time.time()
        for row in rows:
            self.db.execute(
                "UPDATE runs SET status = 'interrupted', error = ?, ended_at = ? WHERE id = ?",
                (reason, now, row["id"]),
            )
        return rows

    def runs_for(self, identifier: str, limit: int = 20) -> list[sqlite3.Row]:
        return self.db.execute(
            "SELECT * FROM runs WHERE identifier = ? ORDER BY id DESC LIMIT ?", (identifier, limit)
        ).fetchall()

    def run(self, run_id: int) -> sqlite3.Row | None:
        row: sqlite3.Row | None = self.db.execute(
            "SELECT * FROM runs WHERE id = ?", (run_id,)
        ).fetchone()
        return row

    def recent_runs(self, limit: int = 50) -> list[sqlite3.Row]:
        return self.db.execute(
            "SELECT * FROM runs WHERE status != 'running' ORDER BY id DESC LIMIT ?", (limit,)
        ).fetchall()

    def totals(self) -> dict[str, float]:
        row = self.db.execute(
            "SELECT COALESCE(SUM(input_tokens),0) AS i, COALESCE(SUM(output_tokens),0) AS o,"
            " COALESCE(SUM(total_tokens),0) AS t,"
            " COALESCE(SUM(CASE WHEN ended_at IS NOT NULL THEN ended_at - started_at END),0) AS s,"
            " COUNT(*) AS n FROM runs"
        ).fetchone()
        return {
            "input_tokens": int(row["i"]),
            "output_tokens": int(row["o"]),
            "total_tokens": int(row["t"]),
            "ended_seconds": float(row["s"]),
            "runs": int(row["n"]),
        }

    # -- events ----------------------------------------------------------------------------

    def add_event(
        self,
        *,
        run_id: int | None,
        issue_id: str | None,
        identifier: str | None,
        kind: str,
        message: str = "",
        data: dict[str, Any] | None = None,
        at: float | None = None,
    ) -> int:
        cur = self.db.execute(
            "INSERT INTO events(run_id, issue_id, identifier, at, kind, message, data)"
            " VALUES (?, ?, ?, ?, ?, ?, ?)",
            _event_row(run_id, issue_id, identifier, kind, message, data, at),
        )
        return int(cur.lastrowid or 0)

    def buffer_event(
        self,
        *,
        run_id: int | None,
        issue_id: str | None,
        identifier: str | None,
        kind: str,
        message: str = "",
        data: dict[str, Any] | None = None,
        at: float | None = None,
    ) -> None:
        """Agent chatter: like `add_event`, but written with the next batch (<= 50 ms or 100
        events later). Never use it for anything Tack acts on."""
        self._events.add(_event_row(run_id, issue_id, identifier, kind, message, data, at))

    def buffer_run_update(self, run_id: int, **fields: Any) -> None:
        """Run counters (tokens, last event) written with the next batch of agent events."""
        if fields:
            self._events.update_run(run_id, fields)

    def events_for(self, identifier: str, limit: int = 50) -> list[dict[str, Any]]:
        rows = self.db.execute(
            "SELECT * FROM events WHERE identifier = ? ORDER BY id DESC LIMIT ?",
            (identifier, limit),
        ).fetchall()
        return [_event_dict(r) for r in reversed(rows)]

    def events_for_run(self, run_id: int) -> list[dict[str, Any]]:
        rows = self.db.execute(
            "SELECT * FROM events WHERE run_id = ? ORDER BY id", (run_id,)
        ).fetchall()
        return [_event_dict(r) for r in rows]

    def event_count(self) -> int:
        return int(self.db.execute("SELECT COUNT(*) FROM events").fetchone()[0])

    # -- retry queue -----------------------------------------------------------------------

    def save_retry(self, row: RetryRow) -> None:
        self.db.execute(
            "INSERT OR REPLACE INTO retry_queue(issue_id, identifier, attempt, due_at, error, kind)"
            " VALUES (?, ?, ?, ?, ?, ?)",
            (row.issue_id, row.identifier, row.attempt, row.due_at, row.error, row.kind),
        )

    def delete_retry(self, issue_id: str) -> None:
        self.db.execute("DELETE FROM retry_queue WHERE issue_id = ?", (issue_id,))

    def load_retries(self) -> list[RetryRow]:
        rows = self.db.execute("SELECT * FROM retry_queue ORDER BY due_at").fetchall()
        return [
            RetryRow(r["issue_id"], r["identifier"], r["attempt"], r["due_at"], r["error"], r["kind"])
            for r in rows
        ]

    # -- publish queue ---------------------------------------------------------------------

    def save_publish(self, row: PublishRow) -> None:
        self.db.execute(
            "INSERT OR REPLACE INTO publish_queue(run_id, issue_id, identifier, attempt, due_at,"
            " error) VALUES (?, ?, ?, ?, ?, ?)",
            (row.run_id, row.issue_id, row.identifier, row.attempt, row.due_at, row.error),
        )

    def delete_publish(self, run_id: int) -> None:
        self.db.execute("DELETE FROM publish_queue WHERE run_id = ?", (run_id,))

    def load_publishes(self) -> list[PublishRow]:
        rows = self.db.execute("SELECT * FROM publish_queue ORDER BY due_at").fetchall()
        return [
            PublishRow(r["run_id"], r["issue_id"], r["identifier"], r["attempt"], r["due_at"],
                       r["error"])
            for r in rows
        ]

    # -- agent processes -------------------------------------------------------------------

    def add_process(self, pgid: int, run_id: int | None) -> None:
        self.db.execute(
            "INSERT OR REPLACE INTO processes(pgid, run_id, started_at) VALUES (?, ?, ?)",
            (pgid, run_id, time.time()),
        )

    def remove_process(self, pgid: int) -> None:
        self.db.execute("DELETE FROM processes WHERE pgid = ?", (pgid,))

    def processes(self) -> list[int]:
        return [int(r[0]) for r in self.db.execute("SELECT pgid FROM processes")]

    # -- meta ------------------------------------------------------------------------------

    def set_meta(self, key: str, value: Any) -> None:
        self.db.execute(
            "INSERT OR REPLACE INTO meta(key, value) VALUES (?, ?)", (key, json.dumps(value))
        )

    def get_meta(self, key: str, default: Any = None) -> Any:
        row = self.db.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        return json.loads(row[0]) if row else default


def _event_row(run_id: int | None, issue_id: str | None, identifier: str | None, kind: str,
               message: str, data: dict[str, Any] | None, at: float | None,
               ) -> tuple[Any, ...]:
    """An `events` row's values, in the table's column order (after the id)."""
    return (run_id, issue_id, identifier, at if at is not None else time.time(), kind, message,
            json.dumps(data, default=str) if data else None)


def _event_dict(row: sqlite3.Row) -> dict[str, Any]:
    return {
        "id": row["id"],
        "run_id": row["run_id"],
        "at": row["at"],
        "kind": row["kind"],
        "message": row["message"],
        "data": json.loads(row["data"]) if row["data"] else None,
    }


def iter_rows(rows: list[sqlite3.Row]) -> Iterator[dict[str, Any]]:
    for row in rows:
        yield dict(row)


# Columns added after a table was first created: (table, column, SQL type). A state db made
# by an older Tack gets them on open; nothing stored is lost.
_ADDED_COLUMNS = [("runs", "end_reason", "TEXT")]


def _add_missing_columns(db: sqlite3.Connection) -> None:
    for table, column, kind in _ADDED_COLUMNS:
        have = {row[1] for row in db.execute(f"PRAGMA table_info({table})")}
        if column not in have:
            db.execute(f"ALTER TABLE {table} ADD COLUMN {column} {kind}")
