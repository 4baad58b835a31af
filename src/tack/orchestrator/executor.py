"""The executor seam: where a dispatched run executes.

The orchestrator decides what runs (`scheduling`, `core`); an executor runs one attempt and
returns its `AttemptOutcome`. `local` runs it on the orchestrator's own asyncio loop;
`temporal` runs it as a durable workflow on `tack worker`s (docs/scale-out.md).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Protocol

from tack.orchestrator.state import RunningEntry
from tack.orchestrator.worker import AttemptOutcome, AttemptRunner
from tack.workflow.config import ExecutorConfig

if TYPE_CHECKING:
    from tack.orchestrator.host import RunHost


class Executor(Protocol):
    kind: str

    async def run(self, orch: RunHost, entry: RunningEntry) -> AttemptOutcome:
        """Run one attempt; cancelling the task stops it (`entry.cancel_reason` says why)."""
        ...

    async def close(self) -> None: ...


class LocalExecutor:
    """Today's executor: the attempt runs as a task on the orchestrator's loop."""

    kind = "local"

    async def run(self, orch: RunHost, entry: RunningEntry) -> AttemptOutcome:
        entry.worker = "local"
        return await AttemptRunner(orch, entry).run()

    async def close(self) -> None:
        return None


def build_executor(config: ExecutorConfig) -> Executor:
    """The executor `executor.kind` names; Temporal is imported only when it is chosen."""
    if config.kind == "temporal":
        from tack.orchestrator.temporal.dispatch import TemporalExecutor

        return TemporalExecutor(config)
    return LocalExecutor()
