"""The objects hooks receive and return: a `Run` (one attempt of one issue) and an
`AgentTool` (a tool the agent is offered for a session)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from tack.agents.base import SessionContext
    from tack.agents.tools import ToolOutcome, ToolSpec
    from tack.store import Store
    from tack.tracker.base import Issue
    from tack.workflow import Workflow


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


ToolHandler = Callable[[dict[str, Any], "SessionContext", int], Awaitable["ToolOutcome"]]


@dataclass(frozen=True)
class AgentTool:
    """A tool for the agent: its schema, and `run(args, ctx, timeout_ms)` that answers a call
    (a `ToolInputError` it raises goes back to the model as an error)."""

    spec: ToolSpec
    run: ToolHandler
