"""A long-running orchestrator's per-issue bookkeeping does not grow with issues that ended:
`completed` (SPEC §4.1.8) keeps only issues still claimed or listed as active."""

from __future__ import annotations

from typing import Any

from tests.conformance.test_17_4_orchestrator_dispatch_reconciliation_retry import rig_factory
from tests.e2e.harness import await_until as until

__all__ = ["rig_factory"]


async def test_completed_forgets_issues_that_left_the_active_states(rig_factory: Any) -> None:
    rig = await rig_factory([{"text": "nothing to do"}], agent={"max_turns": 1},
                            polling={"interval_ms": 50})
    for batch in range(3):
        issues = [rig.add(f"issue {batch}.{n}") for n in range(4)]
        # Each run succeeds and waits for its continuation check; then a person closes it.
        await until(lambda: all(i.id in rig.orch.completed for i in issues),
                    what="every run to succeed")
        for i in issues:
            rig.tracker.move_sync(i.id, "Done")
        await until(lambda: not rig.orch.claimed and not rig.orch.completed,
                    what="the closed issues to leave the orchestrator's bookkeeping")
