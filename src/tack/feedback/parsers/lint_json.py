"""JSON reports of linters and type checkers: ruff, eslint, pyright, mypy `-O json`."""

from __future__ import annotations

import json
from typing import Any

from tack.feedback.model import Finding, Kind
from tack.feedback.paths import ParseContext


def parse_ruff(data: Any, ctx: ParseContext) -> list[Finding]:
    out: list[Finding] = []
    for item in data:
        loc = item.get("location") or {}
        fix = item.get("fix") or {}
        code = item.get("code")
        out.append(Finding(
            kind="lint", tool="ruff", rule=code or "syntax-error",
            message=item.get("message", ""), path=ctx.display(item.get("filename", "")),
            line=loc.get("row"), col=loc.get("column"),
            severity="error" if code is None else "warning" if
            item.get("severity") == "warning" else "error",
            fix_hint=(fix.get("message") or "fixable") + "; `ruff check --fix` does it"
            if fix and fix.get("applicability") == "safe" else fix.get("message"),
        ))
    return out


_ESLINT_SEVERITY = {1: "warning", 2: "error"}


def parse_eslint(data: Any, ctx: ParseContext) -> list[Finding]:
    out: list[Finding] = []
    for file in data:
        path = ctx.display(file.get("filePath", ""))
        for msg in file.get("messages", []):
            hint = None
            if msg.get("fix"):
                hint = "fixable with `eslint --fix`"
            elif msg.get("suggestions"):
                hint = msg["suggestions"][0].get("desc")
            out.append(Finding(
                kind="lint", tool="eslint", rule=msg.get("ruleId") or "parse-error",
                message=msg.get("message", ""), path=path, line=msg.get("line"),
                col=msg.get("column"), severity=_ESLINT_SEVERITY.get(msg.get("severity"), "error"),
                fix_hint=hint,
            ))
    return out


def parse_pyright(data: Any, ctx: ParseContext) -> list[Finding]:
    out: list[Finding] = []
    for diag in data.get("generalDiagnostics", []):
        start = (diag.get("range") or {}).get("start") or {}
        message, *rest = diag.get("message", "").split("\n")
        out.append(Finding(
            kind="type", tool="pyright", rule=diag.get("rule") or diag.get("severity"),
            message=message, path=ctx.display(diag.get("file", "")),
            # pyright's positions are 0-based
            line=start.get("line", -1) + 1 if "line" in start else None,
            col=start.get("character", -1) + 1 if "character" in start else None,
            severity=diag.get("severity", "error"),
            detail=[r.strip() for r in rest if r.strip()],
        ))
    return out


def parse_mypy_json(text: str, ctx: ParseContext) -> list[Finding]:
    out: list[Finding] = []
    for line in text.splitlines():
        line = line.strip()
        if not line.startswith("{"):
            continue
        try:
            item = json.loads(line)
        except json.JSONDecodeError:
            continue
        severity = item.get("severity", "error")
        kind: Kind = "type"
        out.append(Finding(
            kind=kind, tool="mypy", rule=item.get("code") or severity,
            message=item.get("message", ""), path=ctx.display(item.get("file", "")),
            line=item.get("line"),
            col=item["column"] + 1 if isinstance(item.get("column"), int)
            and item["column"] >= 0 else None,
            severity=severity, fix_hint=item.get("hint"),
        ))
    return out
