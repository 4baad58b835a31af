"""Read-only metric queries over the state db, plus the one metric only git knows (PRs).

Every query is bounded (aggregates, or `LIMIT`ed scans from recent rows backwards), so the
dashboard stays fast on a store with tens of thousands of runs.
"""

from __future__ import annotations

import re
import sqlite3
import statistics
import subprocess
import time
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from tack.errors import StoreError

# The worker's note when an issue leaves the active states mid-session, or reconciliation's
# when it sees the move first; with the hand-off state named in it, that is a hand-off.
_MOVED = re.compile(r"^(?:issue moved to '(?P<state>.*)'; ending the session"
                    r"|stopping run: issue is now '(?P<seen>.*)')$")
_SINCE = re.compile(r"^\s*(\d+)\s*([smhdw])\s*$")
_UNIT_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 7 * 86400}


def parse_since(value: str) -> float:
    """'7d', '12h', '30m', '2w' → seconds."""
    match = _SINCE.match(value)
    if not match:
        raise ValueError(f"{value!r} is not a duration; write it like 7d, 12h, 30m or 2w")
    return int(match.group(1)) * _UNIT_SECONDS[match.group(2)]


def open_readonly(path: Path) -> sqlite3.Connection:
    """Open the state db without taking the orchestrator's lock (WAL allows a live reader)."""
    if not path.exists():
        raise StoreError(
            f"No state db at {path}: nothing has run yet. Start `tack up` in this project, or "
            f"pass --workflow for the project whose metrics you want."
        )
    db = sqlite3.connect(f"file:{path}?mode=ro", uri=True, check_same_thread=False)
    db.row_factory = sqlite3.Row
    db.execute("PRAGMA busy_timeout=5000")
    return db


@dataclass
class Handoff:
    identifier: str
    at: float
    run_id: int
    seconds_to_handoff: float  # first run of the issue started → hand-off


@dataclass
class Metrics:
    since: float
    until: float
    runs_total: int = 0
    runs_by_status: dict[str, int] = field(default_factory=dict)
    success_rate: float | None = None  # succeeded / finished, None when nothing finished
    tokens_total: int = 0
    tokens_per_day: list[dict[str, Any]] = field(default_factory=list)
    tokens_per_issue: list[dict[str, Any]] = field(default_factory=list)
    retries_by_kind: dict[str, int] = field(default_factory=dict)
    # A continuation is the re-check scheduled after a clean exit, not a retry of a failure:
    # three runs that all succeeded at their first attempt are 0 retries and 3 continuations.
    retries_total: int = 0
    continuations_total: int = 0
    failure_reasons: list[dict[str, Any]] = field(default_factory=list)
    handoffs: list[Handoff] = field(default_factory=list)
    median_seconds_to_handoff: float | None = None
    prs_per_engineer_week: list[dict[str, Any]] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out["handoffs_total"] = len(self.handoffs)
        return out


def collect(
    db: sqlite3.Connection,
    *,
    since: float,
    handoff_state: str,
    repo: Path | None = None,
    branch_prefix: str = "tack/",
    top: int = 20,
) -> Metrics:
    """All metrics for runs started (and events recorded) at or after `since` (epoch s)."""
    m = Metrics(since=since, until=time.time())
    for row in db.execute(
        "SELECT status, COUNT(*) AS n FROM runs WHERE started_at >= ? GROUP BY status", (since,)
    ):
        m.runs_by_status[row["status"]] = int(row["n"])
    m.runs_total = sum(m.runs_by_status.values())
    finished = m.runs_total - m.runs_by_status.get("running", 0)
    if finished:
        m.success_rate = round(m.runs_by_status.get("succeeded", 0) / finished, 4)
    m.tokens_per_day = [
        {"day": r["day"], "tokens": int(r["t"]), "runs": int(r["n"])}
        for r in db.execute(
            "SELECT date(started_at, 'unixepoch') AS day, SUM(total_tokens) AS t, COUNT(*) AS n"
            " FROM runs WHERE started_at >= ? GROUP BY day ORDER BY day",
            (since,),
        )
    ]
    m.tokens_total = sum(d["tokens"] for d in m.tokens_per_day)
    m.tokens_per_issue = [
        {"issue_identifier": r["identifier"], "tokens": int(r["t"]), "runs": int(r["n"])}
        for r in db.execute(
            "SELECT identifier, SUM(total_tokens) AS t, COUNT(*) AS n FROM runs"
            " WHERE started_at >= ? GROUP BY identifier ORDER BY t DESC, identifier LIMIT ?",
            (since, top),
        )
    ]
    m.retries_by_kind = _retries_by_kind(db, since)
    m.continuations_total = m.retries_by_kind.get(CONTINUATION, 0)
    m.retries_total = sum(m.retries_by_kind.values()) - m.continuations_total
    m.failure_reasons = [
        {"reason": r["reason"], "count": int(r["n"])}
        for r in db.execute(
            "SELECT COALESCE(error, status) AS reason, COUNT(*) AS n FROM runs"
            " WHERE started_at >= ? AND status NOT IN ('running', 'succeeded')"
            " GROUP BY reason ORDER BY n DESC, reason LIMIT ?",
            (since, top),
        )
    ]
    m.handoffs = handoffs_since(db, since, handoff_state)
    if m.handoffs:
        m.median_seconds_to_handoff = round(
            statistics.median(h.seconds_to_handoff for h in m.handoffs), 3
        )
    if repo is not None:
        m.prs_per_engineer_week = prs_per_engineer_week(repo, since, branch_prefix)
    return m


CONTINUATION = "continuation"


def _retries_by_kind(db: sqlite3.Connection, since: float) -> dict[str, int]:
    # The orchestrator writes "retry #N in D ms (kind)..." on every scheduled retry.
    out: dict[str, int] = {}
    for row in db.execute(
        "SELECT message FROM events WHERE kind = 'retry_scheduled' AND at >= ?", (since,)
    ):
        match = re.search(r"\((\w+)\)", row["message"] or "")
        kind = match.group(1) if match else "unknown"
        out[kind] = out.get(kind, 0) + 1
    return out


def _handoff_rows(rows: list[sqlite3.Row], handoff_state: str) -> list[sqlite3.Row]:
    wanted = handoff_state.strip().lower()
    out, runs = [], set()
    for row in rows:
        match = _MOVED.match(row["message"] or "")
        state = match and (match.group("state") or match.group("seen") or "")
        if state and state.strip().lower() == wanted and row["run_id"] not in runs:
            runs.add(row["run_id"])  # both notes can exist for one run: count it once
            out.append(row)
    return out


def _with_lead_time(db: sqlite3.Connection, rows: list[sqlite3.Row]) -> list[Handoff]:
    out = []
    for row in rows:
        first = db.execute(
            "SELECT MIN(started_at) FROM runs WHERE identifier = ?", (row["identifier"],)
        ).fetchone()[0]
        start = float(first) if first is not None else float(row["at"])
        out.append(
            Handoff(row["identifier"], float(row["at"]), int(row["run_id"] or 0),
                    round(float(row["at"]) - start, 3))
        )
    return out


def handoffs_since(db: sqlite3.Connection, since: float, handoff_state: str) -> list[Handoff]:
    rows = db.execute(
        "SELECT identifier, at, run_id, message FROM events WHERE kind = 'orchestrator'"
        " AND at >= ? AND (message LIKE 'issue moved to %' OR message LIKE 'stopping run: %')"
        " ORDER BY id",
        (since,),
    ).fetchall()
    return _with_lead_time(db, _handoff_rows(rows, handoff_state))


def recent_handoffs(
    db: sqlite3.Connection, handoff_state: str, limit: int = 10, window_runs: int = 200
) -> list[Handoff]:
    """Newest hand-offs among the last `window_runs` runs (an index-bounded scan)."""
    rows = db.execute(
        "SELECT identifier, at, run_id, message FROM events WHERE run_id IN"
        " (SELECT id FROM runs ORDER BY id DESC LIMIT ?) AND kind = 'orchestrator'"
        " AND (message LIKE 'issue moved to %' OR message LIKE 'stopping run: %')"
        " ORDER BY id DESC",
        (window_runs,),
    ).fetchall()
    return _with_lead_time(db, _handoff_rows(rows, handoff_state)[:limit])


def _git_date(ts: float) -> str:
    return datetime.fromtimestamp(ts, tz=UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def prs_per_engineer_week(repo: Path, since: float, branch_prefix: str = "tack/") -> list[dict[str, Any]]:
    """Agent branches merged into HEAD, per author of the merge and ISO week of merging.

    A merge counts when a commit on HEAD's history has several parents and its subject names a
    `branch_prefix` branch: git's "Merge branch 'tack/x'" and GitHub's "Merge pull request #n
    from owner/tack/x" both do. Squash merges leave no trace in git and are not counted.
    """
    try:
        out = subprocess.run(
            ["git", "log", "--merges", f"--since={_git_date(since)}", "--format=%an%x09%ct%x09%s",
             "HEAD"],
            cwd=repo, capture_output=True, text=True, timeout=30, check=False,
        )
    except (OSError, subprocess.TimeoutExpired):
        return []
    if out.returncode != 0:
        return []
    counts: dict[tuple[str, str], int] = {}
    needle = re.compile(r"(^|[\s'/\"])" + re.escape(branch_prefix))
    for line in out.stdout.splitlines():
        parts = line.split("\t", 2)
        if len(parts) != 3 or not needle.search(parts[2]) or int(parts[1]) < since:
            continue
        year, week, _ = datetime.fromtimestamp(int(parts[1]), tz=UTC).isocalendar()
        key = (parts[0], f"{year}-W{week:02d}")
        counts[key] = counts.get(key, 0) + 1
    return [
        {"engineer": engineer, "week": week, "prs": n}
        for (engineer, week), n in sorted(counts.items(), key=lambda kv: (kv[0][1], kv[0][0]))
    ]


def run_rows(db: sqlite3.Connection, *, identifier: str | None = None,
             limit: int = 20) -> list[dict[str, Any]]:
    """The newest runs first (running ones too), optionally of one issue: what `tack runs`
    lists, so a person can find the run id `tack feedback RUN` takes."""
    where, params = ("WHERE identifier = ? COLLATE NOCASE", [identifier]) if identifier else ("", [])
    rows = db.execute(
        "SELECT id, identifier, attempt, status, started_at, ended_at, error, turn_count,"
        f" total_tokens FROM runs {where} ORDER BY id DESC LIMIT ?", [*params, limit]
    ).fetchall()
    return [
        {
            "run_id": int(r["id"]),
            "issue_identifier": r["identifier"],
            "attempt": r["attempt"],
            "status": r["status"],
            "started_at": _iso(r["started_at"]),
            "ended_at": _iso(r["ended_at"]),
            "error": r["error"],
            "turn_count": int(r["turn_count"]),
            "total_tokens": int(r["total_tokens"]),
        }
        for r in rows
    ]


def _iso(ts: float | None) -> str | None:
    if ts is None:
        return None
    return datetime.fromtimestamp(ts, tz=UTC).isoformat(timespec="seconds").replace("+00:00", "Z")
