"""An issue whose run handed off is dispatched again from a candidate listing only after a
read of that one issue says it is eligible. A listing can lag behind the hand-off (a read
replica, a search index, a proxy's cache): trusting it would start finished work a second
time, with a second agent session and its comments posted twice.

The issues to re-read are remembered for `LISTING_LAG_S` after the hand-off (or after a
listing last showed one stale), not forever: most handed-off issues are closed by a person
and never listed as active again, so a long-running orchestrator would otherwise keep one id
per hand-off it ever saw.
"""

from __future__ import annotations

import time
from collections import OrderedDict
from typing import TYPE_CHECKING, Protocol

from tack.errors import TrackerError
from tack.orchestrator import grace, scheduling
from tack.orchestrator.state import RunningEntry
from tack.tracker.base import Issue

if TYPE_CHECKING:
    from tack.tracker import Tracker
    from tack.workflow import Workflow

# How long a listing may still show a handed-off issue as active. Replicas and search
# indexes lag by seconds; a listing ten minutes behind is an outage, and the price of
# forgetting sooner is only that such a listing could start the issue a second time.
LISTING_LAG_S = 600.0


class HandedOff:
    """Issues whose run handed off, each with when it was last vouched for (monotonic),
    oldest first, so expiring is popping from the front."""

    def __init__(self) -> None:
        self._seen: OrderedDict[str, float] = OrderedDict()

    def __contains__(self, issue_id: object) -> bool:
        return issue_id in self._seen

    def __len__(self) -> int:
        return len(self._seen)

    def add(self, issue_id: str) -> None:
        """Remember `issue_id` as handed off now (a listing that still shows it stale counts
        as a fresh hand-off: that listing is still behind)."""
        self.expire()
        self._seen[issue_id] = time.monotonic()
        self._seen.move_to_end(issue_id)

    def discard(self, issue_id: str) -> None:
        self._seen.pop(issue_id, None)

    def expire(self) -> None:
        # Read at call time so a test can shorten it.
        horizon = time.monotonic() - LISTING_LAG_S
        while self._seen and next(iter(self._seen.values())) <= horizon:
            self._seen.popitem(last=False)


class RecheckHost(Protocol):
    """What the re-read needs of the orchestrator (the core implements it)."""

    handed_off: HandedOff

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
    orch.handed_off.expire()
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
        orch.handed_off.add(listed.id)  # the listing was stale: the hand-off stands
        return None
    orch.handed_off.discard(listed.id)
    return issue
