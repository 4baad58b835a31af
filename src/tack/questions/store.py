"""Questions in the state db (`questions` table), next to the runs they came from.

Each write commits at once, so a question parked before a `kill -9` is still there, with
what resumes its conversation, when Tack starts again. `tack answer` writes here from
another process while `tack up` runs (WAL and a busy timeout make that safe).
"""

from __future__ import annotations

import json
import sqlite3
import time
from typing import Any

from tack.questions.model import Asked, Question

_SCHEMA = """
CREATE TABLE IF NOT EXISTS questions (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  run_id INTEGER,
  issue_id TEXT NOT NULL,
  identifier TEXT NOT NULL,
  text TEXT NOT NULL,
  options TEXT NOT NULL DEFAULT '[]',
  recommended INTEGER,
  allow_free_text INTEGER NOT NULL DEFAULT 1,
  secret INTEGER NOT NULL DEFAULT 0,
  source TEXT NOT NULL,
  status TEXT NOT NULL DEFAULT 'open',
  default_action TEXT NOT NULL,
  deadline_at REAL,
  asked_at REAL NOT NULL,
  prior_state TEXT,
  resume TEXT NOT NULL DEFAULT '{}',
  answer TEXT,
  answered_by TEXT,
  answered_at REAL
);
CREATE INDEX IF NOT EXISTS questions_issue ON questions(issue_id, status);
"""


class QuestionStore:
    """The `questions` table on a state-db connection (the orchestrator's or a CLI's)."""

    def __init__(self, db: sqlite3.Connection, *, create: bool = True) -> None:
        self.db = db
        if create:
            db.executescript(_SCHEMA)

    @classmethod
    def reading(cls, db: sqlite3.Connection) -> QuestionStore:
        """On a read-only connection: the table is not created (reads of a missing one raise
        `sqlite3.OperationalError`)."""
        return cls(db, create=False)

    def add(self, asked: Asked, *, run_id: int | None, issue_id: str, identifier: str,
            default_action: str, deadline_at: float | None, prior_state: str | None) -> Question:
        with self.db:
            cursor = self.db.execute(
                "INSERT INTO questions (run_id, issue_id, identifier, text, options, recommended,"
                " allow_free_text, secret, source, default_action, deadline_at, asked_at,"
                " prior_state, resume) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
                (run_id, issue_id, identifier, asked.text, json.dumps(asked.options),
                 asked.recommended, int(asked.allow_free_text), int(asked.secret), asked.source,
                 default_action, deadline_at, time.time(), prior_state,
                 json.dumps(asked.resume)))
        question = self.get(int(cursor.lastrowid or 0))
        assert question is not None
        return question

    def get(self, question_id: int) -> Question | None:
        cursor = self.db.execute("SELECT * FROM questions WHERE id = ?", (question_id,))
        row = cursor.fetchone()
        return _question(dict(zip([d[0] for d in cursor.description], row))) if row else None

    def where(self, *, status: str | None = None, identifier: str | None = None,
              issue_id: str | None = None, limit: int = 200) -> list[Question]:
        clauses, args = [], []  # type: list[str], list[Any]
        if status is not None:
            clauses.append("status = ?")
            args.append(status)
        if identifier is not None:
            clauses.append("identifier = ? COLLATE NOCASE")
            args.append(identifier)
        if issue_id is not None:
            clauses.append("issue_id = ?")
            args.append(issue_id)
        where = f"WHERE {' AND '.join(clauses)}" if clauses else ""
        cursor = self.db.execute(f"SELECT * FROM questions {where} ORDER BY id DESC LIMIT ?",
                                 (*args, limit))
        names = [d[0] for d in cursor.description]
        return [_question(dict(zip(names, r))) for r in cursor.fetchall()]

    def answer(self, question_id: int, answer: str, by: str) -> bool:
        """Record an answer to an open question; False when it was no longer open."""
        with self.db:
            cursor = self.db.execute(
                "UPDATE questions SET status = 'answered', answer = ?, answered_by = ?,"
                " answered_at = ? WHERE id = ? AND status = 'open'",
                (answer, by, time.time(), question_id))
        return cursor.rowcount == 1

    def set_status(self, question_id: int, status: str, *, only_from: str | None = None) -> bool:
        sql = "UPDATE questions SET status = ? WHERE id = ?"
        args: tuple[Any, ...] = (status, question_id)
        if only_from is not None:
            sql += " AND status = ?"
            args += (only_from,)
        with self.db:
            return self.db.execute(sql, args).rowcount == 1


def _question(data: dict[str, Any]) -> Question:
    return Question(
        id=int(data["id"]), run_id=data["run_id"], issue_id=data["issue_id"],
        identifier=data["identifier"], text=data["text"], options=json.loads(data["options"]),
        recommended=data["recommended"], allow_free_text=bool(data["allow_free_text"]),
        secret=bool(data["secret"]), source=data["source"], status=data["status"],
        default_action=data["default_action"], deadline_at=data["deadline_at"],
        asked_at=data["asked_at"], prior_state=data["prior_state"],
        resume=json.loads(data["resume"] or "{}"), answer=data["answer"],
        answered_by=data["answered_by"], answered_at=data["answered_at"])
