"""Lesson files: `lessons/L0001-short-slug.md`, YAML front matter plus a markdown body.

A lesson is what the agents should do differently, with the evidence (runs, feedback rows)
it was learned from. People may edit the files; Tack rewrites only the front matter it owns.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import yaml

from tack.errors import TackError

_FILE = re.compile(r"^L(\d{4,})-[a-z0-9-]*\.md$")
_SLUG = re.compile(r"[^a-z0-9]+")


class LearningError(TackError):
    """Lessons or feedback cannot be read, written or learned from; the message says why."""

    code = "learning_error"


def _now() -> str:
    return datetime.now(UTC).replace(microsecond=0).isoformat()


def slugify(title: str, limit: int = 40) -> str:
    slug = _SLUG.sub("-", title.lower()).strip("-")[:limit].strip("-")
    return slug or "lesson"


@dataclass(frozen=True)
class Lesson:
    id: str
    title: str
    body: str
    tags: tuple[str, ...] = ()
    paths: tuple[str, ...] = ()
    occurrences: int = 1
    evidence: tuple[str, ...] = ()  # "run:12", "feedback:7"
    created: str = field(default_factory=_now)
    updated: str = field(default_factory=_now)
    proposed: bool = False  # proposed as a golden principle
    path: Path | None = field(default=None, compare=False)

    @property
    def text(self) -> str:
        """What similarity is measured on."""
        return " ".join([self.title, self.body, *self.tags])

    def to_prompt(self) -> dict[str, str]:
        return {"id": self.id, "title": self.title, "body": self.body}

    def to_dict(self) -> dict[str, Any]:
        return {"id": self.id, "title": self.title, "body": self.body, "tags": list(self.tags),
                "paths": list(self.paths), "occurrences": self.occurrences,
                "evidence": list(self.evidence), "created": self.created,
                "updated": self.updated, "proposed": self.proposed,
                "path": str(self.path) if self.path else None}

    def render(self) -> str:
        front = {"id": self.id, "title": self.title, "tags": list(self.tags),
                 "paths": list(self.paths), "occurrences": self.occurrences,
                 "evidence": list(self.evidence), "created": self.created,
                 "updated": self.updated, "proposed": self.proposed}
        dumped = yaml.safe_dump(front, sort_keys=False, allow_unicode=True)
        return f"---\n{dumped}---\n\n# {self.title}\n\n{self.body.strip()}\n"


def parse_lesson(path: Path) -> Lesson:
    text = path.read_text(encoding="utf-8")
    parts = text.split("---", 2) if text.startswith("---") else []
    if len(parts) != 3:
        raise LearningError(f"{path}: a lesson starts with YAML front matter between `---` "
                            "lines. Restore the header or delete the file.")
    try:
        meta = yaml.safe_load(parts[1]) or {}
    except yaml.YAMLError as exc:
        raise LearningError(f"{path}: the front matter is not valid YAML ({exc}). Fix it.") from None
    if not isinstance(meta, dict) or not meta.get("id") or not meta.get("title"):
        raise LearningError(f"{path}: the front matter needs `id` and `title` keys. Add them.")
    body = parts[2].strip()
    heading = f"# {meta['title']}"
    if body.startswith(heading):
        body = body[len(heading):].strip()

    def strings(key: str) -> tuple[str, ...]:
        value = meta.get(key) or []
        return tuple(str(v) for v in (value if isinstance(value, list) else [value]))

    occurrences = meta.get("occurrences", 1)
    return Lesson(
        id=str(meta["id"]), title=str(meta["title"]), body=body, tags=strings("tags"),
        paths=strings("paths"),
        occurrences=occurrences if isinstance(occurrences, int) and occurrences > 0 else 1,
        evidence=strings("evidence"), created=str(meta.get("created") or _now()),
        updated=str(meta.get("updated") or _now()), proposed=bool(meta.get("proposed")),
        path=path,
    )


class LessonBook:
    """The lessons directory: load, add, strengthen."""

    def __init__(self, directory: Path) -> None:
        self.directory = Path(directory)

    def load(self) -> list[Lesson]:
        if not self.directory.is_dir():
            return []
        return [parse_lesson(p) for p in sorted(self.directory.iterdir())
                if _FILE.match(p.name)]

    def get(self, lesson_id: str) -> Lesson:
        for lesson in self.load():
            if lesson.id.lower() == lesson_id.lower():
                return lesson
        raise LearningError(f"No lesson {lesson_id!r} in {self.directory}. "
                            "List them with `tack lessons list`.")

    def next_id(self) -> str:
        numbers = [int(m.group(1)) for p in (self.directory.iterdir() if
                   self.directory.is_dir() else []) if (m := _FILE.match(p.name))]
        return f"L{max(numbers, default=0) + 1:04d}"

    def write(self, lesson: Lesson) -> Lesson:
        self.directory.mkdir(parents=True, exist_ok=True)
        path = lesson.path or self.directory / f"{lesson.id}-{slugify(lesson.title)}.md"
        path.write_text(lesson.render(), encoding="utf-8")
        return replace(lesson, path=path)

    def add(self, *, title: str, body: str, tags: list[str], paths: list[str],
            evidence: list[str]) -> Lesson:
        return self.write(Lesson(id=self.next_id(), title=title, body=body, tags=tuple(tags),
                                 paths=tuple(paths), evidence=tuple(evidence)))

    def strengthen(self, lesson: Lesson, *, evidence: list[str], tags: list[str],
                   paths: list[str], note: str | None = None) -> Lesson:
        """Another occurrence of the same mistake: count it and keep its evidence."""
        body = lesson.body
        if note and note.strip() and note.strip() not in body:
            body = f"{body}\n\nAlso seen: {note.strip()}"
        merged = replace(
            lesson, body=body, occurrences=lesson.occurrences + 1,
            evidence=tuple(dict.fromkeys([*lesson.evidence, *evidence])),
            tags=tuple(dict.fromkeys([*lesson.tags, *tags])),
            paths=tuple(dict.fromkeys([*lesson.paths, *paths])), updated=_now())
        return self.write(merged)
