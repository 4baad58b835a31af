"""Lessons reach the next run: pick the lessons relevant to an issue for its prompt.

Relevance is the same lexical similarity used for merging, between the issue (title,
description, labels) and each lesson, plus a boost when the issue names a lesson's path.
"""

from __future__ import annotations

import fnmatch
from pathlib import Path

from tack.learning.lessons import Lesson, LessonBook
from tack.learning.similarity import similarities
from tack.learning.synthesis import lessons_dir
from tack.tracker.base import Issue
from tack.workflow.config import ServiceConfig

# Below this a lesson shares only incidental words with the issue.
MIN_RELEVANCE = 0.05


def _path_boost(lesson: Lesson, words: list[str]) -> float:
    for pattern in lesson.paths:
        if any(fnmatch.fnmatch(w, pattern) or (pattern in w) for w in words):
            return 0.5
    return 0.0


def relevant_lessons(config: ServiceConfig, repo_root: Path, issue: Issue,
                     limit: int | None = None) -> list[Lesson]:
    """The lessons to put in this issue's prompt, most relevant first (at most `limit`,
    default `learning.max_lessons_in_prompt`)."""
    limit = config.learning.max_lessons_in_prompt if limit is None else limit
    if not config.learning.lessons:
        return []
    lessons = LessonBook(lessons_dir(config, repo_root)).load()
    if not lessons or limit <= 0:
        return []
    query = " ".join([issue.title, issue.description or "", *issue.labels])
    scores = similarities(query, [x.text for x in lessons])
    words = query.split()
    ranked = sorted(
        ((score + _path_boost(lesson, words), lesson) for score, lesson in zip(scores, lessons)),
        key=lambda pair: (-pair[0], -pair[1].occurrences, pair[1].id))
    return [lesson for score, lesson in ranked if score >= MIN_RELEVANCE][:limit]


def render_lessons(lessons: list[Lesson]) -> str:
    """A markdown block for prompts whose template does not use the `lessons` variable."""
    if not lessons:
        return ""
    parts = ["## Lessons from earlier review feedback", ""]
    for lesson in lessons:
        parts.append(f"- **{lesson.id}: {lesson.title}** {' '.join(lesson.body.split())}")
    return "\n".join(parts) + "\n"
