"""Scheduling decisions as pure functions: ordering, eligibility, slots, backoff (SPEC §8).

Kept free of I/O so every rule is testable alone and an executor other than the local one
(Temporal, later) reuses the same decisions.
"""

from __future__ import annotations

from collections import Counter
from datetime import datetime, timezone
from typing import Iterable

from tack.orchestrator.state import RunningEntry
from tack.tracker.base import Issue
from tack.workflow.config import AgentConfig, TrackerConfig, normalize_state

CONTINUATION_DELAY_MS = 1_000
FAILURE_BASE_MS = 10_000

_FAR_FUTURE = datetime.max.replace(tzinfo=timezone.utc)


def dispatch_sort_key(issue: Issue) -> tuple[int, int, datetime, str]:
    """Priority 1..4 first (ascending), others/null after; then oldest; then identifier."""
    prio = issue.priority
    bucket, rank = (0, prio) if isinstance(prio, int) and 1 <= prio <= 4 else (1, 0)
    created = issue.created_at or _FAR_FUTURE
    if created.tzinfo is None:
        created = created.replace(tzinfo=timezone.utc)
    return (bucket, rank, created, issue.identifier)


def sort_for_dispatch(issues: Iterable[Issue]) -> list[Issue]:
    return sorted(issues, key=dispatch_sort_key)


def has_required_labels(issue: Issue, tracker: TrackerConfig) -> bool:
    labels = {label.strip().lower() for label in issue.labels}
    for required in tracker.required_labels:
        want = required.strip().lower()
        if not want or want not in labels:  # a blank configured label matches no issue
            return False
    return True


def waits_for_a_person(issue: Issue, tracker: TrackerConfig) -> bool:
    """Parked by label on a tracker without `needs_input_state` (docs/questions.md)."""
    label = tracker.needs_input_label.strip().lower()
    return bool(label) and label in {x.strip().lower() for x in issue.labels}


def is_routable(issue: Issue, tracker: TrackerConfig) -> bool:
    """SPEC §8.2 issue_routable: adapter dispatchability and required labels, and Tack's
    parked-by-label issues stay out until the label goes."""
    return (issue.dispatchable and has_required_labels(issue, tracker)
            and not waits_for_a_person(issue, tracker))


def has_open_blockers(issue: Issue, tracker: TrackerConfig) -> bool:
    """A blocker whose state is known and not terminal blocks dispatch."""
    return any(b.state is not None and not tracker.is_terminal(b.state) for b in issue.blocked_by)


def is_candidate(issue: Issue, tracker: TrackerConfig) -> bool:
    """Eligibility apart from claims and slots."""
    if not (issue.id and issue.identifier and issue.title and issue.state):
        return False
    return (
        tracker.is_active(issue.state)
        and is_routable(issue, tracker)
        and not has_open_blockers(issue, tracker)
    )


def available_slots(agent: AgentConfig, running_states: Iterable[str]) -> int:
    return max(agent.max_concurrent_agents - len(list(running_states)), 0)


def state_has_slot(agent: AgentConfig, state: str, running_states: Iterable[str]) -> bool:
    counts = Counter(normalize_state(s) for s in running_states)
    return counts[normalize_state(state)] < agent.limit_for_state(state)


def failure_backoff_ms(attempt: int, max_backoff_ms: int) -> int:
    """min(10 s · 2^(attempt-1), cap) for a 1-based attempt."""
    attempt = max(attempt, 1)
    return int(min(FAILURE_BASE_MS * (2 ** min(attempt - 1, 30)), max_backoff_ms))


def stalled(entries: Iterable[RunningEntry], stall_ms: int, now: float) -> list[RunningEntry]:
    """SPEC §16.3: the runs silent for longer than `codex.stall_timeout_ms` (0 disables)."""
    if stall_ms <= 0:
        return []
    return [e for e in entries if not e.cancel_reason
            and (now - (e.last_activity_mono or e.started_mono)) * 1000 > stall_ms]
