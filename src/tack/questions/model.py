"""The one durable `Question` record every source of "ask a person" maps onto.

A question belongs to a run and an issue; it has options (one may be recommended), may
allow free text, may be secret (its answer never reaches events, logs or the API), and has
a deadline with a default action. `resume` holds what continues the agent's conversation
(the built-in agent's messages, a codex thread id, a claude session id).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from tack.errors import TackError

STATUSES = ("open", "answered", "resumed", "failed", "abandoned")
SECRET_MASK = "[secret]"

class AnswerError(TackError):
    """An answer that does not fit its question (an option out of range, free text refused)."""


@dataclass
class Asked:
    """What an agent asked, before it is stored: the session's side of a question."""

    text: str
    options: list[str] = field(default_factory=list)
    recommended: int | None = None  # 1-based
    allow_free_text: bool = True
    secret: bool = False
    source: str = "ask_human"  # ask_human | codex.requestUserInput | codex.elicitation | claude
    # What resumes the same conversation: {"backend": ..., ...} (backend-specific).
    resume: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def from_tool_args(cls, args: dict[str, Any]) -> Asked:
        """The `ask_human` tool's arguments, checked; a bad call raises `AnswerError`."""
        text = str(args.get("question") or "").strip()
        if not text:
            raise AnswerError("ask_human needs a non-empty `question`.")
        options = [str(o).strip() for o in args.get("options") or [] if str(o).strip()]
        recommended = args.get("recommended")
        if recommended is not None and not (isinstance(recommended, int)
                                            and 1 <= recommended <= len(options)):
            raise AnswerError(f"`recommended` must be an option number 1-{len(options)}.")
        free = args.get("allow_free_text")
        return cls(text, options, recommended,
                   allow_free_text=bool(free) if free is not None else not options,
                   secret=bool(args.get("secret")))


@dataclass
class Question:
    id: int
    run_id: int | None
    issue_id: str
    identifier: str
    text: str
    options: list[str]
    recommended: int | None
    allow_free_text: bool
    secret: bool
    source: str
    status: str
    default_action: str
    deadline_at: float | None
    asked_at: float
    prior_state: str | None
    resume: dict[str, Any]
    answer: str | None = None
    answered_by: str | None = None
    answered_at: float | None = None

    def resolve(self, text: str | None = None, option: int | None = None) -> str:
        """The answer text for `--option N` or free text; `AnswerError` when it does not fit."""
        if option is not None:
            if not 1 <= option <= len(self.options):
                raise AnswerError(
                    f"Question {self.id} has {len(self.options)} option(s); "
                    f"answer with a number from 1 to {len(self.options)}." if self.options else
                    f"Question {self.id} has no options; answer with text.")
            return self.options[option - 1]
        answer = (text or "").strip()
        if not answer:
            raise AnswerError(f"An answer to question {self.id} needs text or an option number.")
        if answer.isdigit() and self.options and 1 <= int(answer) <= len(self.options):
            return self.options[int(answer) - 1]
        if not self.allow_free_text:
            raise AnswerError(
                f"Question {self.id} takes one of its options (1-{len(self.options)}), "
                "not free text.")
        return answer

    def public(self) -> dict[str, Any]:
        """The API's and CLI's view: the answer of a secret question is masked."""
        answer = self.answer
        if self.secret and answer is not None:
            answer = SECRET_MASK
        return {
            "id": self.id, "run_id": self.run_id, "issue_id": self.issue_id,
            "issue_identifier": self.identifier, "text": self.text, "options": self.options,
            "recommended": self.recommended, "allow_free_text": self.allow_free_text,
            "secret": self.secret, "source": self.source, "status": self.status,
            "default_action": self.default_action, "deadline_at": self.deadline_at,
            "asked_at": self.asked_at, "answer": answer, "answered_by": self.answered_by,
            "answered_at": self.answered_at,
        }


_ANSWER_RE = re.compile(r"^\s*/answer(?:\s+(?P<rest>.+))?\s*$", re.DOTALL)


def answer_command(body: str) -> str | None:
    """The text after `/answer` in a tracker comment (None when the comment is not one)."""
    match = _ANSWER_RE.match(body)
    if match is None:
        return None
    return (match.group("rest") or "").strip() or None


def question_comment(question: Question) -> str:
    """The comment posted on the issue: the question, its options, how to answer."""
    lines = [f"**The agent asks** (question {question.id}):", "", question.text, ""]
    for number, option in enumerate(question.options, 1):
        mark = " (recommended)" if question.recommended == number else ""
        lines.append(f"{number}. {option}{mark}")
    if question.options:
        lines.append("")
    how = []
    if question.secret:
        how.append(f"This answer is secret: answer with `tack answer {question.identifier} TEXT` "
                   "or the API, not in a comment.")
    else:
        if question.options:
            how.append("Answer with a comment `/answer N` (an option's number)")
        if question.allow_free_text:
            how.append("`/answer <your text>`" if question.options else
                       "Answer with a comment `/answer <your text>`")
        how = [" or ".join(how) + ", on the dashboard, or with "
               f"`tack answer {question.identifier}`."]
    if question.deadline_at is not None:
        how.append(f"Without an answer by the deadline the default applies: "
                   f"{question.default_action}.")
    return "\n".join(lines + how)
