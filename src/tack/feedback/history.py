"""Finding history in the state database: how often a finding was seen, where it was fixed.

Each `tack check` run records the fingerprints it found. A fingerprint present in the
previous run of the same checks (on this branch, or anywhere when the branch is new) and
absent now was fixed on this branch.
Tables live in `.tack/state.db` beside the orchestrator's, created on first use.
"""

from __future__ import annotations

import sqlite3
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Self

from tack.feedback.model import Finding

_SCHEMA = """
CREATE TABLE IF NOT EXISTS feedback_runs (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  at REAL NOT NULL,
  branch TEXT NOT NULL,
  scope TEXT NOT NULL,
  exit_code INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS feedback_runs_scope ON feedback_runs(branch, scope, id);
CREATE TABLE IF NOT EXISTS feedback_sightings (
  run_id INTEGER NOT NULL,
  fingerprint TEXT NOT NULL,
  PRIMARY KEY (run_id, fingerprint)
);
CREATE INDEX IF NOT EXISTS feedback_sightings_fp ON feedback_sightings(fingerprint);
CREATE TABLE IF NOT EXISTS feedback_fixes (
  fingerprint TEXT NOT NULL,
  branch TEXT NOT NULL,
  run_id INTEGER NOT NULL,
  at REAL NOT NULL
);
CREATE INDEX IF NOT EXISTS feedback_fixes_fp ON feedback_fixes(fingerprint, at);
"""


@dataclass(frozen=True)
class Recorded:
    run_id: int
    fixed: int  # fingerprints that disappeared since the last run of these checks here


def current_branch(cwd: Path) -> str:
    try:
        out = subprocess.run(["git", "rev-parse", "--abbrev-ref", "HEAD"], cwd=cwd,
                             capture_output=True, text=True, timeout=20, check=False)
    except (OSError, subprocess.TimeoutExpired):
        return "(no git)"
    return out.stdout.strip() if out.returncode == 0 and out.stdout.strip() else "(no git)"


class FindingHistory:
    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.db = sqlite3.connect(path, timeout=30)
        self.db.execute("PRAGMA journal_mode=WAL")
        self.db.executescript(_SCHEMA)

    def close(self) -> None:
        self.db.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def annotate(self, findings: list[Finding]) -> None:
        """Say, on each finding seen before, how often and where it was last fixed."""
        for finding in findings:
            fp = finding.fingerprint
            (seen,) = self.db.execute(
                "SELECT COUNT(*) FROM feedback_sightings WHERE fingerprint = ?", (fp,)
            ).fetchone()
            if not seen:
                continue
            note = f"seen {seen} time{'s' if seen != 1 else ''} before"
            fix = self.db.execute(
                "SELECT branch, at FROM feedback_fixes WHERE fingerprint = ? "
                "ORDER BY at DESC, rowid DESC LIMIT 1", (fp,)).fetchone()
            if fix:
                note += f", last fixed on branch {fix[0]} ({time.strftime('%Y-%m-%d', time.localtime(fix[1]))})"
            finding.history = note

    def record(self, findings: list[Finding], *, branch: str, scope: str,
               exit_code: int) -> Recorded:
        now = time.time()
        with self.db:
            # The last run of these checks here; on a new branch, the last run anywhere
            # (the branch started from that code).
            previous = self.db.execute(
                "SELECT id FROM feedback_runs WHERE branch = ? AND scope = ? "
                "ORDER BY id DESC LIMIT 1", (branch, scope)).fetchone() or self.db.execute(
                "SELECT id FROM feedback_runs WHERE scope = ? ORDER BY id DESC LIMIT 1",
                (scope,)).fetchone()
            run_id = self.db.execute(
                "INSERT INTO feedback_runs (at, branch, scope, exit_code) VALUES (?, ?, ?, ?)",
                (now, branch, scope, exit_code)).lastrowid
            assert run_id is not None
            current = {f.fingerprint for f in findings}
            self.db.executemany(
                "INSERT OR IGNORE INTO feedback_sightings (run_id, fingerprint) VALUES (?, ?)",
                [(run_id, fp) for fp in current])
            fixed: set[str] = set()
            if previous:
                before = {row[0] for row in self.db.execute(
                    "SELECT fingerprint FROM feedback_sightings WHERE run_id = ?", previous)}
                fixed = before - current
                self.db.executemany(
                    "INSERT INTO feedback_fixes (fingerprint, branch, run_id, at) "
                    "VALUES (?, ?, ?, ?)", [(fp, branch, run_id, now) for fp in sorted(fixed)])
        return Recorded(run_id, len(fixed))
