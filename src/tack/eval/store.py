"""An eval run's results in SQLite: one row per (task, variant, repeat), so a run resumes by
skipping the trials already scored."""

from __future__ import annotations

import json
import sqlite3
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from tack.eval.suite import EvalError

SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS trials (
  task_id TEXT NOT NULL,
  variant TEXT NOT NULL,
  repeat INTEGER NOT NULL,
  status TEXT NOT NULL,
  resolved INTEGER NOT NULL DEFAULT 0,
  handed_off INTEGER NOT NULL DEFAULT 0,
  fail_to_pass_passed INTEGER NOT NULL DEFAULT 0,
  fail_to_pass_total INTEGER NOT NULL DEFAULT 0,
  pass_to_pass_passed INTEGER NOT NULL DEFAULT 0,
  pass_to_pass_total INTEGER NOT NULL DEFAULT 0,
  input_tokens INTEGER NOT NULL DEFAULT 0,
  output_tokens INTEGER NOT NULL DEFAULT 0,
  turns INTEGER NOT NULL DEFAULT 0,
  agent_s REAL NOT NULL DEFAULT 0,
  setup_s REAL NOT NULL DEFAULT 0,
  verify_s REAL NOT NULL DEFAULT 0,
  wall_s REAL NOT NULL DEFAULT 0,
  error TEXT,
  detail TEXT NOT NULL DEFAULT '{}',
  finished_at REAL NOT NULL,
  PRIMARY KEY (task_id, variant, repeat)
);
"""
RESULTS_FILE = "results.sqlite"


@dataclass
class TrialResult:
    task_id: str
    variant: str
    repeat: int
    status: str  # "scored" (hidden tests ran) or "error"
    resolved: bool = False
    handed_off: bool = False
    fail_to_pass_passed: int = 0
    fail_to_pass_total: int = 0
    pass_to_pass_passed: int = 0
    pass_to_pass_total: int = 0
    input_tokens: int = 0
    output_tokens: int = 0
    turns: int = 0
    agent_s: float = 0.0
    setup_s: float = 0.0
    verify_s: float = 0.0
    wall_s: float = 0.0
    error: str | None = None
    detail: dict[str, Any] = field(default_factory=dict)

    @property
    def overhead_s(self) -> float:
        """Tack's own time for this trial: set-up plus hidden tests."""
        return self.setup_s + self.verify_s


class EvalStore:
    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        self.db = sqlite3.connect(path, check_same_thread=False)
        self.db.row_factory = sqlite3.Row
        self.db.execute("PRAGMA journal_mode=WAL")
        self.db.executescript(SCHEMA)

    @classmethod
    def open_run(cls, run: str | Path) -> EvalStore:
        """An existing run, named by its directory or its results file."""
        path = Path(run).expanduser()
        path = path / RESULTS_FILE if path.is_dir() else path
        if not path.is_file():
            raise EvalError(f"no eval run at {run}: pass the directory `tack eval run` wrote "
                            f"(it holds {RESULTS_FILE}).")
        return cls(path)

    def close(self) -> None:
        self.db.close()

    def set_meta(self, key: str, value: Any) -> None:
        with self.db:
            self.db.execute("INSERT OR REPLACE INTO meta VALUES (?, ?)", (key, json.dumps(value)))

    def meta(self, key: str, default: Any = None) -> Any:
        row = self.db.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        return json.loads(row["value"]) if row else default

    def done(self) -> set[tuple[str, str, int]]:
        """Trials that need no re-run: scored ones (errors are tried again on resume)."""
        rows = self.db.execute("SELECT task_id, variant, repeat FROM trials WHERE status = 'scored'")
        return {(r["task_id"], r["variant"], int(r["repeat"])) for r in rows}

    def record(self, result: TrialResult) -> None:
        data = asdict(result)
        data["detail"] = json.dumps(result.detail)
        data["finished_at"] = time.time()
        cols = ", ".join(data)
        marks = ", ".join("?" for _ in data)
        with self.db:
            self.db.execute(f"INSERT OR REPLACE INTO trials ({cols}) VALUES ({marks})",
                            tuple(data.values()))

    def results(self) -> list[TrialResult]:
        out = []
        for row in self.db.execute("SELECT * FROM trials ORDER BY task_id, variant, repeat"):
            data = dict(row)
            data.pop("finished_at")
            data["detail"] = json.loads(data["detail"] or "{}")
            data["resolved"] = bool(data["resolved"])
            data["handed_off"] = bool(data["handed_off"])
            out.append(TrialResult(**data))
        return out
