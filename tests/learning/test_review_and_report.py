"""The weekly report, the reviewer agent and the plan gate, driven through the CLI."""

from __future__ import annotations

import asyncio
import json
import sqlite3
from pathlib import Path

from tack.learning import record_lessons_given
from tack.review import current_plan, hold_for_plan, needs_plan
from tack.store.feedback import FeedbackStore, PullRequestRecord
from tack.testing.stub_model import StubModelServer
from tack.tracker.local import LocalTracker
from tack.workflow import load_workflow
from tests.conftest import run_tack
from tests.learning.conftest import seed_run
from tests.learning.test_learning_loop import SLEEP_COMMENT


def test_gc_report_has_the_weeks_sections_with_real_numbers(project: Path) -> None:
    seed_run(project, "TACK-1", status="failed", error="agent exited with code 1")
    seed_run(project, "TACK-1", status="failed", error="agent exited with code 1")
    seed_run(project, "TACK-1")
    seed_run(project, "TACK-2", status="stalled")
    for run in ("1", "3"):
        run_tack("feedback", run, "--down", "-m", SLEEP_COMMENT, cwd=project)
    run_tack("feedback", "4", "--up", cwd=project)
    # Run 3 had been given a lesson (L0001, learned below) and the same feedback recurred.
    db = sqlite3.connect(project / ".tack" / "state.db")
    record_lessons_given(db, 3, ["L0001"])
    db.close()
    assert run_tack("learn", cwd=project).returncode == 0
    with LocalTracker(project / ".tack" / "issues.db") as tracker:
        tracker.add_issue("P002 in tests/test_a.py", labels=("tack-scan", "principle:p002"))
        tracker.add_issue("P002 in tests/test_b.py", labels=("tack-scan", "principle:p002"))
    out = run_tack("gc-report", "--since", "7d", "--out", "week.md", cwd=project)
    assert out.returncode == 0, out.stderr
    report = (project / "week.md").read_text()
    for heading in ("## Summary", "## Recurring feedback", "## Slop found by the scanner",
                    "## Lessons added", "## Principles proposed",
                    "## Top sources of retries and failures"):
        assert heading in report
    assert "- Runs: 4 (2 failed, 1 stalled, 1 succeeded)" in report
    assert "- Feedback: 3 (2 negative, 1 positive, 0 neutral)" in report
    assert "| L0001 | Poll with a deadline instead of sleeping in tests | 2 | 1 |" in report
    assert "2 new fix issue(s) filed by `tack scan --file-issues`" in report
    assert "- P002: 2" in report
    assert "| 2 | agent exited with code 1 |" in report
    assert "- TACK-1: 3 runs" in report
    # The agreed item (L0001 recurred although run 3 was given it) is filed once.
    for _ in range(2):
        filed = run_tack("gc-report", "--file-issues", "--out", "w.md", cwd=project)
        assert filed.returncode == 0, filed.stderr
    with LocalTracker(project / ".tack" / "issues.db") as tracker:
        titles = [i.title for i in tracker.list_issues() if "gc-report" in i.labels]
    assert titles == [("Lesson L0001 did not stop its feedback: Poll with a deadline instead of "
                      "sleeping in tests")]
    bad = run_tack("gc-report", "--since", "a week", cwd=project)
    assert bad.returncode == 2 and "for example `7d`" in bad.stderr


def test_review_of_a_branch_stores_findings_as_feedback(project: Path,
                                                        stub: StubModelServer) -> None:
    out = run_tack("review", "tack/TACK-1", cwd=project)
    assert out.returncode == 0, out.stderr
    assert "tests/test_worker.py:4: error: time.sleep(2) waits blind" in out.stdout
    asked = [r.body["messages"][1]["content"] for r in stub.requests][-1]
    assert "## P" not in asked  # this repo has no PRINCIPLES.md
    assert "+    time.sleep(2)" in asked
    db = sqlite3.connect(project / ".tack" / "state.db")
    rows = db.execute("SELECT author, kind, path, line, sentiment FROM review_feedback").fetchall()
    assert rows == [("tack-reviewer", "review_comment", "tests/test_worker.py", 4, -1)]
    again = run_tack("review", "tack/TACK-1", cwd=project)
    assert "0 new" in again.stdout
    # A run's change: its branch (`tack/TACK-1`), findings tied to the run.
    seed_run(project, "TACK-1")
    out = run_tack("review", "1", "--json", cwd=project)
    assert json.loads(out.stdout)["new"] == 1
    assert db.execute("SELECT run_id, identifier FROM review_feedback WHERE run_id IS NOT NULL"
                      ).fetchall() == [(1, "TACK-1")]
    missing = run_tack("review", "no-such-branch", cwd=project)
    assert missing.returncode == 2 and "no-such-branch" in missing.stderr
    # A pull request Tack opened: its branch against its base, findings tied to its run.
    FeedbackStore(db).record_pull_request(PullRequestRecord(
        forge="gitlab", repo="o/r", number=12, url=None, run_id=1, issue_id="x",
        identifier="TACK-1", branch="tack/TACK-1", base="main"))
    db.execute("DELETE FROM review_feedback")
    db.commit()
    out = run_tack("review", "#12", "--json", cwd=project)
    assert out.returncode == 0, out.stderr
    assert json.loads(out.stdout)["new"] == 1
    assert db.execute("SELECT run_id FROM review_feedback").fetchall() == [(1,)]
    unknown = run_tack("review", "#99", cwd=project)
    assert unknown.returncode == 2 and "No pull request #99" in unknown.stderr


def test_plan_gate_holds_the_issue_until_a_person_approves(project: Path) -> None:
    with LocalTracker(project / ".tack" / "issues.db") as tracker:
        tracker.add_issue("Export reports as CSV", labels=("plan",))  # TACK-5
    config = load_workflow(project / "WORKFLOW.md").config

    def gate() -> bool:
        with LocalTracker(project / ".tack" / "issues.db") as tracker:
            return asyncio.run(needs_plan(config, tracker, tracker.get("TACK-5")))

    def hold() -> bool:
        with LocalTracker(project / ".tack" / "issues.db") as tracker:
            return asyncio.run(hold_for_plan(config, tracker, tracker.get("TACK-5")))

    def issue_state() -> str:
        with LocalTracker(project / ".tack" / "issues.db") as tracker:
            return tracker.get("TACK-5").state

    assert gate() is True
    early = run_tack("plan", "approve", "TACK-5", cwd=project)
    assert early.returncode == 2 and "no plan waiting for review" in early.stderr

    out = run_tack("plan", "write", "TACK-5", cwd=project)
    assert out.returncode == 0, out.stderr
    assert issue_state() == "Plan Review"
    # Plan Review is not an active state: the orchestrator does not dispatch it.
    assert not config.tracker.is_active("Plan Review")
    shown = run_tack("issue", "show", "TACK-5", cwd=project).stdout
    assert "## Plan" in shown and "Add the CSV writer" in shown

    out = run_tack("plan", "reject", "TACK-5", "-m", "Split the CLI flag into its own issue.",
                   "--author", "maya", cwd=project)
    assert out.returncode == 0, out.stderr
    assert issue_state() == "Todo" and gate() is True
    db = sqlite3.connect(project / ".tack" / "state.db")
    assert db.execute("SELECT author, body, sentiment, state FROM review_feedback").fetchall() == [
        ("maya", "Plan rejected: Split the CLI flag into its own issue.", -1, "plan_rejected")]

    # What the worker calls before implementing: the gate plans again and parks the issue.
    assert hold() is True and issue_state() == "Plan Review"
    out = run_tack("plan", "approve", "TACK-5", "--author", "maya", cwd=project)
    assert out.returncode == 0, out.stderr
    assert issue_state() == "Todo" and gate() is False and hold() is False
    with LocalTracker(project / ".tack" / "issues.db") as tracker:
        assert "Add the CSV writer" in (current_plan(tracker.get("TACK-5")) or "")
