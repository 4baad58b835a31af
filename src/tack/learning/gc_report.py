"""`tack gc-report`: the week in one markdown page for the Friday meeting.

Recurring feedback, slop the scanner found, lessons added, principles proposed, and the top
sources of retries and failures, all read from the state db, the lessons and the tracker.
"""

from __future__ import annotations

import re
import sqlite3
import time
from collections import Counter
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from tack.learning import ledger
from tack.learning.lessons import LearningError, Lesson, LessonBook
from tack.learning.synthesis import lessons_dir
from tack.tracker.base import Issue
from tack.workflow.config import ServiceConfig

_SPAN = re.compile(r"^\s*(\d+)\s*([smhdw])\s*$")
_UNIT = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 7 * 86400}


def parse_since(text: str) -> float:
    """`7d`, `36h`, `2w` → seconds."""
    match = _SPAN.match(text)
    if not match:
        raise LearningError(f"--since {text!r} is not a span. Write a number and a unit, "
                            "for example `7d`, `36h` or `2w`.")
    return int(match.group(1)) * _UNIT[match.group(2)]


def _epoch(iso: str) -> float:
    try:
        parsed = datetime.fromisoformat(iso)
    except ValueError:
        return 0.0
    return (parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)).timestamp()


def _day(ts: float) -> str:
    return datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%d")


def _one_line(text: str | None, limit: int = 100) -> str:
    flat = " ".join((text or "").split())
    return flat if len(flat) <= limit else flat[: limit - 1] + "…"


def _cell(text: str) -> str:
    return text.replace("|", "\\|")


def render_gc_report(config: ServiceConfig, repo_root: Path, db: sqlite3.Connection, *,
                     since_seconds: float, scan_issues: list[Issue] | None = None,
                     now: float | None = None) -> str:
    now = time.time() if now is None else now
    start = now - since_seconds
    ledger.ensure_schema(db)
    lessons = LessonBook(lessons_dir(config, repo_root)).load()
    runs = db.execute("SELECT id, issue_id, identifier, status, error FROM runs "
                      "WHERE started_at >= ?", (start,)).fetchall()
    feedback = ledger.feedback_rows(db, since=start)
    added = [x for x in lessons if _epoch(x.created) >= start]
    recurring = sorted((x for x in lessons if x.occurrences > 1 and _epoch(x.updated) >= start),
                       key=lambda x: (-x.occurrences, x.id))
    proposed = [x for x in lessons if x.proposed and _epoch(x.updated) >= start]

    out = [f"# Tack weekly report: {_day(start)} to {_day(now)}", ""]
    statuses = Counter(str(r[3]) for r in runs)
    down = sum(1 for f in feedback if f.sentiment < 0)
    up = sum(1 for f in feedback if f.sentiment > 0)
    by_status = ", ".join(f"{n} {s}" for s, n in sorted(statuses.items())) or "none"
    out += ["## Summary", "",
            f"- Runs: {len(runs)} ({by_status})",
            (f"- Feedback: {len(feedback)} ({down} negative, {up} positive, "
             f"{len(feedback) - down - up} neutral)"),
            (f"- Lessons added: {len(added)}; recurring: {len(recurring)}; "
             f"principles proposed: {len(proposed)}"), ""]

    out += ["## Recurring feedback", ""]
    if recurring:
        out += ["| lesson | title | times | recurred after the lesson was given |",
                "|---|---|---|---|"]
        for x in recurring:
            out.append(f"| {x.id} | {_cell(x.title)} | {x.occurrences} | "
                       f"{_recurred_after(db, x)} |")
    else:
        out.append("Nothing recurred this week.")
    negatives = [f for f in feedback if f.sentiment < 0 or (f.body and f.sentiment == 0)]
    if negatives:
        out += ["", "Feedback given this week:", ""]
        out += [f"- {f.identifier} ({f'run {f.run_id}' if f.run_id else 'no run'}, "
                f"{f.author or 'someone'}): "
                f"{_one_line(f.body) or 'thumbs down'}" for f in negatives[:20]]
    out.append("")

    out += ["## Slop found by the scanner", ""]
    if scan_issues is None:
        out.append("The tracker is not the local one; see your tracker for `tack-scan` issues.")
    else:
        fresh = [i for i in scan_issues if i.created_at and i.created_at.timestamp() >= start]
        by_rule = Counter(lbl for i in fresh for lbl in i.labels if lbl.startswith("principle:"))
        out.append(f"{len(fresh)} new fix issue(s) filed by `tack scan --file-issues`, "
                   f"{len(scan_issues)} in total.")
        out += [f"- {rule.split(':', 1)[1].upper()}: {n}" for rule, n in by_rule.most_common(10)]
    out.append("")

    out += ["## Lessons added", ""]
    out += [f"- {x.id}: {x.title} (from {', '.join(x.evidence[:4]) or 'no evidence'})"
            for x in added] or ["None this week."]
    out += ["", "## Principles proposed", ""]
    out += [f"- {x.id}: {x.title} (seen {x.occurrences} times; draft in "
            f"{lessons_dir(config, repo_root).name}/PROPOSED_PRINCIPLES.md)"
            for x in proposed] or ["None this week."]
    from tack.questions.kinds import kinds_report  # tack.learning's package imports this module

    out += ["", "## Where human time went (questions agents asked)", ""]
    out += kinds_report(db, start)
    out += ["", "## Top sources of retries and failures", ""]
    out += _failures(runs)
    return "\n".join(out).rstrip() + "\n"


@dataclass(frozen=True)
class AgreedItem:
    """Something the weekly report suggests doing, ready to file as an issue."""

    title: str
    description: str


def agreed_items(config: ServiceConfig, repo_root: Path, db: sqlite3.Connection, *,
                 since_seconds: float, now: float | None = None) -> list[AgreedItem]:
    """Principles to adopt and lessons that did not stop their feedback, from this window."""
    start = (time.time() if now is None else now) - since_seconds
    directory = lessons_dir(config, repo_root)
    items = []
    for lesson in LessonBook(directory).load():
        if _epoch(lesson.updated) < start:
            continue
        if lesson.proposed:
            items.append(AgreedItem(
                f"Adopt lesson {lesson.id} as a golden principle: {lesson.title}",
                f"Seen {lesson.occurrences} times ({', '.join(lesson.evidence[:8])}). The draft "
                f"is in {directory.name}/PROPOSED_PRINCIPLES.md; give it a P id, add a check if "
                "one fits, and move it into PRINCIPLES.md."))
        recurred = _recurred_after(db, lesson)
        if recurred:
            items.append(AgreedItem(
                f"Lesson {lesson.id} did not stop its feedback: {lesson.title}",
                f"The same feedback came back on {recurred} run(s) whose prompt carried this "
                f"lesson. Make it clearer or more specific, or enforce it with a check.\n\n"
                f"{lesson.body}"))
    return items


def _recurred_after(db: sqlite3.Connection, lesson: Lesson) -> int:
    given = ledger.runs_given(db, lesson.id)
    return sum(1 for e in lesson.evidence if e.startswith("run:") and int(e[4:]) in given)


def _failures(runs: list[sqlite3.Row]) -> list[str]:
    failed = [r for r in runs if r[3] not in ("succeeded", "running")]
    per_issue = Counter(str(r[2]) for r in runs)
    retried = [(ident, n) for ident, n in per_issue.most_common(5) if n > 1]
    lines: list[str] = []
    if failed:
        errors = Counter(_one_line(r[4] or r[3], 80) for r in failed)
        lines += ["| runs | status or error |", "|---|---|"]
        lines += [f"| {n} | {_cell(err)} |" for err, n in errors.most_common(5)]
    else:
        lines.append("No failed runs.")
    if retried:
        lines += ["", "Issues that took the most runs:", ""]
        lines += [f"- {ident}: {n} runs" for ident, n in retried]
    return lines
