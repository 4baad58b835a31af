"""Where a best-of-N race's scores are kept: `.tack/best-of/<ISSUE>.json`, read by the API,
the dashboard and the PR body without importing the race machinery (which drives the
orchestrator). `attempt_rows` is the one table all three show, so they never disagree."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

COLUMNS = ("Attempt", "Backend / model", "Visible tests", "Principle findings", "Judge",
           "Tokens", "Wall time", "Outcome")


def best_of_record(tack_dir: Path, identifier: str) -> dict[str, Any] | None:
    """The stored scores of the issue's last best-of-N race (None when it had none)."""
    if not identifier or "/" in identifier or "\\" in identifier or identifier.startswith("."):
        return None  # an identifier from a URL never names a file outside the folder
    path = tack_dir / "best-of" / f"{identifier}.json"
    try:
        data = json.loads(path.read_text("utf-8"))
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def best_of_for_run(tack_dir: Path, identifier: str, run_id: int) -> dict[str, Any] | None:
    """The race that run `run_id` held: a later ordinary run of the issue must not carry an
    older race's table in its PR body."""
    record = best_of_record(tack_dir, identifier)
    return record if record is not None and record.get("run_id") == run_id else None


def _attempts(record: dict[str, Any]) -> list[dict[str, Any]]:
    found = record.get("attempts")
    return [a for a in found if isinstance(a, dict)] if isinstance(found, list) else []


def _setup(attempt: dict[str, Any]) -> str:
    backend, model = attempt.get("backend") or "", attempt.get("model") or ""
    what = " / ".join(x for x in (backend, model) if x) or "project default"
    return f"{what} ({attempt.get('variant') or 'base'})"


def _tests(attempt: dict[str, Any]) -> str:
    if not attempt.get("branch"):
        return "not run"
    findings = int(attempt.get("check_findings") or 0)
    verdict = "pass" if attempt.get("checks_passed") else "fail"
    return f"{verdict} ({findings} finding{'s' * (findings != 1)})" if findings else verdict


def _judge(attempt: dict[str, Any]) -> str:
    score, pick = attempt.get("judge_score"), attempt.get("judge_pick")
    if score is None and pick is None:
        return "not asked"
    text = "" if score is None else f"{score:g}/10"
    return f"{text}, picked" if pick and text else "picked" if pick else text or "not picked"


def _outcome(record: dict[str, Any], attempt: dict[str, Any]) -> str:
    if attempt.get("winner"):
        why = record.get("why") or ""
        return f"winner: {why}" if why else "winner"
    if attempt.get("error"):
        return str(attempt["error"])
    return "no commit" if not attempt.get("branch") else "lost"


def attempt_rows(record: dict[str, Any]) -> list[tuple[str, ...]]:
    """One row of COLUMNS per attempt of the race."""
    rows: list[tuple[str, ...]] = []
    for a in _attempts(record):
        scanned = bool(a.get("branch"))
        rows.append((
            str(a.get("index", "?")), _setup(a), _tests(a),
            str(int(a.get("principle_findings") or 0)) if scanned else "not run", _judge(a),
            f"{int(a.get('tokens') or 0):,}", f"{float(a.get('seconds') or 0):.1f} s",
            _outcome(record, a)))
    return rows


def _cell(text: str) -> str:
    # A judge's reason or an error is free text: it must not break the Markdown table.
    return " ".join(text.split()).replace("|", "\\|")[:200]


def best_of_markdown(record: dict[str, Any]) -> str:
    """The race as Markdown: a headline naming the winner, then the attempts' table."""
    attempts = _attempts(record)
    winner = next((a for a in attempts if a.get("winner")), None)
    head = (f"Best of {len(attempts)}: attempt {winner.get('index')} "
            f"({_setup(winner)}) won and was handed off as `{record.get('branch')}`"
            + (f", because {_cell(str(record['why']))}." if record.get("why") else ".")
            if winner else f"Best of {len(attempts)}: no attempt committed anything.")
    lines = [head, "", "| " + " | ".join(COLUMNS) + " |",
             "|---:|---|---|---:|---|---:|---:|---|"]
    lines += ["| " + " | ".join(_cell(c) for c in row) + " |" for row in attempt_rows(record)]
    judge = record.get("judge")
    if isinstance(judge, dict) and judge.get("model"):
        lines += ["", f"Judge: `{_cell(str(judge['model']))}`"
                  + (f": {_cell(str(judge.get('verdict') or ''))}" if judge.get("verdict") else "")]
    return "\n".join(lines)
