"""Rendering scan results: short prose for agents, a table for people, JSON and SARIF 2.1.0."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from tack.principles.document import PrinciplesDoc
from tack.principles.findings import SUPPRESSION_RULE, Finding
from tack.principles.scanner import ScanResult

if TYPE_CHECKING:
    from rich.table import Table

SARIF_SCHEMA = "https://json.schemastore.org/sarif-2.1.0.json"
_SARIF_LEVEL = {"error": "error", "warning": "warning", "note": "note"}


def summary(result: ScanResult) -> str:
    parts = [f"{len(result.findings)} finding(s) in {len(result.files)} file(s), "
             f"{len(result.rules)} rule(s), {result.elapsed_s:.2f}s"]
    if result.suppressed:
        parts.append(f"{len(result.suppressed)} suppressed")
    if result.baselined:
        parts.append(f"{len(result.baselined)} baselined")
    if result.cache_hits:
        parts.append(f"{result.cache_hits} cached result(s) reused")
    return "; ".join(parts) + "."


def prose(result: ScanResult) -> str:
    """One line per finding, ruff-style, plus the runbook once per rule."""
    lines = []
    runbooks: dict[str, str] = {}
    for f in result.findings:
        lines.append(f"{f.path}:{f.line}:{f.column}: {f.rule} {f.message}"
                     + (f" [{f.snippet}]" if f.snippet and f.snippet != f.message else ""))
        if f.runbook:
            runbooks.setdefault(f.rule, f.runbook)
    for rule, runbook in runbooks.items():
        lines.append(f"{rule} runbook: {' '.join(runbook.split())}")
    lines.extend(notes(result))
    lines.append(summary(result))
    return "\n".join(lines)


def notes(result: ScanResult) -> list[str]:
    out = [f"{rule} not complete: {why}" for rule, why in result.skipped_rules.items()]
    out += [f"error: {e}" for e in result.errors]
    return out


def table(result: ScanResult) -> Table:
    # rich only for a person's terminal: a plain scan (`tack.scan_lean`) never imports it.
    from rich.table import Table
    from rich.text import Text

    t = Table(show_edge=False, header_style="bold", title=summary(result), title_justify="left")
    for name in ("location", "rule", "severity", "finding"):
        t.add_column(name, overflow="fold")
    style = {"error": "red", "warning": "yellow", "note": "cyan"}
    for f in result.findings:
        t.add_row(Text(f"{f.path}:{f.line}"), Text(f.rule, style="bold"),
                  Text(f.severity, style=style.get(f.severity, "")), Text(f.message))
    return t


def as_json(result: ScanResult) -> dict[str, Any]:
    return {
        "findings": [f.to_dict() for f in result.findings],
        "suppressed": [f.to_dict() for f in result.suppressed],
        "baselined": len(result.baselined),
        "files_scanned": len(result.files),
        "rules": result.rules,
        "skipped_rules": result.skipped_rules,
        "errors": result.errors,
        "cache": {"hits": result.cache_hits, "misses": result.cache_misses},
        "judge": result.judge,
        "since": result.since,
        "elapsed_s": round(result.elapsed_s, 4),
    }


def sarif(result: ScanResult, doc: PrinciplesDoc, *, version: str = "0.1.0") -> dict[str, Any]:
    """A SARIF 2.1.0 log with one run; rules carry the principle's why and runbook."""
    ids = [p.id for p in doc.principles if p.id in result.rules]
    if any(f.rule == SUPPRESSION_RULE for f in result.findings):
        ids.append(SUPPRESSION_RULE)
    index = {rule: n for n, rule in enumerate(ids)}
    rules = []
    for rule in ids:
        p = doc.get(rule)
        title = p.title if p else "A suppression states its reason"
        why = p.why if p else "A suppression without a reason hides a finding nobody can judge."
        entry: dict[str, Any] = {
            "id": rule, "name": rule, "shortDescription": {"text": title},
            "fullDescription": {"text": why or title},
            "defaultConfiguration": {"level": _SARIF_LEVEL.get(p.severity if p else "error")},
        }
        if p and p.runbook:
            entry["help"] = {"text": p.runbook}
        rules.append(entry)
    return {
        "$schema": SARIF_SCHEMA,
        "version": "2.1.0",
        "runs": [{
            "tool": {"driver": {"name": "tack", "version": version,
                                "informationUri": "https://github.com/openai/symphony",
                                "rules": rules}},
            "columnKind": "unicodeCodePoints",
            "results": [_sarif_result(f, index) for f in result.findings],
        }],
    }


def _sarif_result(f: Finding, index: dict[str, int]) -> dict[str, Any]:
    out: dict[str, Any] = {
        "ruleId": f.rule,
        "level": _SARIF_LEVEL.get(f.severity, "warning"),
        "message": {"text": f.message},
        "locations": [{"physicalLocation": {
            "artifactLocation": {"uri": f.path, "uriBaseId": "%SRCROOT%"},
            "region": {"startLine": f.line, "startColumn": f.column,
                       "endLine": max(f.end_line, f.line),
                       "endColumn": f.end_column if f.end_line > f.line
                       else max(f.end_column, f.column)},
        }}],
        "partialFingerprints": {"tackFingerprint/v1": f.fingerprint},
    }
    if f.rule in index:
        out["ruleIndex"] = index[f.rule]
    return out
