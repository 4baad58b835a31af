"""The data `tack check` works with: findings parsed from tool output, and check runs.

A `Finding` is one thing to fix (a failing test, a lint or type error); parsers produce
them, compression groups them, rendering turns them into prose.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import asdict, dataclass, field
from typing import Any, Literal

Kind = Literal["test", "lint", "type", "error"]

_VOLATILE = re.compile(r"0x[0-9a-f]+|\d+")


@dataclass
class Frame:
    """One traceback frame: where, and whether it is the project's own code."""

    path: str
    line: int
    function: str = ""
    first_party: bool = True


@dataclass
class Finding:
    kind: Kind
    tool: str
    message: str
    path: str | None = None
    line: int | None = None
    col: int | None = None
    rule: str | None = None
    severity: str = "error"
    test_id: str | None = None
    # The boiled-down explanation (assertion lines, diff) below the one-line message.
    detail: list[str] = field(default_factory=list)
    frames: list[Frame] = field(default_factory=list)
    fix_hint: str | None = None
    # Filled in after parsing.
    runbook: tuple[str, str] | None = None  # (path, title)
    history: str | None = None

    @property
    def location(self) -> str:
        if not self.path:
            return ""
        loc = self.path
        if self.line:
            loc += f":{self.line}"
            if self.col:
                loc += f":{self.col}"
        return loc

    @property
    def fingerprint(self) -> str:
        """Stable across runs: no line numbers (they move), volatile numbers masked."""
        message = _VOLATILE.sub("#", self.message.split("\n", 1)[0])
        if self.test_id:
            parts = [self.tool, self.test_id, self.rule or ""]
        else:
            parts = [self.tool, self.rule or "", self.path or "", message]
        return hashlib.sha1("\x1f".join(parts).encode()).hexdigest()[:16]

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        data["fingerprint"] = self.fingerprint
        data["runbook"] = (
            {"path": self.runbook[0], "title": self.runbook[1]} if self.runbook else None
        )
        return data


@dataclass
class CheckRun:
    """One command's run: what ran, how it ended, what was found."""

    name: str
    command: str
    exit_code: int
    output: str
    format: str = "unknown"
    findings: list[Finding] = field(default_factory=list)
    # Tests that passed/failed, when the format says (JUnit, pytest summary).
    tests_total: int | None = None

    @property
    def failed(self) -> bool:
        return self.exit_code != 0
