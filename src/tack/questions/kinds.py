"""Where human time went: questions grouped by similarity (the lessons' TF-IDF cosine),
with counts and time to answer, and a proposal for any kind asked three or more times.

A question people keep answering is a missing tool, principle or runbook: the answer
belongs where the agent can find it without asking.
"""

from __future__ import annotations

import sqlite3
import statistics
from dataclasses import dataclass, field
from typing import Any

from tack.learning.similarity import similarities
from tack.questions.model import Question
from tack.questions.store import QuestionStore

# Cosine above which two questions are the same kind; lexical, so a fairly low bar.
SAME_KIND = 0.35
PROPOSE_AT = 3


@dataclass
class QuestionKind:
    """Questions alike enough to count as one kind, oldest first."""

    questions: list[Question] = field(default_factory=list)

    @property
    def example(self) -> str:
        return self.questions[0].text

    @property
    def count(self) -> int:
        return len(self.questions)

    @property
    def issues(self) -> list[str]:
        return sorted({q.identifier for q in self.questions})

    @property
    def median_answer_s(self) -> float | None:
        waits = [q.answered_at - q.asked_at for q in self.questions
                 if q.answered_at is not None and q.answered_by != "deadline"]
        return statistics.median(waits) if waits else None

    @property
    def proposal(self) -> str | None:
        if self.count < PROPOSE_AT:
            return None
        return (f"asked {self.count} times: make the answer a tool, a principle or a runbook "
                "so agents stop asking")


def group_questions(questions: list[Question]) -> list[QuestionKind]:
    """Greedy grouping: each question joins the first kind whose example it resembles."""
    kinds: list[QuestionKind] = []
    for question in sorted(questions, key=lambda q: q.asked_at):
        scores = similarities(question.text, [k.example for k in kinds]) if kinds else []
        best = max(range(len(scores)), key=scores.__getitem__) if scores else None
        if best is not None and scores[best] >= SAME_KIND:
            kinds[best].questions.append(question)
        else:
            kinds.append(QuestionKind([question]))
    return sorted(kinds, key=lambda k: (-k.count, k.questions[0].asked_at))


def questions_since(db: sqlite3.Connection, since: float) -> list[Question]:
    """Questions asked since `since` (none when the table does not exist yet)."""
    try:
        return [q for q in QuestionStore.reading(db).where(limit=10_000) if q.asked_at >= since]
    except sqlite3.OperationalError:
        return []


def duration(seconds: float | None) -> str:
    if seconds is None:
        return "—"
    if seconds < 120:
        return f"{seconds:.0f} s"
    if seconds < 7200:
        return f"{seconds / 60:.0f} min"
    return f"{seconds / 3600:.1f} h"


def kinds_view(kinds: list[QuestionKind]) -> list[dict[str, Any]]:
    """The kinds as the API and the dashboard show them."""
    return [{"example": k.example, "count": k.count, "issues": k.issues,
             "question_ids": [q.id for q in k.questions],
             "median_answer_s": k.median_answer_s, "proposal": k.proposal} for k in kinds]


def kinds_report(db: sqlite3.Connection, since: float) -> list[str]:
    """The gc-report section's lines."""
    kinds = group_questions(questions_since(db, since))
    if not kinds:
        return ["No agent asked a person anything."]
    out = ["| kind (first asked) | times | issues | median time to answer | proposal |",
           "|---|---|---|---|---|"]
    for kind in kinds:
        example = kind.example.replace("|", "\\|").replace("\n", " ")[:100]
        out.append(f"| {example} | {kind.count} | {', '.join(kind.issues[:5])} | "
                   f"{duration(kind.median_answer_s)} | {kind.proposal or ''} |")
    return out
