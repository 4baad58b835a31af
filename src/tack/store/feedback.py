"""Review feedback in the state db: the pull requests Tack opened for runs, and what people
said about them (reviews, review comments, comments, thumbs up/down, merge/close outcome),
keyed to run, issue, branch and PR so the learning loop can read it per run.
"""

from __future__ import annotations

import re
import sqlite3
import time
from collections.abc import Iterable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

_SCHEMA = """
CREATE TABLE IF NOT EXISTS pull_requests (
  forge TEXT NOT NULL,
  repo TEXT NOT NULL,
  number INTEGER NOT NULL,
  url TEXT,
  run_id INTEGER,
  issue_id TEXT NOT NULL,
  identifier TEXT NOT NULL,
  branch TEXT NOT NULL,
  base TEXT,
  head_sha TEXT,
  state TEXT NOT NULL DEFAULT 'open',
  created_at REAL NOT NULL,
  updated_at REAL NOT NULL,
  synced_at REAL,
  PRIMARY KEY (forge, repo, number)
);
CREATE INDEX IF NOT EXISTS pull_requests_issue ON pull_requests(issue_id);
CREATE TABLE IF NOT EXISTS review_feedback (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  forge TEXT NOT NULL,
  repo TEXT NOT NULL,
  pr_number INTEGER NOT NULL,
  kind TEXT NOT NULL,
  external_id TEXT NOT NULL,
  run_id INTEGER,
  issue_id TEXT NOT NULL,
  identifier TEXT NOT NULL,
  branch TEXT NOT NULL,
  pr_url TEXT,
  author TEXT,
  body TEXT,
  state TEXT,
  sentiment INTEGER NOT NULL DEFAULT 0,
  path TEXT,
  line INTEGER,
  target_id TEXT,
  created_at TEXT,
  recorded_at REAL NOT NULL,
  UNIQUE (forge, repo, pr_number, kind, external_id)
);
CREATE INDEX IF NOT EXISTS review_feedback_run ON review_feedback(run_id);
CREATE INDEX IF NOT EXISTS review_feedback_issue ON review_feedback(issue_id);
"""

KINDS = ("review", "review_comment", "comment", "reaction", "outcome")

# Every comment Tack (or its planner, reviewer or agents) posts ends with a hidden marker
# such as `<!-- tack:plan-rejected -->`: on a forge it shares the author account with people,
# so the marker, not the author, is what keeps Tack from taking its own words as feedback.
_OWN_MARK = re.compile(r"<!--\s*tack:[\w.-]+\s*-->")


def own_mark(kind: str) -> str:
    """The hidden marker for a comment of `kind` (plan, plan-approved, review, agent...)."""
    return f"<!-- tack:{kind} -->"


def mark_own(body: str, kind: str) -> str:
    """`body` with Tack's hidden marker appended (markdown hides it from readers)."""
    return f"{body.rstrip()}\n\n{own_mark(kind)}"


# Forges whose comments are markdown that hides an HTML comment; their accounts are often
# shared by people and Tack, so an agent's comment there is marked. (Local comments carry
# the author `agent`; Linear and Jira would show the marker as text.)
_MARKED_AGENT_COMMENTS = frozenset({"github", "gitlab"})


def agent_comment(tracker_kind: str, body: str) -> str:
    """The body an agent's comment (its hand-off summary) is posted with on `tracker_kind`."""
    return mark_own(body, "agent") if tracker_kind in _MARKED_AGENT_COMMENTS else body


def is_own(body: str | None) -> bool:
    """True when `body` is a comment Tack posted itself (it carries a Tack marker)."""
    return bool(body) and _OWN_MARK.search(body or "") is not None


def strip_marks(body: str) -> str:
    return _OWN_MARK.sub("", body).strip()


@dataclass(frozen=True)
class PullRequestRecord:
    forge: str
    repo: str
    number: int
    url: str | None
    run_id: int | None
    issue_id: str
    identifier: str
    branch: str
    base: str | None = None
    head_sha: str | None = None
    state: str = "open"


@dataclass(frozen=True)
class FeedbackItem:
    """One piece of feedback. `sentiment`: +1 (approve, thumbs up, merged), -1 (changes
    requested, thumbs down, closed unmerged), 0 otherwise. `target_id` is what a reaction is on."""

    kind: str
    external_id: str
    author: str | None
    body: str | None = None
    state: str | None = None
    sentiment: int = 0
    path: str | None = None
    line: int | None = None
    target_id: str | None = None
    created_at: str | None = None


@dataclass(frozen=True)
class StoredFeedback:
    pr: PullRequestRecord
    item: FeedbackItem

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self.item), "pr_number": self.pr.number, "pr_url": self.pr.url,
                "repo": self.pr.repo, "forge": self.pr.forge, "run_id": self.pr.run_id,
                "issue_id": self.pr.issue_id, "identifier": self.pr.identifier,
                "branch": self.pr.branch}


class FeedbackStore:
    """The two tables, on the state db's connection or its own (WAL, busy timeout)."""

    def __init__(self, db: sqlite3.Connection | Path | str) -> None:
        if isinstance(db, sqlite3.Connection):
            self.db = db
        else:
            Path(db).parent.mkdir(parents=True, exist_ok=True)
            self.db = sqlite3.connect(db, isolation_level=None, check_same_thread=False)
            self.db.execute("PRAGMA journal_mode=WAL")
            self.db.execute("PRAGMA busy_timeout=5000")
        self.db.executescript(_SCHEMA)

    def record_pull_request(self, pr: PullRequestRecord) -> None:
        now = time.time()
        self.db.execute(
            """INSERT INTO pull_requests (forge, repo, number, url, run_id, issue_id, identifier,
                 branch, base, head_sha, state, created_at, updated_at)
               VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?)
               ON CONFLICT (forge, repo, number) DO UPDATE SET url=excluded.url,
                 run_id=COALESCE(excluded.run_id, run_id), branch=excluded.branch,
                 base=excluded.base, head_sha=excluded.head_sha, state=excluded.state,
                 updated_at=excluded.updated_at""",
            (pr.forge, pr.repo, pr.number, pr.url, pr.run_id, pr.issue_id, pr.identifier,
             pr.branch, pr.base, pr.head_sha, pr.state, now, now),
        )

    def pull_requests(self, *, open_only: bool = False) -> list[PullRequestRecord]:
        sql = ("SELECT forge, repo, number, url, run_id, issue_id, identifier, branch, base, "
               "head_sha, state FROM pull_requests")
        if open_only:
            sql += " WHERE state = 'open'"
        return [PullRequestRecord(*row) for row in self.db.execute(sql + " ORDER BY created_at")]

    def set_state(self, pr: PullRequestRecord, state: str) -> None:
        self.db.execute(
            "UPDATE pull_requests SET state=?, synced_at=? WHERE forge=? AND repo=? AND number=?",
            (state, time.time(), pr.forge, pr.repo, pr.number),
        )

    def record(self, pr: PullRequestRecord, items: Iterable[FeedbackItem]) -> int:
        """Upsert feedback for `pr`; returns how many rows are new. Edits update in place.

        Tack's own comments (`is_own`) are never feedback and are dropped here, whichever
        adapter read them."""
        new = 0
        now = time.time()
        self.db.execute("BEGIN IMMEDIATE")
        try:
            for item in items:
                if is_own(item.body):
                    continue
                exists = self.db.execute(
                    "SELECT 1 FROM review_feedback WHERE forge=? AND repo=? AND pr_number=? "
                    "AND kind=? AND external_id=?",
                    (pr.forge, pr.repo, pr.number, item.kind, item.external_id),
                ).fetchone()
                new += exists is None
                self.db.execute(
                    """INSERT INTO review_feedback (forge, repo, pr_number, kind, external_id,
                         run_id, issue_id, identifier, branch, pr_url, author, body, state,
                         sentiment, path, line, target_id, created_at, recorded_at)
                       VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)
                       ON CONFLICT (forge, repo, pr_number, kind, external_id) DO UPDATE SET
                         body=excluded.body, state=excluded.state, sentiment=excluded.sentiment,
                         author=excluded.author""",
                    (pr.forge, pr.repo, pr.number, item.kind, item.external_id, pr.run_id,
                     pr.issue_id, pr.identifier, pr.branch, pr.url, item.author, item.body,
                     item.state, item.sentiment, item.path, item.line, item.target_id,
                     item.created_at, now),
                )
            self.db.execute("COMMIT")
        except BaseException:
            self.db.execute("ROLLBACK")
            raise
        return new

    def feedback(self, *, run_id: int | None = None, issue_id: str | None = None,
                 pr_number: int | None = None) -> list[StoredFeedback]:
        where, args = [], []
        for column, value in (("f.run_id", run_id), ("f.issue_id", issue_id),
                              ("f.pr_number", pr_number)):
            if value is not None:
                where.append(f"{column} = ?")
                args.append(value)
        sql = (
            "SELECT p.forge, p.repo, p.number, p.url, p.run_id, p.issue_id, p.identifier, "
            "p.branch, p.base, p.head_sha, p.state, f.kind, f.external_id, f.author, f.body, "
            "f.state, f.sentiment, f.path, f.line, f.target_id, f.created_at "
            "FROM review_feedback f JOIN pull_requests p ON p.forge=f.forge AND p.repo=f.repo "
            "AND p.number=f.pr_number"
        )
        if where:
            sql += " WHERE " + " AND ".join(where)
        rows = self.db.execute(sql + " ORDER BY f.id", args).fetchall()
        return [StoredFeedback(PullRequestRecord(*row[:11]), FeedbackItem(*row[11:]))
                for row in rows]

    def close(self) -> None:
        self.db.close()
