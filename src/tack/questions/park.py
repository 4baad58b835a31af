"""Park a run on a question, find the answer, and resume the same conversation.

Parking stores the question (with what resumes the conversation), posts it on the issue and
moves the issue to `tracker.needs_input_state` (or, on a tracker without that state, labels
it `tracker.needs_input_label`); the attempt then ends, so its slot is free
and no tokens are spent while it waits. The `QuestionDesk` (a task next to the orchestrator,
one pass per poll) reads `/answer` comments, applies deadlines, and moves answered issues
back to the state they were in (or takes the label off); the next attempt takes the answer and resumes.
"""

from __future__ import annotations

import asyncio
import time
from typing import TYPE_CHECKING, Any, Protocol

import structlog

from tack.agents.base import EventSink, TurnResult
from tack.errors import TackError
from tack.questions.model import AnswerError, Asked, Question, answer_command, question_comment
from tack.questions.store import QuestionStore
from tack.tracker.base import StatelessTracker
from tack.workflow.config import TrackerConfig, normalize_state

if TYPE_CHECKING:
    from tack.orchestrator.host import RunHost
    from tack.orchestrator.state import RunningEntry
    from tack.store import Store
    from tack.tracker.base import Issue

log = structlog.get_logger("tack.questions")


class Resumable(Protocol):
    """A session that can continue a conversation saved when its agent asked a person."""

    async def resume(self, saved: dict[str, Any], answer: str,
                     on_event: EventSink) -> TurnResult: ...


def parking_label(tracker: Any, cfg: TrackerConfig) -> str | None:
    """The label that parks an issue on a tracker without `needs_input_state` (GitHub or
    GitLab issues whose state labels do not map it); None where the issue moves by state."""
    if (isinstance(tracker, StatelessTracker) and cfg.needs_input_label.strip()
            and not tracker.has_state(cfg.needs_input_state)):
        return cfg.needs_input_label.strip()
    return None


def waits_for_input(issue: Issue, cfg: TrackerConfig, label: str | None) -> bool:
    """Whether the issue is parked: in `needs_input_state`, or carrying the label."""
    if label is not None:
        return label.lower() in {x.strip().lower() for x in issue.labels}
    return normalize_state(issue.state) == normalize_state(cfg.needs_input_state)


async def park(host: RunHost, entry: RunningEntry, asked: Asked) -> str | None:
    """Store the question, post it on the issue, move the issue to wait for an answer.
    Returns an error when the question cannot be parked (the attempt then fails)."""
    cfg = host.workflow.config
    questions = QuestionStore(host.store.db)
    issue = entry.issue
    if len(questions.where(status="open", issue_id=issue.id)) >= cfg.questions.max_open_per_issue:
        return (f"{issue.identifier} already has questions.max_open_per_issue "
                f"({cfg.questions.max_open_per_issue}) open question(s)")
    deadline = (time.time() + cfg.questions.deadline_ms / 1000
                if cfg.questions.deadline_ms else None)
    question = questions.add(asked, run_id=entry.run_id, issue_id=issue.id,
                             identifier=issue.identifier,
                             default_action=cfg.questions.default_action,
                             deadline_at=deadline, prior_state=issue.state)
    try:
        await host.tracker.comment(issue.id, question_comment(question), author="tack")
        tracker: Any = host.tracker  # a StatelessTracker whenever a label is returned
        label = parking_label(tracker, cfg.tracker)
        if label is not None:
            await tracker.set_label(issue.id, label, True)
        else:
            await tracker.move(issue.id, cfg.tracker.needs_input_state)
    except TackError as exc:
        questions.set_status(question.id, "failed")
        return f"could not post question {question.id} on the issue: {exc.message}"
    where = (f"labelled {label!r}" if label is not None
             else f"in {cfg.tracker.needs_input_state!r}")
    host.record(entry, "orchestrator",
                f"asked a person (question {question.id}); parked {where} until someone answers")
    return None


def take_answer(store: Store, issue_id: str) -> Question | None:
    """The answered question this attempt resumes from, if any (`resumed` marks it once the
    resumed turn went through, so a failed resume is tried again by the next attempt).

    An attempt starts only while its issue is active, so a question of this issue still open
    now was left behind (the issue was moved on without an answer): it is abandoned, and no
    longer counts against `questions.max_open_per_issue`."""
    questions = QuestionStore(store.db)
    for question in questions.where(status="open", issue_id=issue_id):
        questions.set_status(question.id, "abandoned", only_from="open")
    answered = questions.where(status="answered", issue_id=issue_id)
    return answered[-1] if answered else None  # the oldest


def resumed(store: Store, question: Question) -> None:
    QuestionStore(store.db).set_status(question.id, "resumed", only_from="answered")


def resume_prompt(prompt: str, question: Question) -> str:
    """For a session that cannot continue the saved conversation: the question and its
    answer go in front of the prompt."""
    return (f"Earlier you asked a person: {question.text}\nThe answer: {question.answer}\n"
            f"Continue with that answer.\n\n{prompt}")


def record_answer(store: Store, question: Question, text: str | None, option: int | None,
                  by: str) -> str:
    """Record an answer from the CLI, the API or a comment; raises `AnswerError`."""
    if question.status != "open":
        raise AnswerError(f"Question {question.id} is {question.status}, not open: "
                          "it was answered already.")
    answer = question.resolve(text, option)
    if not QuestionStore(store.db).answer(question.id, answer, by):
        raise AnswerError(f"Question {question.id} was answered meanwhile.")
    return answer


class DeskHost(Protocol):
    """What the desk uses of the orchestrator (its store, tracker and workflow)."""

    store: Store

    @property
    def workflow(self) -> Any: ...

    @property
    def tracker(self) -> Any: ...

    def request_refresh(self) -> bool: ...


class QuestionDesk:
    """Reads answers from the tracker, applies deadlines, sends answered issues back."""

    def __init__(self, host: DeskHost) -> None:
        self.host = host
        # `/answer` comments already acted on (question id, comment time), so a refused
        # answer is explained once, not on every poll; only open questions' comments are
        # read, so the others' are forgotten.
        self.seen_answers: set[tuple[int, float]] = set()

    async def run(self) -> None:
        while True:
            try:
                await self.sweep()
            except TackError as exc:  # the tracker is down: try again next poll
                log.warning("question sweep failed", error=exc.message)
            await asyncio.sleep(self.host.workflow.config.polling.interval_ms / 1000)

    async def sweep(self) -> None:
        questions = QuestionStore(self.host.store.db)
        waiting = questions.where(status="open") + questions.where(status="answered")
        open_ids = {q.id for q in waiting if q.status == "open"}
        self.seen_answers = {seen for seen in self.seen_answers if seen[0] in open_ids}
        if not waiting:
            return
        issues = {i.id: i for i in await self.host.tracker.fetch_issues_by_ids(
            sorted({q.issue_id for q in waiting}))}
        for question in waiting:
            issue = issues.get(question.issue_id)
            if issue is None:
                continue
            if question.status == "open":
                await self._read_comments(question, issue)
                await self._apply_deadline(question, issue)
            await self._send_back(questions, question.id, issue)

    async def _read_comments(self, question: Question, issue: Issue) -> None:
        for comment in issue.comments:
            text = answer_command(comment.body)
            at = comment.created_at.timestamp()
            if text is None or at < question.asked_at or (question.id, at) in self.seen_answers:
                continue
            self.seen_answers.add((question.id, at))
            if question.secret:
                await self._say(issue, f"Question {question.id} is secret: answer it with "
                                       f"`tack answer {issue.identifier}` or the API.")
                return
            try:
                record_answer(self.host.store, question, text, None,
                              f"tracker:{comment.author}")
            except AnswerError as exc:
                await self._say(issue, exc.message)
                return
            return

    async def _apply_deadline(self, question: Question, issue: Issue) -> None:
        if question.deadline_at is None or time.time() < question.deadline_at:
            return
        current = QuestionStore(self.host.store.db).get(question.id)
        if current is None or current.status != "open":
            return
        action = question.default_action
        if action == "recommended" and question.recommended:
            record_answer(self.host.store, current, None, question.recommended, "deadline")
            note = (f"No answer to question {question.id} by its deadline: going with the "
                    f"recommended option {question.recommended}.")
        elif action == "wait":
            with self.host.store.db:
                self.host.store.db.execute(
                    "UPDATE questions SET deadline_at = NULL WHERE id = ?", (question.id,))
            note = f"Question {question.id} passed its deadline; still waiting for an answer."
        else:  # fail, or recommended without a recommended option
            QuestionStore(self.host.store.db).answer(
                question.id, "Nobody answered before the deadline. Decide without a person, "
                             "or stop and explain why you cannot.", "deadline")
            note = (f"No answer to question {question.id} by its deadline: the question "
                    "failed; the agent continues knowing nobody answered.")
        await self._say(issue, note)

    async def _send_back(self, questions: QuestionStore, question_id: int, issue: Issue) -> None:
        question = questions.get(question_id)
        cfg = self.host.workflow.config.tracker
        label = parking_label(self.host.tracker, cfg)
        if (question is None or question.status != "answered"
                or not waits_for_input(issue, cfg, label)):
            return
        who = question.answered_by or "someone"
        if label is not None:
            await self.host.tracker.set_label(issue.id, label, False)
            where = f"label {label!r} removed"
        else:
            back_to = question.prior_state or cfg.active_states[0]
            await self.host.tracker.move(issue.id, back_to)
            where = f"issue back in {back_to!r}"
        await self._say(issue, f"Question {question.id} answered by {who}; the agent resumes "
                               f"({where}).")
        self.host.request_refresh()

    async def _say(self, issue: Issue, body: str) -> None:
        await self.host.tracker.comment(issue.id, body, author="tack")
