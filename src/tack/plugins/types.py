"""The objects hooks receive and return: a `Run` (one attempt of one issue) and an
`AgentTool` (a tool the agent is offered for a session, from `tack.agents.base`)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from tack.agents.base import AgentTool

if TYPE_CHECKING:
    from tack.store import Store
    from tack.tracker.base import Issue
    from tack.workflow import Workflow


__all__ = ["AgentTool", "Run"]


def _no_note(message: str) -> None:
    return None


def _same(text: str) -> str:
    return text


@dataclass
class Run:
    """One attempt of one issue, as plug-ins see it.

    `run_id` and `store` are None where no run row exists: on a Temporal worker and for
    `tack prompt`. `note` adds a line to the issue's timeline; `redact` removes Tack's
    secrets from text a plug-in is about to show or store.
    """

    workflow: Workflow
    issue: Issue
    attempt: int | None
    run_id: int | None = None
    workspace: Path | None = None
    store: Store | None = None
    note: Callable[[str], None] = field(default=_no_note, repr=False)
    redact: Callable[[str], str] = field(default=_same, repr=False)

    @property
    def identifier(self) -> str:
        return self.issue.identifier
