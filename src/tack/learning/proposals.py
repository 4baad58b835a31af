"""A lesson that keeps recurring is proposed as a golden principle.

Proposals are appended to `PROPOSED_PRINCIPLES.md` in the lessons directory, in the
PRINCIPLES.md format (docs/principles.md), for a person to review, renumber and move over.
"""

from __future__ import annotations

from dataclasses import replace

from tack.learning.lessons import Lesson, LessonBook

PROPOSALS_FILE = "PROPOSED_PRINCIPLES.md"
_HEADER = ("# Proposed golden principles\n\nLessons that kept recurring. Review each, give it "
           "a free `P` id, add a check if one fits, and move it into PRINCIPLES.md.\n")


def principle_draft(lesson: Lesson) -> str:
    first = lesson.body.partition("\n\n")[0]
    why = (f"Reviewers gave this feedback {lesson.occurrences} times "
           f"({', '.join(lesson.evidence[:8])}).")
    lines = [f"## {lesson.id}: {lesson.title}", f"Why: {why}", f"Runbook: {' '.join(first.split())}",
             "Severity: warning"]
    if lesson.tags:
        lines.append(f"Tags: {', '.join(lesson.tags)}")
    lines.append(f"Source: lesson {lesson.id} ({lesson.path.name if lesson.path else lesson.id}).")
    return "\n".join(lines) + "\n"


def propose_principle(book: LessonBook, lesson: Lesson) -> Lesson:
    """Append the draft and mark the lesson proposed, so it is proposed once."""
    path = book.directory / PROPOSALS_FILE
    text = path.read_text("utf-8") if path.is_file() else _HEADER
    path.write_text(text.rstrip("\n") + "\n\n" + principle_draft(lesson), encoding="utf-8")
    return book.write(replace(lesson, proposed=True))
