"""Hot reload of WORKFLOW.md between ticks (SPEC §6.2): a good edit applies to the next
dispatch (workspace layout, hooks, tracker), a broken one is reported in health while the
last good config stays in force. `reload_workflow` says what changed; the orchestrator
applies it (a new tracker, an earlier next tick).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import structlog

from tack.sandbox.policy import hook_policy
from tack.errors import TackError
from tack.tracker import build_tracker
from tack.tracker.credentials import withheld_env

if TYPE_CHECKING:
    from tack.tracker import Tracker
    from tack.workflow import WorkflowWatcher
    from tack.workspace import WorkspaceManager

log = structlog.get_logger(__name__)


@dataclass
class Reloaded:
    """The outcome of one reload check."""

    config_error: str | None
    changed: bool = False  # a good edit applied: the next tick should come soon
    tracker: Tracker | None = None  # a tracker built from a changed `tracker:` section
    tracker_config: dict[str, Any] | None = None


def reload_workflow(watcher: WorkflowWatcher, workspaces: WorkspaceManager, *,
                    config_error: str | None, tracker_config: dict[str, Any]) -> Reloaded:
    """Apply a changed WORKFLOW.md; a broken one is reported and the last good one stays."""
    changed = watcher.check()
    err = watcher.last_error
    if err is not None:
        if config_error != err.message:
            log.error("WORKFLOW.md reload failed; keeping the last good config", error=err.message)
        return Reloaded(err.message)
    if not changed:
        return Reloaded(None)
    wf = watcher.current
    log.info("WORKFLOW.md reloaded", path=str(wf.path))
    workspaces.update(
        root=wf.workspace_root(),
        repo=wf.repo_dir(),
        workspace=wf.config.workspace,
        hooks=wf.config.hooks,
        withheld_env=withheld_env(wf),
        sandbox=hook_policy(wf),
    )
    new_tracker_cfg = wf.config.tracker.model_dump()
    if new_tracker_cfg != tracker_config:
        try:
            tracker = build_tracker(wf.config.tracker, tack_dir=wf.tack_dir)
        except TackError as exc:
            return Reloaded(exc.message)
        return Reloaded(None, changed=True, tracker=tracker, tracker_config=new_tracker_cfg)
    return Reloaded(None, changed=True)
