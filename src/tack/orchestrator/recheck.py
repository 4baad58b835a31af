"""An issue whose run handed off is dispatched again from a candidate listing only after a
read of that one issue says it is eligible. A listing can lag behind the hand-off (a read
replica, a search index, a proxy's cache): trusting it would start finished work a second
time, with a second agent session and its comments posted twice.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Protocol

from tack.errors import TrackerError
from tack.orchestrator import grace, scheduling
from tack.orchestrator.state import RunningEntry
from tack.tracker.base import Issue

if TYPE_CHECKING:
    from tack.tracker import Tracker
    from tack.workflow import Workflow


class RecheckHost(Protocol):
    """What the re-read needs of the orchestrator (the core implements it)."""

    handed_off: set[str]

    @property
    def workflow(self) -> Workflow: ...

    @property
    def tracker(self) -> Tracker: ...


def note_exit(orch: RecheckHost, entry: RunningEntry) -> None:
    """Remember a run that ended with its issue handed off."""
    if grace.in_handoff(orch.workflow.config.tracker, entry.issue):
        orch.handed_off.add(entry.issue.id)


async def confirmed(orch: RecheckHost, listed: Issue) -> Issue | None:
    """The issue to dispatch for `listed`: itself, or, after a hand-off, its fresh read when
    that says it is eligible again (a person sent it back to work); None skips it this tick."""
    if listed.id not in orch.handed_off:
        return listed
    try:
        found = await orch.tracker.fetch_issues_by_ids([listed.id])
    except TrackerError:
        return None  # the next poll asks again
    cfg = orch.workflow.config.tracker
    issue = next((i for i in found if i.id == listed.id), None)
    if issue is None or cfg.is_terminal(issue.state):
        orch.handed_off.discard(listed.id)
        return None
    if not scheduling.is_candidate(issue, cfg):
        return None  # the listing was stale: the hand-off stands
    orch.handed_off.discard(listed.id)
    return issue
