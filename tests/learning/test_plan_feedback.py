"""The plan gate's comments are Tack's own, never feedback (a rejection counts once, an
approval not at all), and the plan a person approved, with the comments on it, is in the
implementation prompt (`tack prompt ID`)."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

from tack.tracker.local import LocalTracker
from tests.conftest import run_tack
from tests.learning.conftest import seed_run

REASON = "Split the CLI flag into its own issue."


def _plan_approved_after_a_rejection(project: Path) -> None:
    with LocalTracker(project / ".tack" / "issues.db") as tracker:
        tracker.add_issue("Export reports as CSV", labels=("plan",))  # TACK-5
    seed_run(project, "TACK-5")  # run 1: the comments below come after it
    steps = [("plan", "write", "TACK-5"),
             ("plan", "reject", "TACK-5", "-m", REASON, "--author", "maya"),
             ("plan", "write", "TACK-5"),
             ("issue", "comment", "TACK-5", "Name the flag --csv, not --format.",
              "--author", "ben"),
             ("plan", "approve", "TACK-5", "--author", "maya", "-m", "Go ahead.")]
    for args in steps:
        out = run_tack(*args, cwd=project)
        assert out.returncode == 0, (args, out.stderr)


def test_plan_gate_comments_are_never_read_back_as_feedback(project: Path) -> None:
    _plan_approved_after_a_rejection(project)
    out = run_tack("learn", "--json", cwd=project)
    assert out.returncode == 0, out.stderr
    result = json.loads(out.stdout)
    # The rejection (stored once by `tack plan reject`) and ben's comment; not the rejection's
    # tracker comment a second time, not the approval, not the planner's plans.
    assert result["ingested_comments"] == 1 and result["feedback_used"] == 2
    db = sqlite3.connect(project / ".tack" / "state.db")
    rows = db.execute("SELECT author, body FROM review_feedback ORDER BY id").fetchall()
    assert rows == [("maya", f"Plan rejected: {REASON}"),
                    ("ben", "Name the flag --csv, not --format.")]
    report = run_tack("gc-report", cwd=project).stdout
    assert report.count(REASON) == 1, report
    assert "Plan approved" not in report and "tack:" not in report


def test_the_approved_plan_and_its_comments_are_in_the_prompt(project: Path) -> None:
    _plan_approved_after_a_rejection(project)
    out = run_tack("prompt", "TACK-5", cwd=project)
    assert out.returncode == 0, out.stderr
    prompt = out.stdout
    assert prompt.startswith("Work on TACK-5: Export reports as CSV")
    section = prompt[prompt.index("## Approved plan"):]
    assert "approved this plan" in section and "(maya)" in section
    assert "1. Add the CSV writer." in section and "2. Add the CLI flag." in section
    assert "- ben: Name the flag --csv, not --format." in section
    assert "- maya: Plan approved by maya. Go ahead." in section
    # The rejected plan's reason was answered by the new plan: not repeated, nor markers.
    assert REASON not in section and "<!--" not in prompt
    assert "Approved plan" not in run_tack("prompt", "TACK-1", cwd=project).stdout

