"""The learning loop's own tables in the state db, beside runs, events and review_feedback.

`feedback_learned` marks feedback rows already learned from (so `tack learn` is idempotent);
`lessons_given` records which lessons each run's prompt carried, so their effect is measurable.
"""

from __future__ import annotations

import sqlite3
import time
from dataclasses import dataclass

_SCHEMA = """
CREATE TABLE IF NOT EXISTS feedback_learned (
  feedback_id INTEGER PRIMARY KEY,
  outcome TEXT NOT NULL,
  lesson_id TEXT,
  learned_at REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS lessons_given (
  run_id INTEGER NOT NULL,
  lesson_id TEXT NOT NULL,
  given_at REAL NOT NULL,
  PRIMARY KEY (run_id, lesson_id)
);
CREATE INDEX IF NOT EXISTS lessons_given_lesson ON lessons_given(lesson_id);
"""


def ensure_schema(db: sqlite3.Connection) -> None:
    db.executescript(_SCHEMA)


@dataclass(frozen=True)
class FeedbackRow:
    """A review_feedback row with its id, as the learning loop reads it."""

    id: int
    kind: str
    run_id: int | None
    issue_id: str
    identifier: str
    branch: str
    author: str | None
    body: str | None
    sentiment: int
    path: str | None
    line: int | None
    recorded_at: float
    forge: str
    pr_number: int

    @property
    def label(self) -> str:
        return f"feedback:{self.id}"


_COLUMNS = ("f.id, f.kind, f.run_id, f.issue_id, f.identifier, f.branch, f.author, f.body, "
            "f.sentiment, f.path, f.line, f.recorded_at, f.forge, f.pr_number")


def feedback_rows(db: sqlite3.Connection, *, unlearned: bool = False,
                  since: float | None = None) -> list[FeedbackRow]:
    ensure_schema(db)
    sql = f"SELECT {_COLUMNS} FROM review_feedback f"
    where = []
    args: list[object] = []
    if unlearned:
        sql += " LEFT JOIN feedback_learned l ON l.feedback_id = f.id"
        where.append("l.feedback_id IS NULL")
    if since is not None:
        where.append("f.recorded_at >= ?")
        args.append(since)
    if where:
        sql += " WHERE " + " AND ".join(where)
    return [FeedbackRow(*tuple(row)) for row in db.execute(sql + " ORDER BY f.id", args)]


def mark_learned(db: sqlite3.Connection, feedback_id: int, outcome: str,
                 lesson_id: str | None = None) -> None:
    db.execute("INSERT OR REPLACE INTO feedback_learned (feedback_id, outcome, lesson_id, "
               "learned_at) VALUES (?,?,?,?)", (feedback_id, outcome, lesson_id, time.time()))


def learned_since(db: sqlite3.Connection, since: float) -> list[tuple[int, str, str | None]]:
    ensure_schema(db)
    return [(int(r[0]), str(r[1]), r[2]) for r in db.execute(
        "SELECT feedback_id, outcome, lesson_id FROM feedback_learned WHERE learned_at >= ?",
        (since,))]


def record_lessons_given(db: sqlite3.Connection, run_id: int, lesson_ids: list[str]) -> None:
    """Remember that run `run_id`'s prompt carried these lessons (idempotent)."""
    ensure_schema(db)
    outer = db.in_transaction
    now = time.time()
    db.executemany("INSERT OR IGNORE INTO lessons_given (run_id, lesson_id, given_at) "
                   "VALUES (?,?,?)", [(run_id, lid, now) for lid in lesson_ids])
    if not outer and db.in_transaction:
        # A connection in Python's default mode opened a transaction for us; a caller's
        # own transaction is left for the caller to commit.
        db.commit()


def lessons_given(db: sqlite3.Connection, run_id: int) -> list[str]:
    ensure_schema(db)
    return [str(r[0]) for r in db.execute(
        "SELECT lesson_id FROM lessons_given WHERE run_id = ? ORDER BY lesson_id", (run_id,))]


def runs_given(db: sqlite3.Connection, lesson_id: str) -> set[int]:
    ensure_schema(db)
    return {int(r[0]) for r in db.execute(
        "SELECT run_id FROM lessons_given WHERE lesson_id = ?", (lesson_id,))}
