"""Line-oriented diagnostics: mypy, tsc, and the generic `path:line:col: message` fallback."""

from __future__ import annotations

import re

from tack.feedback.model import Finding
from tack.feedback.paths import ParseContext

MYPY = re.compile(r"^(?P<path>[^\s:][^:]*):(?P<line>\d+):(?:(?P<col>\d+):)? "
                  r"(?P<sev>error|warning|note): (?P<msg>.*?)(?:  \[(?P<code>[\w-]+)\])?$")
TSC = re.compile(r"^(?P<path>[^\s(][^(]*)\((?P<line>\d+),(?P<col>\d+)\): "
                 r"(?P<sev>error|warning) (?P<code>TS\d+): (?P<msg>.*)$")
# `path:line:col: message`, `path:line: message`, `path:line:col - error: message`
GENERIC = re.compile(r"^\s*(?P<path>[^\s:][^:]*\.[\w]+):(?P<line>\d+)(?::(?P<col>\d+))?"
                     r"(?::| -) ?(?P<msg>\S.*)$")
ARROW = re.compile(r"^\s*--> (?P<path>[^\s:][^:]*):(?P<line>\d+)(?::(?P<col>\d+))?$")
_CODE_FIRST = re.compile(r"^(?P<code>[A-Z]+\d+|[a-z]+(?:-[a-z]+)+) (?:\[\*\] )?(?P<msg>.*)$")
_SEVERITY_FIRST = re.compile(r"^(?P<sev>error|warning|note|info)(?:\[(?P<code>[^\]]+)\])?: "
                             r"(?P<msg>.*)$", re.IGNORECASE)


def parse_mypy(text: str, ctx: ParseContext) -> list[Finding]:
    out: list[Finding] = []
    for line in text.splitlines():
        m = MYPY.match(line.rstrip())
        if not m:
            continue
        if m.group("sev") == "note" and out and out[-1].path == ctx.display(m.group("path")):
            out[-1].detail.append(m.group("msg"))  # notes explain the error before them
            continue
        out.append(Finding(
            kind="type", tool="mypy", rule=m.group("code") or m.group("sev"),
            message=m.group("msg"), path=ctx.display(m.group("path")),
            line=int(m.group("line")), col=int(m.group("col")) if m.group("col") else None,
            severity=m.group("sev"),
        ))
    return out


def parse_tsc(text: str, ctx: ParseContext) -> list[Finding]:
    out: list[Finding] = []
    for line in text.splitlines():
        m = TSC.match(line.rstrip())
        if m:
            out.append(Finding(
                kind="type", tool="tsc", rule=m.group("code"), message=m.group("msg"),
                path=ctx.display(m.group("path")), line=int(m.group("line")),
                col=int(m.group("col")), severity=m.group("sev"),
            ))
        elif out and line.startswith("  ") and line.strip():
            out[-1].detail.append(line.strip())  # tsc's indented elaboration
    return out


def parse_generic(text: str, ctx: ParseContext, tool: str = "check") -> list[Finding]:
    out: list[Finding] = []
    header = ""
    for line in text.splitlines():
        arrow = ARROW.match(line.rstrip())
        if arrow and header:
            # ruff's full format and rustc: `CODE message` then ` --> path:line:col`
            message = header
        else:
            m = GENERIC.match(line.rstrip())
            if line.strip() and not line.startswith((" ", "|")) and not m:
                header = line.strip()
            if not m or m.group("path").startswith(("http", "/proc")):
                continue
            message = m.group("msg").strip()
        m = arrow or m
        assert m is not None
        rule, severity = None, "error"
        sev = _SEVERITY_FIRST.match(message)
        if sev:
            severity = sev.group("sev").lower()
            rule, message = sev.group("code"), sev.group("msg")
        code = _CODE_FIRST.match(message)
        if code and rule is None:
            rule, message = code.group("code"), code.group("msg")
        out.append(Finding(
            kind="lint", tool=tool, rule=rule, message=message,
            path=ctx.display(m.group("path")), line=int(m.group("line")),
            col=int(m.group("col")) if m.group("col") else None, severity=severity,
        ))
    return out
