"""`tack learn`: turn unlearned feedback into lessons.

Per run, the feedback, the session log and the diff go to a model that answers what went
wrong and why; each answer becomes a lesson, or strengthens the most similar existing one.
A lesson seen `learning.propose_after` times is proposed as a golden principle.
"""

from __future__ import annotations

import sqlite3
import subprocess
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from tack.learning import ledger
from tack.learning.lessons import Lesson, LessonBook
from tack.learning.model import ReplyError, ask, parse_json
from tack.learning.proposals import propose_principle
from tack.learning.similarity import best_match
from tack.workflow.config import ServiceConfig

SYSTEM_PROMPT = """\
You help a team of coding agents learn from review feedback. You are shown feedback people
gave on an agent's run, the run's session log and its diff. Say what went wrong and why
(misread context, ignored principle, missing tool, wrong assumption, ...) and write the
lesson a future agent should follow so the same feedback is never needed again.
Answer with JSON only:
{"lessons": [{"title": "<imperative, under 70 chars>", "lesson": "<what to do, 1-4
sentences>", "cause": "<misread context|ignored principle|missing tool|other>",
"tags": ["<word>"], "paths": ["<file glob the lesson is about>"]}]}
Give an empty list when the feedback holds nothing to learn.
"""


@dataclass
class LearnResult:
    added: list[Lesson] = field(default_factory=list)
    strengthened: list[Lesson] = field(default_factory=list)
    proposed: list[Lesson] = field(default_factory=list)
    feedback_used: int = 0
    feedback_skipped: int = 0
    errors: list[str] = field(default_factory=list)
    dry_run: bool = False

    def to_dict(self) -> dict[str, Any]:
        return {"added": [x.id for x in self.added],
                "strengthened": [x.id for x in self.strengthened],
                "proposed": [x.id for x in self.proposed], "feedback_used": self.feedback_used,
                "feedback_skipped": self.feedback_skipped, "errors": self.errors,
                "dry_run": self.dry_run}


def lessons_dir(config: ServiceConfig, repo_root: Path) -> Path:
    path = Path(config.learning.lessons_dir).expanduser()
    return path if path.is_absolute() else repo_root / path


def _learnable(row: ledger.FeedbackRow) -> bool:
    # Praise needs no lesson; a bare thumbs-down still does (the log says what went wrong).
    return row.sentiment < 0 or bool(row.body and row.body.strip() and row.sentiment == 0)


def _session_log(db: sqlite3.Connection, run_id: int | None, limit: int) -> str:
    if run_id is None:
        return "(no run recorded)"
    rows = db.execute("SELECT kind, message FROM events WHERE run_id = ? ORDER BY id",
                      (run_id,)).fetchall()
    text = "\n".join(f"{r[0]}: {r[1]}" for r in rows) or "(no events recorded)"
    return text if len(text) <= limit else "...\n" + text[-limit:]


def _git(cwd: Path, *args: str) -> str | None:
    out = subprocess.run(["git", "-C", str(cwd), *args], capture_output=True, text=True,
                         check=False)
    return out.stdout if out.returncode == 0 else None


def run_diff(db: sqlite3.Connection, repo_root: Path, run_id: int | None, branch: str,
             limit: int) -> str:
    """The run's change: its branch against HEAD in the repo, else its workspace's diff."""
    diff = _git(repo_root, "diff", f"HEAD...{branch}") if branch else None
    if not diff and run_id is not None:
        row = db.execute("SELECT workspace FROM runs WHERE id = ?", (run_id,)).fetchone()
        if row and row[0] and Path(row[0]).is_dir():
            diff = _git(Path(row[0]), "diff", "HEAD")
    diff = diff or "(no diff available)"
    return diff if len(diff) <= limit else diff[:limit] + "\n... (diff truncated)"


def _principle_titles(repo_root: Path, config: ServiceConfig) -> str:
    path = repo_root / config.principles.path
    if not path.is_file():
        return "(none)"
    heads = [line[3:].strip() for line in path.read_text("utf-8").splitlines()
             if line.startswith("## ")]
    return "\n".join(heads) or "(none)"


def build_prompt(group: list[ledger.FeedbackRow], log: str, diff: str, principles: str) -> str:
    first = group[0]
    lines = [f"What went wrong in run {first.run_id} of issue {first.identifier}?", "",
             "Feedback:"]
    for row in group:
        where = f" on {row.path}:{row.line}" if row.path else ""
        thumbs = {1: "thumbs up", -1: "thumbs down"}.get(row.sentiment, "comment")
        lines.append(f"- [{thumbs}] {row.author or 'someone'}{where}: {row.body or '(no text)'}")
    lines += ["", "Golden principles of this code base:", principles,
              "", "Session log:", log, "", "Diff:", diff]
    return "\n".join(lines)


def _parse_lessons(reply: str) -> list[dict[str, Any]]:
    data = parse_json(reply)
    items = data.get("lessons")
    if not isinstance(items, list):
        raise ReplyError("the reply has no `lessons` list")
    out = []
    for item in items:
        if isinstance(item, dict) and str(item.get("title") or "").strip():
            out.append(item)
    return out


def _strings(value: Any) -> list[str]:
    return [str(v) for v in value] if isinstance(value, list) else []


def learn(config: ServiceConfig, repo_root: Path, db: sqlite3.Connection, *,
          dry_run: bool = False) -> LearnResult:
    """Learn from every feedback row not learned from yet. Idempotent."""
    ledger.ensure_schema(db)
    settings = config.learning
    book = LessonBook(lessons_dir(config, repo_root))
    lessons = book.load()
    result = LearnResult(dry_run=dry_run)
    groups: dict[tuple[Any, ...], list[ledger.FeedbackRow]] = {}
    for row in ledger.feedback_rows(db, unlearned=True):
        if not _learnable(row):
            result.feedback_skipped += 1
            if not dry_run:
                ledger.mark_learned(db, row.id, "skipped")
            continue
        key = ("run", row.run_id) if row.run_id is not None else ("issue", row.issue_id)
        groups.setdefault(key, []).append(row)
    principles = _principle_titles(repo_root, config)
    for group in groups.values():
        first = group[0]
        prompt = build_prompt(group, _session_log(db, first.run_id, settings.max_log_chars),
                              run_diff(db, repo_root, first.run_id, first.branch,
                                       settings.max_diff_chars), principles)
        try:
            found = _parse_lessons(ask(config.builtin, SYSTEM_PROMPT, prompt, what="tack learn"))
        except ReplyError as exc:
            result.errors.append(f"run {first.run_id} ({first.identifier}): the model's answer "
                                 f"could not be used ({exc}); its feedback stays unlearned.")
            continue
        runs = [f"run:{first.run_id}"] if first.run_id is not None else []
        evidence = runs + [row.label for row in group]
        lesson_id: str | None = None
        for item in found:
            title = str(item["title"]).strip()
            body = str(item.get("lesson") or "").strip() or title
            cause = str(item.get("cause") or "").strip()
            if cause:
                body = f"{body}\n\nCause: {cause}."
            tags, paths = _strings(item.get("tags")), _strings(item.get("paths"))
            match = best_match(" ".join([title, body, *tags]), [x.text for x in lessons])
            if match and match[1] >= settings.similarity_threshold:
                old = lessons[match[0]]
                new = (replace(old, occurrences=old.occurrences + 1) if dry_run else
                       book.strengthen(old, evidence=evidence, tags=tags, paths=paths))
                lessons[match[0]] = new
                result.strengthened.append(new)
            else:
                pending = max([int(x.id[1:]) for x in lessons if x.id[1:].isdigit()],
                              default=0)
                new = (Lesson(id=f"L{pending + 1:04d}", title=title, body=body) if dry_run else
                       book.add(title=title, body=body, tags=tags, paths=paths,
                                evidence=evidence))
                lessons.append(new)
                result.added.append(new)
            lesson_id = new.id
            if (not dry_run and not new.proposed
                    and new.occurrences >= settings.propose_after):
                proposed = propose_principle(book, new)
                lessons[lessons.index(new)] = proposed
                result.proposed.append(proposed)
        result.feedback_used += len(group)
        if not dry_run:
            for row in group:
                ledger.mark_learned(db, row.id, "lesson" if lesson_id else "nothing", lesson_id)
    return result
