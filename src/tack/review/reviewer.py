"""The reviewer agent: one model pass over a diff with the principles and lessons.

Findings are stored as review feedback (author `tack-reviewer`) on the run's pull request
record, so `tack learn` and `tack gc-report` see them like people's comments.
"""

from __future__ import annotations

import hashlib
import sqlite3
import subprocess
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from tack.learning.intake import run_pull_request
from tack.learning.lessons import LearningError
from tack.learning.model import ask, parse_json
from tack.learning.selection import relevant_lessons, render_lessons
from tack.store.feedback import FeedbackItem, FeedbackStore, PullRequestRecord
from tack.tracker.base import Issue
from tack.workflow.config import ServiceConfig

REVIEWER = "tack-reviewer"
SYSTEM_PROMPT = """\
You are a code reviewer. Review the diff against the code base's golden principles and the
lessons learned from earlier reviews. Report only real problems a person would ask to fix.
Answer with JSON only:
{"findings": [{"path": "<file>", "line": <line in the new file>, "severity":
"error|warning|note", "body": "<what is wrong and the fix, 1-3 sentences>"}]}
Give an empty list when the change is fine.
"""


@dataclass(frozen=True)
class ReviewFinding:
    path: str | None
    line: int | None
    severity: str
    body: str

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def __str__(self) -> str:
        where = f"{self.path}:{self.line or 1}: " if self.path else ""
        return f"{where}{self.severity}: {self.body}"


def branch_diff(repo_root: Path, branch: str, base: str = "HEAD") -> str:
    out = subprocess.run(["git", "-C", str(repo_root), "diff", f"{base}...{branch}"],
                         capture_output=True, text=True, check=False)
    if out.returncode != 0:
        raise LearningError(f"tack review: cannot diff {branch!r} against {base!r} in "
                            f"{repo_root}: {out.stderr.strip()}. Name an existing branch, "
                            "or pass --base.")
    return out.stdout


def review_diff(config: ServiceConfig, repo_root: Path, diff: str, *,
                subject: str) -> list[ReviewFinding]:
    """Ask the reviewer model about `diff`; `subject` names the branch or run in the prompt."""
    if not diff.strip():
        return []
    principles_path = repo_root / config.principles.path
    principles = (principles_path.read_text("utf-8")[:12_000] if principles_path.is_file()
                  else "(none)")
    limit = config.review.max_diff_chars
    clipped = diff if len(diff) <= limit else diff[:limit] + "\n... (diff truncated)"
    probe = Issue(id=subject, identifier=subject, title=subject, state="",
                  description=clipped[:4000])
    lessons = render_lessons(relevant_lessons(config, repo_root, probe)) or "(none)"
    prompt = (f"Review the change {subject}.\n\nGolden principles:\n{principles}\n\n"
              f"Lessons:\n{lessons}\n\nDiff:\n{clipped}")
    reply = ask(config.builtin, SYSTEM_PROMPT, prompt, what="tack review")
    try:
        items = parse_json(reply).get("findings")
    except ValueError as exc:
        raise LearningError(f"tack review: the reviewer model's answer is not the JSON asked "
                            f"for ({exc}). Try again or use a stronger builtin.model.") from None
    findings = []
    for item in items if isinstance(items, list) else []:
        if not isinstance(item, dict) or not str(item.get("body") or "").strip():
            continue
        line = item.get("line")
        severity = str(item.get("severity") or "warning")
        findings.append(ReviewFinding(
            path=str(item["path"]) if item.get("path") else None,
            line=line if isinstance(line, int) and line > 0 else None,
            severity=severity if severity in ("error", "warning", "note") else "warning",
            body=str(item["body"]).strip()))
    return findings


def review_run(config: ServiceConfig, repo_root: Path, db: sqlite3.Connection,
               run_id: int) -> tuple[list[ReviewFinding], int]:
    """Review a run's change (its branch, else its workspace) and store the findings.

    Returns the findings and how many are new. The worker calls this at hand-off when
    `review.on_handoff` is true.
    """
    from tack.learning.synthesis import run_diff

    pr = run_pull_request(db, run_id)
    diff = run_diff(db, repo_root, run_id, pr.branch, config.review.max_diff_chars)
    diff = "" if diff.startswith("(no diff") else diff
    findings = review_diff(config, repo_root, diff, subject=f"run {run_id} ({pr.identifier})")
    return findings, store_findings(db, findings, run_id=run_id)


def store_findings(db: sqlite3.Connection, findings: list[ReviewFinding], *,
                   run_id: int | None = None, branch: str | None = None) -> int:
    """Record findings as review comments on the run's (or branch's) record; returns new rows."""
    if run_id is not None:
        pr = run_pull_request(db, run_id)
    else:
        name = branch or "unknown"
        pr = PullRequestRecord(forge="tack", repo=f"branch:{name}", number=0, url=None,
                               run_id=None, issue_id="", identifier=name, branch=name)
        FeedbackStore(db).record_pull_request(pr)
    items = [FeedbackItem(
        kind="review_comment", author=REVIEWER, body=f.body, state=f.severity,
        sentiment=-1 if f.severity == "error" else 0, path=f.path, line=f.line,
        external_id="review-" + hashlib.sha256(
            f"{f.path}|{f.line}|{f.body}".encode()).hexdigest()[:16]) for f in findings]
    return FeedbackStore(db).record(pr, items)
