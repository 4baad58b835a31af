"""Distillation state in the Tack state database: runs, rounds and role steps.

Each role step commits when it starts and when it ends, so an interrupted run (Ctrl-C,
`kill -9`, a failed model call) resumes from the last completed step.
"""

from __future__ import annotations

import json
import secrets
import sqlite3
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tack.agents.base import TokenUsage
from tack.store import Store

ROLES = ("writer", "implementer", "grounding", "judge")

_SCHEMA = """
CREATE TABLE IF NOT EXISTS distill_runs (
  id TEXT PRIMARY KEY,
  source TEXT NOT NULL,
  status TEXT NOT NULL,
  stop_reason TEXT,
  error TEXT,
  options TEXT NOT NULL,
  created_at REAL NOT NULL,
  updated_at REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS distill_rounds (
  run_id TEXT NOT NULL,
  round INTEGER NOT NULL,
  status TEXT NOT NULL,
  spec TEXT,
  findings TEXT,
  judge_score REAL,
  tests TEXT,
  api TEXT,
  score REAL,
  PRIMARY KEY (run_id, round)
);
CREATE TABLE IF NOT EXISTS distill_steps (
  run_id TEXT NOT NULL,
  round INTEGER NOT NULL,
  role TEXT NOT NULL,
  status TEXT NOT NULL,
  attempts INTEGER NOT NULL DEFAULT 0,
  input_tokens INTEGER NOT NULL DEFAULT 0,
  output_tokens INTEGER NOT NULL DEFAULT 0,
  total_tokens INTEGER NOT NULL DEFAULT 0,
  session_id TEXT,
  error TEXT,
  started_at REAL,
  ended_at REAL,
  PRIMARY KEY (run_id, round, role)
);
"""


@dataclass
class StepRow:
    round: int
    role: str
    status: str  # running | completed | failed
    attempts: int
    usage: TokenUsage
    error: str | None


@dataclass
class RoundRow:
    round: int
    status: str  # running | completed
    spec: str | None
    findings: dict[str, Any] | None
    judge_score: float | None
    tests: dict[str, Any] | None
    api: dict[str, Any] | None
    score: float | None


@dataclass
class RunRow:
    id: str
    source: str
    status: str  # running | interrupted | completed
    stop_reason: str | None
    error: str | None
    options: dict[str, Any]
    created_at: float


def _loads(value: str | None) -> Any:
    return json.loads(value) if value else None


class DistillState:
    """Distillation tables in the state db (created on first use, never migrated away)."""

    def __init__(self, path: Path) -> None:
        self._store = Store(path)
        self.db: sqlite3.Connection = self._store.db
        self.db.executescript(_SCHEMA)

    def close(self) -> None:
        self._store.close()

    # -- runs ------------------------------------------------------------------------------

    def create_run(self, source: str, options: dict[str, Any]) -> RunRow:
        run_id = time.strftime("%Y%m%d-%H%M%S") + "-" + secrets.token_hex(2)
        now = time.time()
        self.db.execute(
            "INSERT INTO distill_runs(id, source, status, options, created_at, updated_at) "
            "VALUES (?, ?, 'running', ?, ?, ?)",
            (run_id, source, json.dumps(options), now, now),
        )
        return self.run(run_id)

    def run(self, run_id: str) -> RunRow:
        row = self.db.execute("SELECT * FROM distill_runs WHERE id = ?", (run_id,)).fetchone()
        if row is None:
            raise KeyError(run_id)
        return RunRow(row["id"], row["source"], row["status"], row["stop_reason"],
                      row["error"], json.loads(row["options"]), row["created_at"])

    def unfinished(self) -> list[RunRow]:
        """Runs not completed (interrupted, failed, or cut off mid-step), newest first."""
        rows = self.db.execute(
            "SELECT id FROM distill_runs WHERE status != 'completed' "
            "ORDER BY created_at DESC, id DESC"
        ).fetchall()
        return [self.run(row["id"]) for row in rows]

    def update_run(self, run_id: str, *, status: str, stop_reason: str | None = None,
                   error: str | None = None, options: dict[str, Any] | None = None) -> None:
        self.db.execute(
            "UPDATE distill_runs SET status = ?, stop_reason = ?, error = ?, updated_at = ?, "
            "options = COALESCE(?, options) WHERE id = ?",
            (status, stop_reason, error, time.time(),
             json.dumps(options) if options is not None else None, run_id),
        )

    # -- rounds ----------------------------------------------------------------------------

    def ensure_round(self, run_id: str, number: int) -> None:
        self.db.execute(
            "INSERT OR IGNORE INTO distill_rounds(run_id, round, status) VALUES (?, ?, 'running')",
            (run_id, number),
        )

    def update_round(self, run_id: str, number: int, **fields: Any) -> None:
        encoded = {k: json.dumps(v) if k in ("findings", "tests", "api") else v
                   for k, v in fields.items()}
        columns = ", ".join(f"{k} = ?" for k in encoded)
        self.db.execute(f"UPDATE distill_rounds SET {columns} WHERE run_id = ? AND round = ?",
                        (*encoded.values(), run_id, number))

    def rounds(self, run_id: str) -> list[RoundRow]:
        rows = self.db.execute(
            "SELECT * FROM distill_rounds WHERE run_id = ? ORDER BY round", (run_id,)
        ).fetchall()
        return [RoundRow(r["round"], r["status"], r["spec"], _loads(r["findings"]),
                         r["judge_score"], _loads(r["tests"]), _loads(r["api"]), r["score"])
                for r in rows]

    # -- steps -----------------------------------------------------------------------------

    def step(self, run_id: str, number: int, role: str) -> StepRow | None:
        row = self.db.execute(
            "SELECT * FROM distill_steps WHERE run_id = ? AND round = ? AND role = ?",
            (run_id, number, role),
        ).fetchone()
        return self._step(row) if row else None

    def steps(self, run_id: str) -> list[StepRow]:
        rows = self.db.execute(
            "SELECT * FROM distill_steps WHERE run_id = ? ORDER BY round, started_at", (run_id,)
        ).fetchall()
        return [self._step(r) for r in rows]

    @staticmethod
    def _step(row: sqlite3.Row) -> StepRow:
        usage = TokenUsage(row["input_tokens"], row["output_tokens"], row["total_tokens"])
        return StepRow(row["round"], row["role"], row["status"], row["attempts"], usage,
                       row["error"])

    def start_step(self, run_id: str, number: int, role: str) -> None:
        self.db.execute(
            "INSERT INTO distill_steps(run_id, round, role, status, attempts, started_at) "
            "VALUES (?, ?, ?, 'running', 1, ?) ON CONFLICT(run_id, round, role) DO UPDATE SET "
            "status = 'running', attempts = attempts + 1, error = NULL, started_at = ?, "
            "ended_at = NULL",
            (run_id, number, role, time.time(), time.time()),
        )

    def end_step(self, run_id: str, number: int, role: str, *, ok: bool, usage: TokenUsage,
                 session_id: str | None = None, error: str | None = None) -> None:
        # Tokens of failed attempts count too: they were spent against the budget.
        self.db.execute(
            "UPDATE distill_steps SET status = ?, input_tokens = input_tokens + ?, "
            "output_tokens = output_tokens + ?, total_tokens = total_tokens + ?, "
            "session_id = ?, error = ?, ended_at = ? WHERE run_id = ? AND round = ? AND role = ?",
            ("completed" if ok else "failed", usage.input_tokens, usage.output_tokens,
             usage.total_tokens, session_id, error, time.time(), run_id, number, role),
        )

    def tokens_used(self, run_id: str) -> int:
        row = self.db.execute(
            "SELECT COALESCE(SUM(total_tokens), 0) AS n FROM distill_steps WHERE run_id = ?",
            (run_id,),
        ).fetchone()
        return int(row["n"])
