"""The plan gate: issues labelled for planning get a plan, then wait for a person.

`write_plan` asks the model for a plan, posts it as a comment and moves the issue to
`review.plan_review_state` (not an active state, so nothing is dispatched). `approve_plan`
moves it back to an active state with an approval marker; `reject_plan` records the reason as
feedback and sends it back to be planned again.
"""

from __future__ import annotations

import asyncio
import hashlib
import sqlite3
from dataclasses import dataclass
from datetime import UTC, datetime

from tack.errors import TrackerError
from tack.learning.intake import MACHINE_AUTHORS
from tack.learning.lessons import LearningError
from tack.learning.model import ask
from tack.store.feedback import (
    FeedbackItem,
    FeedbackStore,
    PullRequestRecord,
    is_own,
    mark_own,
    own_mark,
    strip_marks,
)
from tack.tracker.base import Comment, Issue, Tracker
from tack.workflow.config import ServiceConfig, normalize_state

PLANNER = "tack-planner"
PLAN_HEADING = "## Plan"
PLAN_APPROVED_MARKER = own_mark("plan-approved")
SYSTEM_PROMPT = """\
You are planning a piece of work before anyone writes code. Write a short plan in markdown:
the goal, the steps (each small enough for one agent run), the files likely touched, the
risks, and how the result will be checked. Do not write the code.
"""


async def _fetch(tracker: Tracker, ref: str) -> Issue:
    issues = await tracker.fetch_issues_by_ids([ref])
    if not issues:
        raise TrackerError(f"No issue {ref!r} in the tracker. Check the identifier with "
                           "`tack issue list`.", code="issue_not_found")
    return issues[0]


def _labelled(config: ServiceConfig, issue: Issue) -> bool:
    wanted = {label.strip().lower() for label in config.review.plan_labels}
    return any(label.lower() in wanted for label in issue.labels)


async def needs_plan(config: ServiceConfig, tracker: Tracker, issue: Issue) -> bool:
    """True when the issue carries a plan label and no person has approved its plan yet."""
    if not _labelled(config, issue):
        return False
    full = await _fetch(tracker, issue.id)
    return not any(PLAN_APPROVED_MARKER in c.body for c in full.comments)


async def hold_for_plan(config: ServiceConfig, tracker: Tracker, issue: Issue) -> bool:
    """Call before implementing an issue: True when it needed a plan, which is now written
    and waiting for a person (the issue left the active states); False: implement it."""
    if not await needs_plan(config, tracker, issue):
        return False
    await write_plan(config, tracker, issue.id)
    return True


def current_plan(issue: Issue) -> str | None:
    plans = [c.body for c in issue.comments if c.body.startswith(PLAN_HEADING)]
    return plans[-1] if plans else None


@dataclass(frozen=True)
class ApprovedPlan:
    """The plan a person approved, and what people said about it after it was posted."""

    text: str
    approved_by: str
    comments: tuple[Comment, ...]

    def to_prompt(self) -> str:
        lines = [(f"## Approved plan\n\nA person ({self.approved_by}) reviewed and approved "
                  "this plan for the issue. Implement it as approved; where the review "
                  "comments below change it, follow the comments.\n"),
                 strip_marks(self.text).removeprefix(PLAN_HEADING).strip()]
        if self.comments:
            lines.append("\nReview comments on the plan:")
            lines += [f"- {c.author}: {strip_marks(c.body)}" for c in self.comments]
        return "\n".join(lines)


def approved_plan(issue: Issue) -> ApprovedPlan | None:
    """The latest plan on `issue` when a person approved it after it was posted, with the
    people's comments since it was posted (the approval's note among them)."""
    plan_at = next((i for i in range(len(issue.comments) - 1, -1, -1)
                    if issue.comments[i].body.startswith(PLAN_HEADING)), None)
    if plan_at is None:
        return None
    after = issue.comments[plan_at + 1:]
    approvals = [c for c in after if PLAN_APPROVED_MARKER in c.body]
    if not approvals:
        return None
    said = tuple(c for c in after if c.author.strip().lower() not in MACHINE_AUTHORS
                 and strip_marks(c.body) and (not is_own(c.body) or c in approvals))
    return ApprovedPlan(issue.comments[plan_at].body, approvals[-1].author, said)


async def approved_plan_for(config: ServiceConfig, tracker: Tracker,
                            issue: Issue) -> ApprovedPlan | None:
    """`approved_plan` of the issue as the tracker has it now (with all its comments); None
    without a fetch for issues that are not planned (no plan label, no plan comment)."""
    if not _labelled(config, issue) and current_plan(issue) is None:
        return None
    return approved_plan(await _fetch(tracker, issue.id))


def with_approved_plan(prompt: str, plan: ApprovedPlan | None) -> str:
    """The implementation prompt with the approved plan appended (unchanged without one)."""
    return prompt if plan is None else f"{prompt.rstrip()}\n\n{plan.to_prompt()}\n"



async def write_plan(config: ServiceConfig, tracker: Tracker, ref: str) -> Issue:
    """Plan the issue with the model, post the plan, and park the issue for review."""
    issue = await _fetch(tracker, ref)
    earlier = "\n\n".join(f"{c.author}: {c.body}" for c in issue.comments) or "(none)"
    prompt = (f"Plan issue {issue.identifier}: {issue.title}\n\n"
              f"{issue.description or '(no description)'}\n\nComments so far (a rejected "
              f"plan's reasons are here):\n{earlier}")
    # The model call blocks; keep it off the orchestrator's event loop.
    plan = (await asyncio.to_thread(ask, config.builtin, SYSTEM_PROMPT, prompt,
                                    what="the plan gate")).strip()
    if not plan:
        raise LearningError(f"The planning model returned an empty plan for "
                            f"{issue.identifier}; the issue stays where it is.")
    await tracker.comment(issue.id, mark_own(f"{PLAN_HEADING}\n\n{plan}", "plan"),
                          author=PLANNER)
    return await tracker.move(issue.id, config.review.plan_review_state)


def _require_in_review(config: ServiceConfig, issue: Issue) -> None:
    if normalize_state(issue.state) != normalize_state(config.review.plan_review_state):
        raise TrackerError(
            f"{issue.identifier} is in {issue.state!r}, not {config.review.plan_review_state!r}"
            f": there is no plan waiting for review. Write one with `tack plan write "
            f"{issue.identifier}`.", code="plan_not_in_review")


def _back_to_work(config: ServiceConfig) -> str:
    return config.review.approved_state or config.tracker.active_states[0]


async def approve_plan(config: ServiceConfig, tracker: Tracker, ref: str, *,
                       author: str = "reviewer", note: str | None = None) -> Issue:
    issue = await _fetch(tracker, ref)
    _require_in_review(config, issue)
    if author.strip().lower() in MACHINE_AUTHORS:
        raise TrackerError(f"A plan is approved by a person; {author!r} is Tack's own "
                           "author name. Pass --author with your name.", code="plan_approval")
    body = f"Plan approved by {author}." + (f" {note}" if note else "")
    await tracker.comment(issue.id, f"{body}\n\n{PLAN_APPROVED_MARKER}", author=author)
    return await tracker.move(issue.id, _back_to_work(config))


async def reject_plan(config: ServiceConfig, tracker: Tracker, db: sqlite3.Connection,
                      ref: str, *, comment: str, author: str = "reviewer") -> Issue:
    """Store the rejection as feedback and send the issue back to be planned again."""
    if not comment.strip():
        raise TrackerError("Say why the plan is rejected: `tack plan reject ID --comment "
                           "TEXT`. The reason is what the next plan learns from.",
                           code="plan_rejection")
    issue = await _fetch(tracker, ref)
    _require_in_review(config, issue)
    # The rejection is stored as feedback below; the comment is marked so that reading the
    # issue's comments later does not count it a second time.
    await tracker.comment(issue.id, mark_own(f"Plan rejected by {author}: {comment}",
                                             "plan-rejected"), author=author)
    row = db.execute("SELECT id FROM runs WHERE issue_id = ? OR identifier = ? "
                     "ORDER BY id DESC LIMIT 1", (issue.id, issue.identifier)).fetchone()
    pr = PullRequestRecord(forge="tack", repo="plans", number=_number(issue), url=issue.url,
                           run_id=int(row[0]) if row else None, issue_id=issue.id,
                           identifier=issue.identifier, branch=issue.branch_name or "")
    store = FeedbackStore(db)
    store.record_pull_request(pr)
    now = datetime.now(UTC).isoformat()
    store.record(pr, [FeedbackItem(kind="review", external_id=f"plan-{now}", author=author,
                                   body=f"Plan rejected: {comment}", state="plan_rejected",
                                   sentiment=-1, created_at=now)])
    return await tracker.move(issue.id, _back_to_work(config))


def _number(issue: Issue) -> int:
    tail = issue.identifier.rsplit("-", 1)[-1]
    return int(tail) if tail.isdigit() else int(hashlib.sha256(issue.id.encode()).hexdigest()[:8], 16)
