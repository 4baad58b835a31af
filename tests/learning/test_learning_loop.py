"""The learning loop from outside: feedback → `tack learn` → lessons → the next run's prompt."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import yaml

from tack.learning import record_lessons_given, relevant_lessons, render_lessons
from tack.learning.ledger import lessons_given
from tack.principles.document import parse_document
from tack.testing.stub_model import StubModelServer
from tack.tracker.local import LocalTracker
from tack.workflow import load_workflow
from tests.conftest import run_tack
from tests.learning.conftest import seed_run

SLEEP_COMMENT = "The test waits with time.sleep(2); poll with a deadline instead."


def _lesson_files(repo: Path) -> list[Path]:
    return sorted((repo / "lessons").glob("L*.md"))


def _front(path: Path) -> dict[str, object]:
    return yaml.safe_load(path.read_text().split("---", 2)[1])


def _learn_requests(stub: StubModelServer) -> list[str]:
    return [r.body["messages"][1]["content"] for r in stub.requests
            if r.path.endswith("/chat/completions")]


def test_feedback_becomes_a_lesson_that_reaches_the_next_run_and_repeats_strengthen_it(
        project: Path, stub: StubModelServer) -> None:
    run1 = seed_run(project, "TACK-1", events=["wrote tests/test_worker.py with a sleep"])
    assert run1 == 1
    out = run_tack("feedback", "1", "--down", "--comment", SLEEP_COMMENT, cwd=project)
    assert out.returncode == 0, out.stderr
    assert "Recorded feedback" in out.stdout

    out = run_tack("learn", cwd=project)
    assert out.returncode == 0, out.stderr
    assert "added        L0001: Poll with a deadline" in out.stdout
    [lesson_file] = _lesson_files(project)
    assert lesson_file.name == "L0001-poll-with-a-deadline-instead-of-sleeping.md"
    front = _front(lesson_file)
    assert front["occurrences"] == 1 and front["evidence"] == ["run:1", "feedback:1"]
    assert "poll the condition with a deadline" in lesson_file.read_text()
    # The model saw the feedback, the session log and the branch's diff.
    [asked] = _learn_requests(stub)
    assert SLEEP_COMMENT in asked
    assert "wrote tests/test_worker.py with a sleep" in asked
    assert "+    time.sleep(2)" in asked

    # Run 2 on a similar issue gets the lesson; an unrelated issue does not.
    workflow = load_workflow(project / "WORKFLOW.md")
    with LocalTracker(project / ".tack" / "issues.db") as tracker:
        similar, unrelated = tracker.get("TACK-2"), tracker.get("TACK-4")
    given = relevant_lessons(workflow.config, project, similar, limit=5)
    assert [x.id for x in given] == ["L0001"]
    assert relevant_lessons(workflow.config, project, unrelated, limit=5) == []
    prompt = workflow.render_prompt(similar) + "\n" + render_lessons(given)
    assert "L0001: Poll with a deadline instead of sleeping in tests" in prompt
    assert given[0].to_prompt()["title"] == "Poll with a deadline instead of sleeping in tests"
    run2 = seed_run(project, "TACK-2")
    db = sqlite3.connect(project / ".tack" / "state.db")
    record_lessons_given(db, run2, [x.id for x in given])
    record_lessons_given(db, run2, [x.id for x in given])
    assert lessons_given(db, run2) == ["L0001"]
    db.close()

    # `tack learn` again: nothing unlearned, no model call, nothing written.
    before = lesson_file.read_text()
    out = run_tack("learn", "--json", cwd=project)
    assert json.loads(out.stdout)["feedback_used"] == 0
    assert len(_learn_requests(stub)) == 1 and lesson_file.read_text() == before

    # The same mistake on run 3: the existing lesson is strengthened, not duplicated.
    run3 = seed_run(project, "TACK-3")
    assert run_tack("feedback", str(run3), "--down", "-m", SLEEP_COMMENT,
                    cwd=project).returncode == 0
    out = run_tack("learn", cwd=project)
    assert out.returncode == 0, out.stderr
    assert "strengthened L0001" in out.stdout and "seen 2 times" in out.stdout
    assert _lesson_files(project) == [lesson_file]
    front = _front(lesson_file)
    assert front["occurrences"] == 2
    assert front["evidence"] == ["run:1", "feedback:1", "run:3", "feedback:2"]

    # A third time reaches learning.propose_after (3): a principle proposal is drafted.
    run4 = seed_run(project, "TACK-3")
    run_tack("feedback", str(run4), "--down", "-m", SLEEP_COMMENT, cwd=project)
    out = run_tack("learn", cwd=project)
    assert "proposed as a principle: L0001" in out.stdout
    proposals = project / "lessons" / "PROPOSED_PRINCIPLES.md"
    doc = parse_document(proposals.read_text(), proposals)
    assert [p.id for p in doc.principles] == ["L0001"]
    assert "3 times" in doc.principles[0].why
    assert _front(lesson_file)["proposed"] is True

    listing = run_tack("lessons", "list", cwd=project)
    assert "L0001  x3  Poll with a deadline" in listing.stdout
    shown = run_tack("lessons", "show", "l0001", cwd=project)
    assert "evidence: run:1, feedback:1, run:3" in shown.stdout


def test_different_mistakes_make_different_lessons_and_bad_answers_stay_unlearned(
        project: Path, stub: StubModelServer) -> None:
    for _ in range(4):
        seed_run(project, "TACK-1")
    seed_run(project, "TACK-4")  # run 5
    seed_run(project, "TACK-4")  # run 6: the model answers without JSON
    run_tack("feedback", "1", "--down", "-m", SLEEP_COMMENT, cwd=project)
    run_tack("feedback", "5", "--down", "-m", "The migration is called new.sql.", cwd=project)
    run_tack("feedback", "6", "--down", cwd=project)
    run_tack("feedback", "2", "--up", cwd=project)  # praise: no lesson, no model call
    dry = run_tack("learn", "--dry-run", "--json", cwd=project)
    assert json.loads(dry.stdout)["added"] == ["L0001", "L0002"]
    assert _lesson_files(project) == []
    out = run_tack("learn", "--json", cwd=project)
    result = json.loads(out.stdout)
    assert result["added"] == ["L0001", "L0002"] and result["feedback_skipped"] == 1
    assert "run 6 (TACK-4)" in result["errors"][0]
    assert [p.name[:5] for p in _lesson_files(project)] == ["L0001", "L0002"]
    # Run 6's feedback was not marked learned: the next `tack learn` asks again.
    again = json.loads(run_tack("learn", "--json", cwd=project).stdout)
    assert again["feedback_used"] == 0 and len(again["errors"]) == 1


def test_people_comments_on_local_issues_are_feedback(project: Path) -> None:
    seed_run(project, "TACK-1")
    with LocalTracker(project / ".tack" / "issues.db") as tracker:
        tracker.comment_sync("TACK-1", "working on it", author="agent")
        tracker.comment_sync("TACK-1", "-1 " + SLEEP_COMMENT, author="alice")
    out = run_tack("learn", "--json", cwd=project)
    result = json.loads(out.stdout)
    assert result["ingested_comments"] == 1 and result["added"] == ["L0001"]
    assert json.loads(run_tack("learn", "--json", cwd=project).stdout)["ingested_comments"] == 0
    db = sqlite3.connect(project / ".tack" / "state.db")
    rows = db.execute("SELECT author, sentiment, run_id FROM review_feedback").fetchall()
    assert rows == [("alice", -1, 1)]


def test_feedback_mistakes_get_clear_errors(project: Path) -> None:
    out = run_tack("feedback", "99", "--down", cwd=project)
    assert out.returncode == 2 and "no run 99" in out.stderr and "Traceback" not in out.stderr
    seed_run(project, "TACK-1")
    out = run_tack("feedback", "1", "--up", "--down", cwd=project)
    assert out.returncode == 2 and "exactly one of --up or --down" in out.stderr
    out = run_tack("lessons", "show", "L0042", cwd=project)
    assert out.returncode == 2 and "No lesson 'L0042'" in out.stderr
