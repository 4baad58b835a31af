"""Compression that keeps what matters: group repeated findings, one entry per cause.

Tests failing the same way (same exception, message and first-party location) become one
group listing every test id; lint findings group by rule. Nothing is dropped here; the
token budget is applied when rendering.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from tack.feedback.model import Finding

# Values that differ between parametrized cases of one bug: numbers, quoted literals.
_VOLATILE = re.compile(r"0x[0-9a-f]+|\d+(?:\.\d+)?|'[^']*'|\"[^\"]*\"")


@dataclass
class FindingGroup:
    kind: str
    tool: str
    rule: str | None
    findings: list[Finding] = field(default_factory=list)

    @property
    def lead(self) -> Finding:
        return self.findings[0]

    @property
    def test_ids(self) -> list[str]:
        return [f.test_id for f in self.findings if f.test_id]


def _test_key(f: Finding) -> tuple[object, ...]:
    deepest = (f.frames[-1].path, f.frames[-1].line) if f.frames else (f.path, f.line)
    message = _VOLATILE.sub("?", f.message)
    return ("test", f.tool, f.rule, message, deepest)


def group_findings(findings: list[Finding]) -> list[FindingGroup]:
    """Groups in first-seen order; test groups before lint and type groups."""
    groups: dict[tuple[object, ...], FindingGroup] = {}
    for f in findings:
        key = _test_key(f) if f.kind == "test" else (f.kind, f.tool, f.rule or f.message)
        group = groups.get(key)
        if group is None:
            group = groups[key] = FindingGroup(f.kind, f.tool, f.rule)
        group.findings.append(f)
    ordered = sorted(groups.values(), key=lambda g: 0 if g.kind == "test" else
                     1 if g.kind == "error" else 2)
    for group in ordered:
        if group.kind != "test":
            group.findings.sort(key=lambda f: (f.path or "", f.line or 0, f.col or 0))
    return ordered
