"""The question record in a real state db: answers that do not fit are refused with the
reason, an answer is taken by the next attempt, and a question left open when its issue went
back to work without an answer is abandoned (no longer counting as open)."""

from __future__ import annotations

from pathlib import Path

import pytest

from tack.questions.model import AnswerError, Asked, answer_command
from tack.questions.park import record_answer, resumed, take_answer
from tack.questions.store import QuestionStore
from tack.store import Store


def ask(store: Store, issue_id: str, asked: Asked) -> int:
    return QuestionStore(store.db).add(asked, run_id=1, issue_id=issue_id, identifier="TACK-1",
                                       default_action="wait", deadline_at=None,
                                       prior_state="Todo").id


def test_answers_are_checked_then_taken_once_resumed(tmp_path: Path) -> None:
    store = Store(tmp_path / "state.db")
    questions = QuestionStore(store.db)
    qid = ask(store, "i1", Asked("Which?", ["a", "b"], 2, allow_free_text=False))
    question = questions.get(qid)
    assert question is not None
    with pytest.raises(AnswerError, match="from 1 to 2"):
        record_answer(store, question, None, 3, "cli:ann")
    with pytest.raises(AnswerError, match="not free text"):
        record_answer(store, question, "c", None, "cli:ann")
    assert record_answer(store, question, "2", None, "tracker:ann") == "b"
    with pytest.raises(AnswerError, match="answered already"):
        record_answer(store, questions.get(qid) or question, "a", None, "cli:bob")
    taken = take_answer(store, "i1")
    assert taken is not None and taken.answer == "b" and taken.answered_by == "tracker:ann"
    assert take_answer(store, "i1") is not None  # not resumed yet: the next attempt retries
    resumed(store, taken)
    assert take_answer(store, "i1") is None


def test_an_open_question_is_abandoned_when_its_issue_runs_again(tmp_path: Path) -> None:
    store = Store(tmp_path / "state.db")
    qid = ask(store, "i2", Asked("Anyone?"))
    assert take_answer(store, "i2") is None
    question = QuestionStore(store.db).get(qid)
    assert question is not None and question.status == "abandoned"
    assert QuestionStore(store.db).where(status="open", issue_id="i2") == []


def test_answer_comments_are_recognised() -> None:
    assert answer_command("/answer 2") == "2"
    assert answer_command("  /answer use postgres, please\n") == "use postgres, please"
    assert answer_command("/answer") is None
    assert answer_command("I would /answer 2") is None
