"""Where human time went: questions in a real state db, grouped by similarity, counted, timed,
and in `tack gc-report` with a proposal for the kind asked three times."""

from __future__ import annotations

from pathlib import Path

from tack.questions.kinds import group_questions
from tack.questions.model import Asked
from tack.questions.store import QuestionStore
from tack.store import Store
from tack.store.feedback import FeedbackStore
from tests.conftest import run_tack

DB_QUESTIONS = ["Which database should the cache use: sqlite or postgres?",
                "Should the cache database be sqlite or postgres?",
                "Which database for the session cache, sqlite or postgres?"]


def seed(state_db: Path) -> QuestionStore:
    store = Store(state_db)
    questions = QuestionStore(store.db)
    for n, text in enumerate([*DB_QUESTIONS, "May I delete the legacy billing endpoint?"], 1):
        question = questions.add(Asked(text), run_id=None, issue_id=f"id-{n}",
                                 identifier=f"TACK-{n}", default_action="wait",
                                 deadline_at=None, prior_state="Todo")
        questions.answer(question.id, "sqlite", "cli:ann")
        with store.db:  # answered 10 minutes after it was asked
            store.db.execute("UPDATE questions SET answered_at = asked_at + 600 WHERE id = ?",
                             (question.id,))
    return questions


def test_similar_questions_are_one_kind_with_count_and_time_to_answer(tmp_path: Path) -> None:
    questions = seed(tmp_path / "state.db")
    kinds = group_questions(questions.where())
    assert [k.count for k in kinds] == [3, 1]
    assert kinds[0].example == DB_QUESTIONS[0]
    assert kinds[0].issues == ["TACK-1", "TACK-2", "TACK-3"]
    assert kinds[0].median_answer_s == 600
    assert kinds[0].proposal and "tool, a principle or a runbook" in kinds[0].proposal
    assert kinds[1].proposal is None


def test_gc_report_says_where_human_time_went(project: Path) -> None:
    seed(project / ".tack" / "state.db")
    FeedbackStore(project / ".tack" / "state.db")  # its tables, as `tack up` makes them
    out = run_tack("gc-report", "--since", "7d", "--out", "week.md", cwd=project)
    assert out.returncode == 0, out.stderr
    report = (project / "week.md").read_text()
    section = report.split("## Where human time went (questions agents asked)")[1]
    assert (f"| {DB_QUESTIONS[0]} | 3 | TACK-1, TACK-2, TACK-3 | 10 min | asked 3 times: "
            "make the answer a tool, a principle or a runbook") in section
    assert "| May I delete the legacy billing endpoint? | 1 | TACK-4 | 10 min |  |" in section
