"""The distillation report: score per round, tokens per role, findings and spec diffs.

Built from the state db only, so a resumed or interrupted run reports the same way; written
as JSON for scripts and as markdown for people.
"""

from __future__ import annotations

import difflib
import json
from pathlib import Path
from typing import Any

from tack.agents import TokenUsage
from tack.distill.state import ROLES, DistillState, RunRow
from tack.distill.verdict import WEIGHTS

AGENT_ROLES = tuple(r for r in ROLES if r != "grounding")
SCORE_NOTE = ("Score = weighted mean of judge {judge}, test pass rate {tests}, API match {api} "
              "(parts that do not apply drop out).").format(**WEIGHTS)


def spec_diff(before: str, after: str, number: int) -> str:
    lines = difflib.unified_diff(
        before.splitlines(keepends=True), after.splitlines(keepends=True),
        fromfile=f"round-{number - 1}/SPEC.md", tofile=f"round-{number}/SPEC.md")
    return "".join(line if line.endswith("\n") else line + "\n" for line in lines)


def build_report(state: DistillState, run: RunRow) -> dict[str, Any]:
    steps = state.steps(run.id)
    by_role = {role: TokenUsage() for role in AGENT_ROLES}
    rounds: list[dict[str, Any]] = []
    previous_spec = ""
    for row in state.rounds(run.id):
        tokens = {s.role: s.usage.to_dict() for s in steps
                  if s.round == row.round and s.role in AGENT_ROLES}
        for s in steps:
            if s.round == row.round and s.role in by_role:
                by_role[s.role] += s.usage
        tests = {k: v for k, v in (row.tests or {}).items() if k != "output"}
        api = row.api or {}
        spec = row.spec or ""
        rounds.append({
            "round": row.round,
            "status": row.status,
            "score": row.score,
            "judge_score": row.judge_score,
            "tests": tests,
            "api": {"match": api.get("match"),
                    "missing": [i["name"] for i in api.get("items", [])
                                if i["status"] == "missing"],
                    "differs": [i for i in api.get("items", []) if i["status"] == "differs"],
                    "extra": api.get("extra", [])},
            "findings": row.findings,
            "tokens": tokens,
            "steps": {s.role: s.status for s in steps if s.round == row.round},
            "spec": spec,
            "spec_diff": spec_diff(previous_spec, spec, row.round) if row.spec else "",
        })
        previous_spec = spec or previous_spec
    scored = [r for r in rounds if r["score"] is not None]
    # Ties go to the later round: its spec has had more revision.
    best = max(scored, key=lambda r: (r["score"], r["round"])) if scored else None
    total = sum((u for u in by_role.values()), TokenUsage())
    return {
        "run_id": run.id,
        "source": run.source,
        "status": run.status,
        "stop_reason": run.stop_reason,
        "error": run.error,
        "options": run.options,
        "best_round": best["round"] if best else None,
        "best_score": best["score"] if best else None,
        "rounds": rounds,
        "tokens_by_role": {role: u.to_dict() for role, u in by_role.items()},
        "tokens_total": total.to_dict(),
    }


def write_json(path: Path, report: dict[str, Any]) -> Path:
    path.write_text(json.dumps(report, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    return path


def _num(value: float | None, pattern: str = "{:.2f}") -> str:
    return "–" if value is None else pattern.format(value)


def _bullets(title: str, items: list[Any] | None) -> list[str]:
    if not items:
        return []
    out = [f"**{title}**", ""]
    for item in items:
        if isinstance(item, dict):
            kind = item.get("kind")
            detail = item.get("detail") or json.dumps(item, ensure_ascii=False)
            out.append(f"- {kind}: {detail}" if kind else f"- {detail}")
        else:
            out.append(f"- {item}")
    return [*out, ""]


def render_markdown(report: dict[str, Any]) -> str:
    lines = [f"# Distillation report: `{report['source']}`", "",
             f"Run `{report['run_id']}` · status **{report['status']}**"
             + (f" · stopped: {report['stop_reason']}" if report["stop_reason"] else "")
             + (f" · best round {report['best_round']} (score {report['best_score']:.2f})"
                if report["best_round"] else ""), ""]
    if report.get("error"):
        lines += [f"> {report['error']}", ""]
    lines += ["## Score per round", "",
              "| round | score | judge | tests passed | API match | tokens |",
              "|---|---|---|---|---|---|"]
    for r in report["rounds"]:
        tests = r["tests"]
        passed = f"{tests['passed']}/{tests['total']}" if tests.get("ran") else "–"
        tokens = sum(t["total_tokens"] for t in r["tokens"].values())
        lines.append(f"| {r['round']} | {_num(r['score'])} | {_num(r['judge_score'])} | "
                     f"{passed} | {_num(r['api']['match'], '{:.0%}')} | {tokens} |")
    lines += ["", SCORE_NOTE, "",
              "## Tokens per role", "", "| role | input | output | total |", "|---|---|---|---|"]
    for role, usage in report["tokens_by_role"].items():
        lines.append(f"| {role} | {usage['input_tokens']} | {usage['output_tokens']} | "
                     f"{usage['total_tokens']} |")
    total = report["tokens_total"]
    lines.append(f"| **all** | {total['input_tokens']} | {total['output_tokens']} | "
                 f"{total['total_tokens']} |")
    for r in report["rounds"]:
        lines += ["", f"## Round {r['round']}", ""]
        unfinished = [role for role, status in r["steps"].items() if status != "completed"]
        if unfinished:
            lines += [f"Unfinished steps: {', '.join(unfinished)}.", ""]
        findings = r["findings"] or {}
        lines += _bullets("Findings", findings.get("findings"))
        lines += _bullets("Spec changes proposed", findings.get("spec_changes"))
        lines += _bullets("Over-specification", findings.get("over_specification"))
        api = r["api"]
        api_lines = [f"missing: `{name}`" for name in api["missing"]]
        api_lines += [f"differs: `{d['name']}`: `{d['original']}` → `{d['reimplementation']}`"
                      for d in api["differs"]]
        api_lines += [f"extra: `{name}`" for name in api["extra"]]
        lines += _bullets("API surface differences", api_lines)
        if r["spec_diff"]:
            lines += ["**Spec diff**", "", "```diff", r["spec_diff"].rstrip("\n"), "```"]
    return "\n".join(lines) + "\n"
