"""The golden-principles document (PRINCIPLES.md): its model and a line-aware parser.

Each principle is a `## P001: Title` section with `Why:`, optional `Runbook:`, `Severity:`,
fenced `good`/`bad` examples and one fenced `check` block saying how it is enforced.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any, Literal

from tack.errors import TackError

Severity = Literal["error", "warning", "note"]
CheckKind = Literal["ast-grep", "python", "model"]
SEVERITIES: tuple[str, ...] = ("error", "warning", "note")
CHECK_KINDS: tuple[str, ...] = ("ast-grep", "python", "model")

_HEADING = re.compile(
    r"^##\s+(?P<id>[A-Za-z][A-Za-z_-]*\d+)\s*(?:[:\u2014\u2013-]\s*|\s+)(?P<title>.*)$"
)
_FIELD = re.compile(
    r"^(?:\*\*)?(?P<key>why|runbook|severity|files|tags|source)(?:\*\*)?\s*:(?:\*\*)?\s*(?P<value>.*)$",
    re.IGNORECASE,
)
_FENCE = re.compile(r"^(?P<fence>```+|~~~+)\s*(?P<info>.*)$")
_CHECK_KEYS = {"ast-grep", "python", "model", "files", "exclude", "message", "args"}
_AST_GREP_KEYS = {"language", "pattern", "rule", "constraints", "utils"}


class PrinciplesError(TackError):
    """PRINCIPLES.md cannot be read or is not valid; the message names file:line and the fix."""

    code = "principles_invalid"


@dataclass(frozen=True)
class Problem:
    """One thing wrong with the document, for `tack principles lint`."""

    path: Path
    line: int
    message: str
    fix: str
    level: Literal["error", "warning"] = "error"

    def __str__(self) -> str:
        return f"{self.path}:{self.line}: {self.level}: {self.message} Fix: {self.fix}"


@dataclass(frozen=True)
class Example:
    kind: Literal["good", "bad"]
    language: str
    code: str
    line: int


@dataclass(frozen=True)
class Check:
    """How a principle is enforced: an ast-grep rule, a Python check or a model question."""

    kind: CheckKind
    line: int
    language: str | None = None
    config: dict[str, Any] = field(default_factory=dict)  # ast-grep: rule/constraints/utils
    name: str | None = None  # python check name
    args: dict[str, Any] = field(default_factory=dict)
    question: str | None = None  # model-judged
    files: tuple[str, ...] = ()
    exclude: tuple[str, ...] = ()
    message: str | None = None

    @cached_property
    def key(self) -> str:
        """Stable digest of everything that changes the check's results (cache key part)."""
        data = {
            "kind": self.kind, "language": self.language, "config": self.config,
            "name": self.name, "args": self.args, "question": self.question,
            "files": self.files, "exclude": self.exclude, "message": self.message,
        }
        raw = json.dumps(data, sort_keys=True, default=str)
        from tack.principles.hashing import sha256

        return str(sha256(raw.encode()).hexdigest()[:16])


@dataclass(frozen=True)
class Principle:
    id: str
    title: str
    line: int
    why: str = ""
    runbook: str | None = None
    severity: Severity = "warning"
    tags: tuple[str, ...] = ()
    examples: tuple[Example, ...] = ()
    check: Check | None = None

    def to_dict(self) -> dict[str, Any]:
        check = self.check
        return {
            "id": self.id, "title": self.title, "line": self.line, "why": self.why,
            "runbook": self.runbook, "severity": self.severity, "tags": list(self.tags),
            "examples": [
                {"kind": e.kind, "language": e.language, "code": e.code} for e in self.examples
            ],
            "check": None if check is None else {
                "kind": check.kind, "language": check.language, "config": check.config,
                "name": check.name, "args": check.args, "question": check.question,
                "files": list(check.files), "exclude": list(check.exclude),
            },
        }


@dataclass(frozen=True)
class PrinciplesDoc:
    path: Path
    principles: tuple[Principle, ...]
    problems: tuple[Problem, ...] = ()

    def get(self, principle_id: str) -> Principle | None:
        wanted = principle_id.strip().upper()
        return next((p for p in self.principles if p.id.upper() == wanted), None)

    def next_id(self) -> str:
        numbers = [int(m.group()) for p in self.principles if (m := re.search(r"\d+$", p.id))]
        return f"P{(max(numbers) + 1 if numbers else 1):03d}"


@dataclass
class _Section:
    id: str
    title: str
    line: int
    fields: dict[str, tuple[int, list[str]]] = field(default_factory=dict)
    examples: list[Example] = field(default_factory=list)
    checks: list[tuple[int, str]] = field(default_factory=list)


def parse_document(text: str, path: Path) -> PrinciplesDoc:
    """Parse PRINCIPLES.md text; problems are collected, never raised."""
    problems: list[Problem] = []
    sections: list[_Section] = []
    current: _Section | None = None
    field_name: str | None = None
    lines = text.splitlines()
    i = 0
    while i < len(lines):
        line, number = lines[i], i + 1
        fence = _FENCE.match(line.strip()) if current is not None else None
        if fence is not None and current is not None:
            end = _closing_fence(lines, i, fence.group("fence"))
            if end is None:
                problems.append(Problem(path, number, "This code fence is never closed.",
                                        f"add a closing {fence.group('fence')} line."))
                end = len(lines)
            _add_block(current, fence.group("info").split(), lines[i + 1 : end], number)
            field_name = None
            i = end + 1
            continue
        if line.startswith("## ") or line.startswith("# "):
            match = _HEADING.match(line) if line.startswith("## ") else None
            current = None
            field_name = None
            if match:
                current = _Section(match.group("id").upper(), match.group("title").strip(), number)
                sections.append(current)
            i += 1
            continue
        if current is not None:
            found = _FIELD.match(line.strip())
            if found:
                field_name = found.group("key").lower()
                current.fields[field_name] = (number, [found.group("value")])
            elif field_name is not None:
                current.fields[field_name][1].append(line)
        i += 1
    principles = [_principle(s, path, problems) for s in sections]
    _check_ids(principles, path, problems)
    return PrinciplesDoc(path, tuple(principles), tuple(problems))


def _closing_fence(lines: list[str], start: int, fence: str) -> int | None:
    for j in range(start + 1, len(lines)):
        if lines[j].strip().startswith(fence[:3]) and lines[j].strip().strip(fence[0]) == "":
            return j
    return None


def _add_block(section: _Section, info: list[str], body: list[str], line: int) -> None:
    words = [w.lower() for w in info]
    code = "\n".join(body).rstrip() + "\n"
    if "check" in words:
        section.checks.append((line, code))
    elif "good" in words or "bad" in words:
        kind: Literal["good", "bad"] = "bad" if "bad" in words else "good"
        others = [w for w in words if w not in ("good", "bad")]
        section.examples.append(Example(kind, others[0] if others else "", code, line))


def _text(section: _Section, name: str) -> tuple[int, str]:
    line, parts = section.fields.get(name, (section.line, []))
    return line, "\n".join(parts).strip()


def _principle(section: _Section, path: Path, problems: list[Problem]) -> Principle:
    where = section.line
    if not section.title:
        problems.append(Problem(path, where, f"{section.id} has no title.",
                                f"write it after the id: `## {section.id}: Short rule`."))
    _, why = _text(section, "why")
    if not why:
        problems.append(Problem(path, where, f"{section.id} has no `Why:` line.",
                                "add `Why: <the reason this matters>` under the heading."))
    severity_line, severity = _text(section, "severity")
    severity = severity.lower() or "warning"
    if severity not in SEVERITIES:
        problems.append(Problem(path, severity_line,
                                f"{section.id}: severity {severity!r} is not known.",
                                "use `Severity: error`, `warning` or `note`."))
        severity = "warning"
    _, runbook = _text(section, "runbook")
    _, tags = _text(section, "tags")
    check = None
    if len(section.checks) > 1:
        problems.append(Problem(path, section.checks[1][0],
                                f"{section.id} has more than one ```check block.",
                                "keep one check per principle; split it into two principles."))
    if section.checks:
        check = parse_check(section.checks[0][1], section.checks[0][0], section.id, path,
                            problems)
    return Principle(
        id=section.id, title=section.title, line=where, why=why, runbook=runbook or None,
        severity=severity,  # type: ignore[arg-type]
        tags=tuple(t.strip() for t in tags.split(",") if t.strip()),
        examples=tuple(section.examples), check=check,
    )


def parse_check(
    text: str, line: int, pid: str, path: Path, problems: list[Problem]
) -> Check | None:
    """Validate one ```check YAML block; shape problems are appended to `problems`."""
    body_line = line + 1

    def fail(message: str, fix: str, at: int = body_line) -> None:
        problems.append(Problem(path, at, f"{pid}: {message}", fix))

    import yaml  # lazily: a scan worker gets its checks parsed

    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        at = body_line + (mark.line if mark is not None else 0)
        fail(f"the check block is not valid YAML ({getattr(exc, 'problem', exc)}).",
             "fix the YAML syntax (quote patterns that start with `$` or contain `: `).", at)
        return None
    if not isinstance(data, dict):
        fail("the check block must be a YAML mapping.",
             "write `ast-grep: {language: python, pattern: ...}`, `python: <check>` or "
             "`model: <question>`.")
        return None
    unknown = sorted(set(map(str, data)) - _CHECK_KEYS)
    if unknown:
        fail(f"unknown key(s) {', '.join(unknown)} in the check block.",
             f"use only {', '.join(sorted(_CHECK_KEYS))}.")
    kinds = [k for k in CHECK_KINDS if k in data]
    if len(kinds) != 1:
        fail("the check block must have exactly one of `ast-grep`, `python`, `model`.",
             "keep one of them; split the principle if it needs two checks.")
        return None
    kind = kinds[0]
    files = _globs(data.get("files"), "files", fail)
    exclude = _globs(data.get("exclude"), "exclude", fail)
    message = data.get("message")
    message = str(message) if message is not None else None
    common: dict[str, Any] = {"line": line, "files": files, "exclude": exclude,
                              "message": message}
    value = data[kind]
    if kind == "ast-grep":
        if not isinstance(value, dict):
            fail("`ast-grep` must be a mapping with `language` and `pattern` or `rule`.",
                 "write `ast-grep: {language: python, pattern: 'print($$$)'}`.")
            return None
        bad_keys = sorted(set(map(str, value)) - _AST_GREP_KEYS)
        if bad_keys:
            fail(f"unknown ast-grep key(s) {', '.join(bad_keys)}.",
                 f"use {', '.join(sorted(_AST_GREP_KEYS))} (see ast-grep's rule reference).")
        language = value.get("language")
        if not isinstance(language, str) or not language.strip():
            fail("the ast-grep rule has no `language`.", "add `language: python` (or js, go...).")
            return None
        if ("pattern" in value) == ("rule" in value):
            fail("the ast-grep rule needs exactly one of `pattern` or `rule`.",
                 "use `pattern:` for one code pattern, `rule:` for a full ast-grep rule.")
            return None
        rule = {"pattern": value["pattern"]} if "pattern" in value else value["rule"]
        if not isinstance(rule, dict) or not rule:
            fail("the ast-grep `rule` must be a non-empty mapping.",
                 "write e.g. `rule: {kind: except_clause}`.")
            return None
        config: dict[str, Any] = {"rule": rule}
        for extra in ("constraints", "utils"):
            if isinstance(value.get(extra), dict):
                config[extra] = value[extra]
        return Check("ast-grep", language=language.strip().lower(), config=config, **common)
    if kind == "python":
        args = data.get("args") or {}
        if not isinstance(value, str) or not value.strip():
            fail("`python` must name a check function.", "write `python: module-docstring`.")
            return None
        if not isinstance(args, dict):
            fail("`args` must be a mapping.", "write `args: {max_lines: 400}`.")
            args = {}
        return Check("python", name=value.strip(), args=args, **common)
    if not isinstance(value, str) or not value.strip():
        fail("`model` must be the question asked about each file.",
             "write `model: Does this file log a secret?`.")
        return None
    return Check("model", question=value.strip(), **common)


def _globs(value: Any, key: str, fail: Any) -> tuple[str, ...]:
    if value is None:
        return ()
    if isinstance(value, str):
        return (value,)
    if isinstance(value, list) and all(isinstance(v, str) for v in value):
        return tuple(value)
    fail(f"`{key}` must be a glob or a list of globs.", f"write `{key}: ['src/**/*.py']`.")
    return ()


def _check_ids(principles: list[Principle], path: Path, problems: list[Problem]) -> None:
    seen: dict[str, int] = {}
    for p in principles:
        if p.id in seen:
            problems.append(Problem(
                path, p.line, f"{p.id} is used twice (first at line {seen[p.id]}).",
                "give the second one a new id, e.g. the next free number."))
        else:
            seen[p.id] = p.line


def load_document(path: Path) -> PrinciplesDoc:
    """Read PRINCIPLES.md; a missing file is a clear error, shape problems stay on the doc."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise PrinciplesError(
            f"{path}: no principles document. Create it with `tack init`, or write "
            "`## P001: Title` sections by hand (see docs/principles.md), or set "
            "`principles.path` in WORKFLOW.md."
        ) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise PrinciplesError(f"{path}: cannot be read ({exc}). Check the file.") from None
    return parse_document(text, path)


def require_valid(doc: PrinciplesDoc) -> PrinciplesDoc:
    """Raise on the first error-level problem (scan refuses a broken rule set)."""
    errors = [p for p in doc.problems if p.level == "error"]
    if errors:
        more = ""
        if len(errors) > 1:
            more = f" (and {len(errors) - 1} more; run `tack principles lint`)"
        raise PrinciplesError(f"{errors[0]}{more}")
    return doc
