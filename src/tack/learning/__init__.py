"""The learning loop: review feedback in, lessons out, lessons into the next run's prompt.

Feedback lives in the state db (tack.store.feedback); lessons are markdown files in the
repository (`lessons/`); `tack learn` turns the one into the other, merging by similarity.
"""

from __future__ import annotations

from tack.learning.gc_report import parse_since, render_gc_report
from tack.learning.intake import give_feedback, ingest_issue_comments
from tack.learning.ledger import lessons_given, record_lessons_given
from tack.learning.lessons import LearningError, Lesson, LessonBook
from tack.learning.selection import relevant_lessons, render_lessons
from tack.learning.synthesis import LearnResult, learn, lessons_dir

__all__ = [
    "LearnResult", "LearningError", "Lesson", "LessonBook", "give_feedback",
    "ingest_issue_comments", "learn", "lessons_dir", "lessons_given", "parse_since",
    "record_lessons_given", "relevant_lessons", "render_gc_report", "render_lessons",
]
