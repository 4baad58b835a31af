"""The pull request body: which issue, what changed (diff stat, commits), the checks the run
passed or failed, and the tokens it spent. Pure text, so it is easy to test and to read.
"""

from __future__ import annotations

from typing import Any

from tack.app.artifacts import evidence_markdown
from tack.eval.records import best_of_markdown
from tack.tracker.base import Issue

MARKER = "<!-- tack:handoff -->"


def issue_link(issue: Issue, tracker_kind: str, same_repo: bool) -> str:
    if tracker_kind == "github" and same_repo and issue.native_ref:
        return f"Closes #{issue.native_ref.get('number', issue.id)}"
    if tracker_kind == "gitlab" and same_repo and issue.native_ref:
        return f"Closes #{issue.native_ref.get('iid', issue.id)}"
    if tracker_kind == "linear":
        # Linear links a PR to an issue from a magic word plus the identifier.
        return f"Fixes {issue.identifier}" + (f" ({issue.url})" if issue.url else "")
    return f"Issue: [{issue.identifier}]({issue.url})" if issue.url else f"Issue: {issue.identifier}"


def title(issue: Issue) -> str:
    return f"{issue.identifier}: {issue.title}"[:250]


def _checks(checks: Any) -> list[str]:
    lines = []
    for check in checks or []:
        if isinstance(check, dict):
            status = str(check.get("status", "unknown"))
            mark = {"passed": "✅", "success": "✅", "failed": "❌", "failure": "❌"}.get(
                status.lower(), "•")
            detail = f" — {check['summary']}" if check.get("summary") else ""
            lines.append(f"- {mark} `{check.get('name', 'check')}` {status}{detail}")
        else:
            lines.append(f"- {check}")
    return lines


def render(issue: Issue, summary: dict[str, Any], *, link: str, diff_stat: str,
           commits: list[str]) -> str:
    """Markdown for the PR body. `summary` keys (all optional): message, checks
    ([{name, status, summary}]), tokens ({input, output, total}), turns, run_id, attempt,
    best_of (a best-of-N race's record, tack.eval.records)."""
    parts = [MARKER, link, ""]
    message = summary.get("message") or summary.get("summary")
    if message:
        parts += ["## Summary", "", str(message).strip(), ""]
    parts += ["## Changes", ""]
    parts += [f"```\n{diff_stat}\n```" if diff_stat else "_No file changes against the base._", ""]
    if commits:
        parts += ["## Commits", "", *[f"- {c}" for c in commits], ""]
    checks = _checks(summary.get("checks"))
    parts += ["## Checks", "", *(checks or ["_No checks were reported by this run._"]), ""]
    parts += evidence_markdown(int(summary.get("run_id") or 0), list(summary.get("artifacts") or []))
    race = summary.get("best_of")
    if isinstance(race, dict):
        parts += ["## Best-of-N attempts", "", best_of_markdown(race), ""]
    tokens = summary.get("tokens") or {}
    row = [str(tokens.get(k, "–")) for k in ("input", "output", "total")]
    row += [str(summary.get("turns", "–")), str(summary.get("run_id", "–"))]
    parts += [
        "## Agent run",
        "",
        "| input tokens | output tokens | total tokens | turns | run |",
        "|---:|---:|---:|---:|---:|",
        "| " + " | ".join(row) + " |",
        "",
        "_Opened by Tack for an autonomous agent run; review it as usual._",
    ]
    return "\n".join(parts)
