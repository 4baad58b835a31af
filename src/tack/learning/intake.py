"""Feedback intake: thumbs and comments from the CLI, and comments on local tracker issues.

Everything lands in the state db's `review_feedback` table (tack.store.feedback), tied to the
run, issue and branch, beside what the forge adapters sync from GitHub/GitLab pull requests.
Feedback on a run without a pull request is filed under forge `tack`, repo `runs`, number = run id.
"""

from __future__ import annotations

import hashlib
import sqlite3
import subprocess
import uuid
from collections.abc import Iterable
from datetime import UTC, datetime
from pathlib import Path

from tack.learning.lessons import LearningError
from tack.store.feedback import FeedbackItem, FeedbackStore, PullRequestRecord
from tack.tracker.base import Issue

# Comment authors that are Tack or its agents, not people giving feedback.
MACHINE_AUTHORS = frozenset({"agent", "tack", "tack-reviewer", "tack-planner"})
_DOWN = ("👎", "-1", ":-1:", "thumbs down", "thumbs-down")
_UP = ("👍", "+1", ":+1:", "thumbs up", "thumbs-up", "lgtm")


def _run_row(db: sqlite3.Connection, run_id: int) -> tuple[str, str, str | None, float]:
    row = db.execute("SELECT issue_id, identifier, workspace, started_at FROM runs WHERE id = ?",
                     (run_id,)).fetchone()
    if row is None:
        raise LearningError(f"There is no run {run_id} in the state db. List runs with "
                            "`tack runs` (or `tack status`) and give feedback on one of those ids.")
    return str(row[0]), str(row[1]), row[2], float(row[3])


def _branch(workspace: str | None, identifier: str) -> str:
    if workspace and Path(workspace).is_dir():
        out = subprocess.run(["git", "-C", workspace, "rev-parse", "--abbrev-ref", "HEAD"],
                             capture_output=True, text=True, check=False)
        if out.returncode == 0 and out.stdout.strip() not in ("", "HEAD"):
            return out.stdout.strip()
    return f"tack/{identifier}"


def run_pull_request(db: sqlite3.Connection, run_id: int) -> PullRequestRecord:
    """The run's pull request when Tack opened one, else the run's own feedback record."""
    store = FeedbackStore(db)
    for pr in store.pull_requests():
        if pr.run_id == run_id:
            return pr
    issue_id, identifier, workspace, _ = _run_row(db, run_id)
    pr = PullRequestRecord(forge="tack", repo="runs", number=run_id, url=None, run_id=run_id,
                           issue_id=issue_id, identifier=identifier,
                           branch=_branch(workspace, identifier))
    store.record_pull_request(pr)
    return pr


def give_feedback(db: sqlite3.Connection, run_id: int, *, sentiment: int,
                  comment: str | None = None, author: str | None = None) -> int:
    """Record a thumbs up/down (and optional comment) on a run; returns the feedback row id."""
    pr = run_pull_request(db, run_id)
    external_id = f"cli-{uuid.uuid4().hex[:12]}"
    kind = "comment" if comment else "reaction"
    item = FeedbackItem(kind=kind, external_id=external_id, author=author or "cli",
                        body=comment, state="thumbs_up" if sentiment > 0 else "thumbs_down",
                        sentiment=sentiment,
                        created_at=datetime.now(UTC).isoformat())
    FeedbackStore(db).record(pr, [item])
    row = db.execute("SELECT id FROM review_feedback WHERE forge=? AND repo=? AND pr_number=? "
                     "AND kind=? AND external_id=?",
                     (pr.forge, pr.repo, pr.number, kind, external_id)).fetchone()
    return int(row[0])


def comment_sentiment(body: str) -> int:
    head = body.strip().lower()
    if head.startswith(_DOWN):
        return -1
    if head.startswith(_UP):
        return 1
    return 0


def ingest_issue_comments(db: sqlite3.Connection, issues: Iterable[Issue]) -> int:
    """People's comments on issues Tack ran become feedback on the latest run before them.

    Returns how many rows are new; re-ingesting the same comments adds nothing.
    """
    store = FeedbackStore(db)
    new = 0
    for issue in issues:
        runs = db.execute("SELECT id, started_at FROM runs WHERE issue_id = ? OR identifier = ? "
                          "ORDER BY started_at", (issue.id, issue.identifier)).fetchall()
        if not runs:
            continue
        for comment in issue.comments:
            if comment.author.strip().lower() in MACHINE_AUTHORS or not comment.body.strip():
                continue
            at = comment.created_at.timestamp()
            before = [r for r in runs if float(r[1]) <= at]
            if not before:
                continue
            run_id = int(before[-1][0])
            digest = hashlib.sha256(
                f"{issue.id}|{comment.created_at.isoformat()}|{comment.author}|{comment.body}"
                .encode()).hexdigest()[:16]
            sentiment = comment_sentiment(comment.body)
            item = FeedbackItem(kind="comment", external_id=f"local-{digest}",
                                author=comment.author, body=comment.body,
                                sentiment=sentiment, created_at=comment.created_at.isoformat())
            new += store.record(run_pull_request(db, run_id), [item])
    return new
