"""Findings as short prose for agents, within a token budget; and as JSON and SARIF.

Every failing test keeps its id, first-party location and message whatever the budget;
what does not fit is the tail (explanations, then lint items), summarised in one line.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from typing import Any

from tack.feedback.compress import FindingGroup, group_findings
from tack.feedback.model import CheckRun, Finding
from tack.feedback.tokens import count_tokens

MAX_DETAIL_LINES = 6
# Under a budget, a lint or type rule lists this many locations; the rest is counted.
MAX_ITEMS_PER_RULE = 3
_CAUSES = {
    "AssertionError": "the code returns something other than what the test expects; "
                      "fix the code unless the test's expectation is wrong",
    "NameError": "a name is used but never defined or imported",
    "ModuleNotFoundError": "an import names a module that is not installed or does not exist",
    "ImportError": "an import names something the module does not provide",
    "AttributeError": "an object lacks the attribute used; check the type and spelling",
    "TypeError": "a call passes the wrong number or kind of arguments",
    "KeyError": "a dict lookup for a key that is not there",
    "ReferenceError": "a name is used but never defined or imported",
}


@dataclass
class _Piece:
    text: str
    mandatory: bool
    check: int
    kind: str = "detail"  # detail | item
    rule: str = ""


def render_prose(runs: list[CheckRun], budget: int | None = None) -> str:
    pieces: list[_Piece] = []
    for index, run in enumerate(runs):
        pieces.append(_Piece(_headline(run), True, index))
        told: set[str] = set()  # likely causes already given for this check
        for number, group in enumerate(group_findings(run.findings), 1):
            pieces.extend(_group_pieces(group, number, index, told,
                                        MAX_ITEMS_PER_RULE if budget else None))
    chosen = _fit(pieces, budget)
    out: list[str] = []
    dropped: dict[int, Counter[str]] = {}
    trimmed: set[int] = set()
    last = {piece.check: i for i, piece in enumerate(pieces)}
    for i, (piece, keep) in enumerate(zip(pieces, chosen)):
        if keep:
            out.append(piece.text)
        elif piece.kind == "item":
            dropped.setdefault(piece.check, Counter())[piece.rule] += 1
        else:
            trimmed.add(piece.check)
        if last[piece.check] == i:
            out.extend(_summary(dropped.get(piece.check), piece.check in trimmed))
    return "\n".join(out).rstrip() + "\n"


def _summary(dropped: Counter[str] | None, trimmed: bool) -> list[str]:
    lines: list[str] = []
    if dropped:
        counts = ", ".join(f"{rule or 'other'} ×{n}" for rule, n in dropped.most_common())
        lines.append(f"  … {sum(dropped.values())} more finding(s) not shown to fit the token "
                     f"budget ({counts}); `tack check --json` lists them all.")
    if trimmed:
        lines.append("  (explanations trimmed to fit the token budget; every failing test is "
                     "listed)")
    return lines


def _fit(pieces: list[_Piece], budget: int | None) -> list[bool]:
    if not budget:
        return [True] * len(pieces)
    reserve = 60 * len({p.check for p in pieces})  # room for each check's summary line
    used = sum(count_tokens(p.text) for p in pieces if p.mandatory) + reserve
    chosen = [p.mandatory for p in pieces]
    # Explanations of failures first, then lint items, each in reading order.
    for wanted in ("detail", "item"):
        for i, piece in enumerate(pieces):
            if chosen[i] or piece.kind != wanted:
                continue
            cost = count_tokens(piece.text)
            if used + cost <= budget:
                chosen[i] = True
                used += cost
            elif wanted == "item":
                break  # keep items contiguous: the summary line covers the rest
    return chosen


def _headline(run: CheckRun) -> str:
    if not run.failed and not run.findings:
        return f"{run.name} passed (`{run.command}`)."
    tests = [f for f in run.findings if f.kind == "test"]
    others = len(run.findings) - len(tests)
    parts = []
    if tests:
        of = f" of {run.tests_total}" if run.tests_total else ""
        parts.append(f"{len(tests)}{of} test(s) failed")
    if others:
        parts.append(f"{others} finding(s)")
    what = ", ".join(parts) or "no findings parsed"
    status = f"failed (exit code {run.exit_code})" if run.failed else "passed with warnings"
    return f"\n{run.name} {status}: {what}. Command: `{run.command}`."


def _group_pieces(group: FindingGroup, number: int, check: int, told: set[str],
                  cap: int | None) -> list[_Piece]:
    lead = group.lead
    if group.kind in ("test", "error"):
        return _test_pieces(group, number, check, told)
    rule = group.rule or ""
    head = f"{rule} ({group.tool})" if rule else group.tool
    messages = {f.message for f in group.findings}
    same = len(messages) == 1 and len(group.findings) > 1
    title = f"- {head}" + (f" ×{len(group.findings)}" if len(group.findings) > 1 else "")
    if same:
        title += f": {lead.message}"
    extra = [x for x in (f"runbook: {lead.runbook[0]} ({lead.runbook[1]})" if lead.runbook
                         else None, lead.history) if x]
    pieces = [_Piece(title + (" — " + "; ".join(extra) if extra else ""), False, check,
                     "item", rule)]
    shown = group.findings if cap is None or len(group.findings) <= cap + 1 else (
        group.findings[:cap])
    for f in shown:
        text = f"    {f.location}" + ("" if same else f" {f.message}")
        if f.severity not in ("error",):
            text += f" [{f.severity}]"
        if f.fix_hint:
            text += f" (fix: {f.fix_hint})"
        pieces.append(_Piece(text, False, check, "item", rule))
    if len(shown) < len(group.findings):
        more = len(group.findings) - len(shown)
        pieces.append(_Piece(f"    … and {more} more {head}; `tack check --json` lists them all",
                             False, check, "item", rule))
    return pieces


def _test_pieces(group: FindingGroup, number: int, check: int, told: set[str]
                 ) -> list[_Piece]:
    lead = group.lead
    ids = group.test_ids
    messages = {f.message for f in group.findings}
    places = {f.location for f in group.findings}
    if len(ids) > 1 and (len(messages) > 1 or len(places) > 1):
        # Same cause, but different values or tests: each keeps its own message and place.
        head = f"{number}. {len(ids)} tests fail the same way:\n" + "\n".join(
            f"   - {f.test_id}" + (f" (at {f.location})" if len(places) > 1 else "")
            + (f": {f.message}" if len(messages) > 1 else "") for f in group.findings)
    elif len(ids) > 1:
        head = f"{number}. {len(ids)} tests fail the same way: " + ", ".join(ids)
    else:
        head = f"{number}. {ids[0] if ids else lead.location or lead.tool}"
    where = [lead.location] if lead.location else []
    where += [f"{fr.path}:{fr.line}" for fr in lead.frames
              if f"{fr.path}:{fr.line}" != lead.location]
    core = [head]
    if where:
        core.append("   at " + " → ".join(where))
    if len(messages) == 1 or len(ids) <= 1:
        core.append("   " + lead.message.replace("\n", "\n   "))
    pieces = [_Piece("\n".join(core), True, check)]
    detail = ["   " + _clip(line) for line in lead.detail[:MAX_DETAIL_LINES]]
    if len(lead.detail) > MAX_DETAIL_LINES:
        detail.append(f"   … ({len(lead.detail) - MAX_DETAIL_LINES} more lines)")
    cause = _CAUSES.get((lead.rule or "").rsplit(".", 1)[-1])
    if cause and cause not in told:  # said once per check: it is the same words each time
        told.add(cause)
        detail.append(f"   likely cause: {cause}.")
    if lead.runbook:
        detail.append(f"   runbook: {lead.runbook[0]} ({lead.runbook[1]})")
    if lead.history:
        detail.append(f"   {lead.history}.")
    if detail:
        pieces.append(_Piece("\n".join(detail), False, check))
    return pieces


def _clip(line: str, width: int = 160) -> str:
    # An explanation line is a hint; the message above it keeps its full length.
    return line if len(line) <= width else line[:width - 1] + "…"


def render_json(runs: list[CheckRun], exit_code: int, prose: str) -> dict[str, Any]:
    return {
        "exit_code": exit_code,
        "checks": [{
            "name": r.name, "command": r.command, "exit_code": r.exit_code,
            "format": r.format, "tests_total": r.tests_total,
            "findings": [f.to_json() for f in r.findings],
        } for r in runs],
        "prose": prose,
    }


_SARIF_LEVEL = {"error": "error", "warning": "warning", "note": "note", "info": "note"}


def render_sarif(runs: list[CheckRun]) -> dict[str, Any]:
    """SARIF 2.1.0 with one run per check, for code-scanning uploads."""
    sarif_runs = []
    for run in runs:
        rules = sorted({f.rule for f in run.findings if f.rule})
        sarif_runs.append({
            "tool": {"driver": {"name": f"tack check: {run.name}",
                                "rules": [{"id": r} for r in rules]}},
            "results": [_sarif_result(f) for f in run.findings],
        })
    return {"version": "2.1.0",
            "$schema": "https://json.schemastore.org/sarif-2.1.0.json",
            "runs": sarif_runs}


def _sarif_result(f: Finding) -> dict[str, Any]:
    text = f"{f.test_id}: {f.message}" if f.test_id else f.message
    result: dict[str, Any] = {
        "ruleId": f.rule or f.tool, "level": _SARIF_LEVEL.get(f.severity, "warning"),
        "message": {"text": text},
        "partialFingerprints": {"tackFingerprint/v1": f.fingerprint},
    }
    if f.path:
        region: dict[str, int] = {}
        if f.line:
            region["startLine"] = f.line
        if f.col:
            region["startColumn"] = f.col
        location: dict[str, Any] = {"artifactLocation": {"uri": f.path}}
        if region:
            location["region"] = region
        result["locations"] = [{"physicalLocation": location}]
    return result
