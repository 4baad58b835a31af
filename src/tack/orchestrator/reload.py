"""Hot reload of WORKFLOW.md between ticks (SPEC §6.2): a good edit applies to the next
dispatch (workspace layout, hooks, tracker), a broken one is reported in health while the
last good config stays in force.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

import structlog

from tack.sandbox.policy import hook_policy
from tack.errors import TackError
from tack.tracker import build_tracker

if TYPE_CHECKING:
    from tack.orchestrator.core import Orchestrator

log = structlog.get_logger(__name__)


def reload_workflow(orch: Orchestrator) -> None:
    """Apply a changed WORKFLOW.md; a broken one is reported and the last good one stays."""
    changed = orch.watcher.check()
    err = orch.watcher.last_error
    if err is not None:
        if orch.config_error != err.message:
            log.error("WORKFLOW.md reload failed; keeping the last good config", error=err.message)
        orch.config_error = err.message
        return
    orch.config_error = None
    if not changed:
        return
    wf = orch.workflow
    log.info("WORKFLOW.md reloaded", path=str(wf.path))
    orch.workspaces.update(
        root=wf.workspace_root(),
        repo=wf.repo_dir(),
        workspace=wf.config.workspace,
        hooks=wf.config.hooks,
        sandbox=hook_policy(wf),
    )
    new_tracker_cfg = wf.config.tracker.model_dump()
    if new_tracker_cfg != orch._tracker_config:
        try:
            tracker = build_tracker(wf.config.tracker, tack_dir=wf.tack_dir)
        except TackError as exc:
            orch.config_error = exc.message
            return
        old = orch.tracker
        orch.tracker = tracker
        orch._tracker_config = new_tracker_cfg
        orch._spawn(old.close())
    orch._next_tick = min(
        orch._next_tick, time.monotonic() + wf.config.polling.interval_ms / 1000
    )
