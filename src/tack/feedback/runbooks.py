"""Runbooks: markdown files whose front matter says which findings they cover.

```
---
title: Unused imports
covers:
  rules: [F401, no-unused-vars]      # rule codes; shell-style globs allowed (E5*)
  messages: ["imported but unused"]  # regular expressions searched in the message
  paths: ["src/**"]                  # globs; when given, the finding's path must match
---
```
A finding matches when one rule or one message pattern matches (or, with neither given,
when a path glob does); `paths` narrows both.
"""

from __future__ import annotations

import fnmatch
import re
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from tack.errors import TackError
from tack.feedback.model import Finding


class RunbookError(TackError):
    code = "invalid_runbook"


@dataclass
class Runbook:
    path: str
    title: str
    rules: list[str] = field(default_factory=list)
    messages: list[re.Pattern[str]] = field(default_factory=list)
    paths: list[str] = field(default_factory=list)

    def matches(self, finding: Finding) -> bool:
        if self.paths and not (finding.path and any(
                fnmatch.fnmatchcase(finding.path, g) for g in self.paths)):
            return False
        if not self.rules and not self.messages:
            return bool(self.paths)
        rule = finding.rule or ""
        short_rule = rule.rsplit(".", 1)[-1]  # json.decoder.JSONDecodeError, tmp.rule-id
        if rule and any(fnmatch.fnmatchcase(rule, r) or fnmatch.fnmatchcase(short_rule, r)
                        for r in self.rules):
            return True
        text = "\n".join([finding.message, *finding.detail])
        return any(p.search(text) for p in self.messages)


def load_runbooks(directory: Path, root: Path) -> list[Runbook]:
    """Every `*.md` under `directory` with a `covers:` map, sorted by path."""
    if not directory.is_dir():
        return []
    books: list[Runbook] = []
    for file in sorted(directory.rglob("*.md")):
        book = _load(file, root)
        if book is not None:
            books.append(book)
    return books


def _load(file: Path, root: Path) -> Runbook | None:
    text = file.read_text(encoding="utf-8")
    if not text.startswith("---"):
        return None  # a README or notes: not a runbook
    parts = text.split("\n---", 1)
    if len(parts) < 2:
        raise RunbookError(f"{file}: the front matter starting at line 1 has no closing `---`"
                           " line; add one after the `covers:` map.")
    try:
        meta = yaml.safe_load(parts[0].lstrip("-\n")) or {}
    except yaml.YAMLError as exc:
        raise RunbookError(f"{file}: the front matter is not valid YAML ({exc}).") from exc
    covers = meta.get("covers") if isinstance(meta, dict) else None
    if not isinstance(covers, dict):
        raise RunbookError(f"{file}: the front matter needs a `covers:` map with `rules`, "
                           "`messages` and/or `paths` lists.")
    title = str(meta.get("title") or _first_heading(parts[1]) or file.stem)
    try:
        display = file.resolve().relative_to(root.resolve()).as_posix()
    except ValueError:
        display = str(file)
    messages: list[re.Pattern[str]] = []
    for pattern in _strings(covers, "messages", file):
        try:
            messages.append(re.compile(pattern))
        except re.error as exc:
            raise RunbookError(f"{file}: covers.messages entry {pattern!r} is not a valid "
                               f"regular expression ({exc}); escape special characters.") from exc
    return Runbook(display, title, _strings(covers, "rules", file), messages,
                   _strings(covers, "paths", file))


def _strings(covers: dict[str, object], key: str, file: Path) -> list[str]:
    value = covers.get(key) or []
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list):
        raise RunbookError(f"{file}: covers.{key} must be a list of strings.")
    return [str(v) for v in value]


def _first_heading(body: str) -> str | None:
    for line in body.splitlines():
        if line.startswith("# "):
            return line[2:].strip()
    return None


def attach_runbooks(findings: list[Finding], books: list[Runbook]) -> None:
    for finding in findings:
        for book in books:
            if book.matches(finding):
                finding.runbook = (book.path, book.title)
                break
