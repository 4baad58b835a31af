"""Built-in Python checks, usable as `python: <name>` in a principle's check block.

A check is `f(file: SourceFile, args: Mapping) -> Iterable[Violation]`; plug-ins register
more under the entry-point group `tack.principles` with the same signature.
"""

from __future__ import annotations

import ast
import re
from collections.abc import Iterable, Mapping
from typing import Any

from tack.principles.rules import PythonCheck, SourceFile, Violation

# Only markers in comments count: "TODO" is also a tracker state name in strings.
_TODO = re.compile(r"(?:#|//|/\*|<!--|--)\s*(?:TODO|FIXME|XXX)\b(?P<rest>.*)")
_ISSUE_REF = re.compile(r"[A-Z][A-Z0-9]+-\d+|#\d+|https?://")


def module_docstring(file: SourceFile, args: Mapping[str, Any]) -> Iterable[Violation]:
    """A Python module with code starts with a docstring saying what it is for."""
    if file.language != "python":
        return []
    try:
        tree = ast.parse(file.text)
    except SyntaxError as exc:
        return [Violation(line=exc.lineno or 1, message=f"cannot parse: {exc.msg}")]
    if not tree.body or ast.get_docstring(tree):
        return []
    first = tree.body[0]
    return [Violation(line=first.lineno, snippet=file.text.splitlines()[first.lineno - 1][:200],
                      message="module has no docstring")]


def max_lines(file: SourceFile, args: Mapping[str, Any]) -> Iterable[Violation]:
    """A file longer than `args.max` lines (default 500) is usually two concepts."""
    limit = int(args.get("max", 500))
    count = len(file.text.splitlines())
    if count <= limit:
        return []
    return [Violation(line=limit + 1, snippet=f"longer than {limit} lines",
                      message=f"{count} lines, more than {limit}")]


def todo_needs_issue(file: SourceFile, args: Mapping[str, Any]) -> Iterable[Violation]:
    """A TODO/FIXME names the issue that tracks it (TACK-12, #12 or a URL)."""
    out = []
    for number, line in enumerate(file.text.splitlines(), 1):
        match = _TODO.search(line)
        if match and not _ISSUE_REF.search(match.group("rest")):
            out.append(Violation(line=number, column=match.start() + 1, snippet=line.strip()[:200]))
    return out


BUILTIN_CHECKS: dict[str, PythonCheck] = {
    "module-docstring": module_docstring,
    "max-lines": max_lines,
    "todo-needs-issue": todo_needs_issue,
}
