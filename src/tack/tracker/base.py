"""The tracker protocol and the normalized issue (Symphony SPEC §4.1.1, §11).

Adapters map provider records into `Issue` and implement `Tracker`. The orchestrator only
reads (`fetch_issues_by_states`, `fetch_issues_by_ids`); writes (`move`, `comment`) are what
agents use through the tracker tool.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol, runtime_checkable


@dataclass(frozen=True)
class BlockerRef:
    id: str | None
    identifier: str | None
    state: str | None

    def to_dict(self) -> dict[str, Any]:
        return {"id": self.id, "identifier": self.identifier, "state": self.state}


@dataclass(frozen=True)
class Comment:
    author: str
    body: str
    created_at: datetime

    def to_dict(self) -> dict[str, Any]:
        return {"author": self.author, "body": self.body, "created_at": self.created_at.isoformat()}


@dataclass(frozen=True)
class Issue:
    id: str
    identifier: str
    title: str
    state: str
    description: str | None = None
    priority: int | None = None
    branch_name: str | None = None
    url: str | None = None
    assignee_id: str | None = None
    labels: tuple[str, ...] = ()
    blocked_by: tuple[BlockerRef, ...] = ()
    dispatchable: bool = True
    created_at: datetime | None = None
    updated_at: datetime | None = None
    native_ref: dict[str, Any] | None = None
    comments: tuple[Comment, ...] = field(default=(), compare=False)
    # `untrusted` when the tracker says the author is not a member of the project (a public
    # GitHub issue); WORKFLOW.md's `sandbox.untrusted` decides what that changes.
    trust: str = "trusted"

    def to_dict(self) -> dict[str, Any]:
        """Template/JSON view: every field present, timestamps as RFC 3339 strings."""
        return {
            "id": self.id,
            "identifier": self.identifier,
            "title": self.title,
            "description": self.description,
            "priority": self.priority,
            "state": self.state,
            "branch_name": self.branch_name,
            "url": self.url,
            "assignee_id": self.assignee_id,
            "labels": list(self.labels),
            "blocked_by": [b.to_dict() for b in self.blocked_by],
            "dispatchable": self.dispatchable,
            "created_at": self.created_at.isoformat() if self.created_at else None,
            "updated_at": self.updated_at.isoformat() if self.updated_at else None,
            "native_ref": self.native_ref,
            "comments": [c.to_dict() for c in self.comments],
            "trust": self.trust,
        }


def normalize_labels(labels: list[str] | tuple[str, ...]) -> tuple[str, ...]:
    """Trim, lowercase, drop blanks and duplicates, keep order (SPEC §11.3)."""
    seen: dict[str, None] = {}
    for label in labels:
        norm = str(label).strip().lower()
        if norm:
            seen.setdefault(norm, None)
    return tuple(seen)


@runtime_checkable
class Tracker(Protocol):
    """What the orchestrator and the agents' tracker tool need from an issue tracker."""

    kind: str

    async def fetch_issues_by_states(self, states: list[str]) -> list[Issue]:
        """Issues in any of `states` (case-insensitive); `[]` returns `[]` without a request."""
        ...

    async def fetch_issues_by_ids(self, ids: list[str]) -> list[Issue]:
        """Current snapshots for these ids; ids not visible are omitted."""
        ...

    async def move(self, issue_id: str, state: str) -> Issue:
        """Move an issue to `state` (provider-native name)."""
        ...

    async def comment(self, issue_id: str, body: str, *, author: str = "agent") -> None:
        """Add a comment to an issue."""
        ...

    async def close(self) -> None: ...


@runtime_checkable
class StatelessTracker(Protocol):
    """A tracker whose issues may lack a state (GitHub and GitLab issues are open or closed;
    their states are labels, and only the mapped ones exist): where a state is missing, Tack
    marks the issue with a label instead (docs/questions.md: `tracker.needs_input_label`)."""

    def has_state(self, state: str) -> bool:
        """Whether `move(issue, state)` can put an issue in `state`."""
        ...

    async def set_label(self, issue_id: str, label: str, present: bool) -> Issue:
        """Add `label` to the issue (present) or take it off, keeping its other labels."""
        ...
