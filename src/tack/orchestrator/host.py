"""What a run's collaborators may use of the orchestrator that dispatched it.

The executors, the attempt runner, the hand-off publisher and the API type against these
protocols instead of importing `core`, so the orchestrator package has no import circle and
nothing outside `core` reaches into the orchestrator's private state.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from tack.agents import AgentBackend, AgentEvent
    from tack.orchestrator.state import RunningEntry, Totals
    from tack.plugins import Plugins
    from tack.plugins.types import Run
    from tack.redact import Redactor
    from tack.store import Store
    from tack.tracker import Tracker
    from tack.workflow import Workflow
    from tack.workspace import WorkspaceManager


class Timeline(Protocol):
    """Where a collaborator writes what it did: the issue's timeline, and open dashboards."""

    def record(self, entry: RunningEntry, kind: str, message: str) -> None:
        """Add a line to the run's timeline and tell open dashboards."""
        ...

    def notify(self) -> None:
        """Tell open dashboards and streams that state changed."""
        ...


class RunHost(Timeline, Protocol):
    """What an executor and one attempt need: config, store, tracker, workspaces, plug-ins."""

    store: Store
    workspaces: WorkspaceManager
    redactor: Redactor
    plugins: Plugins
    totals: Totals

    @property
    def workflow(self) -> Workflow: ...

    @property
    def tracker(self) -> Tracker: ...

    @property
    def backend_factory(self) -> Callable[[Workflow], AgentBackend]: ...

    async def on_agent_event(self, entry: RunningEntry, event: AgentEvent) -> None: ...


def plugin_run(host: RunHost, entry: RunningEntry) -> Run:
    """What plug-ins see of a running entry: its timeline lines go through `host`."""
    from tack.plugins.types import Run

    return Run(workflow=host.workflow, issue=entry.issue, attempt=entry.attempt,
               run_id=entry.run_id,
               workspace=Path(entry.workspace) if entry.workspace else None,
               store=host.store,
               note=lambda message: host.record(entry, "orchestrator", message),
               redact=host.redactor.text)
