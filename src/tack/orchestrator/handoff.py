"""After a hand-off: push the run's branch and open or update its pull request (tack.forge),
in the background. A repository without the configured remote is left alone, and a failure
is recorded on the issue's timeline, never fatal to the orchestrator.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import structlog

from tack.errors import TackError
from tack.orchestrator.state import RunningEntry
from tack.workflow.config import ServiceConfig, normalize_state

if TYPE_CHECKING:
    from tack.orchestrator.core import Orchestrator

log = structlog.get_logger(__name__)


def handed_off(cfg: ServiceConfig, entry: RunningEntry) -> bool:
    """The run ended with its issue in the hand-off state, and Tack publishes hand-offs."""
    return (cfg.pull_requests.publish == "tack" and entry.workspace is not None
            and normalize_state(entry.issue.state) == normalize_state(cfg.tracker.handoff_state))


async def publish(orch: Orchestrator, entry: RunningEntry) -> None:
    from tack.forge import publish_handoff
    from tack.forge.git import git as run_git

    cfg = orch.workflow.config
    workspace = Path(entry.workspace or "")
    remote = cfg.pull_requests.remote
    if not await run_git(workspace, "remote", "get-url", remote, check=False):
        orch._record(entry, "orchestrator", f"not published: no git remote {remote!r} "
                     "(pull_requests.remote)")
        return
    summary = {"run_id": entry.run_id, "turns": entry.turn_count,
               "message": entry.last_message,
               "tokens": {"input": entry.tokens.input_tokens,
                          "output": entry.tokens.output_tokens,
                          "total": entry.tokens.total_tokens}}
    try:
        result = await publish_handoff(cfg, workspace, orch.workspaces.branch_for(entry.issue),
                                       entry.issue, summary, db=orch.store.db)
    except TackError as exc:
        log.warning("publish failed", issue_identifier=entry.identifier, error=exc.message)
        orch._record(entry, "orchestrator", f"publish failed: {orch.redactor.text(exc.message)}")
        return
    where = result.url or f"{result.remote}/{result.branch}"
    orch._record(entry, "orchestrator", f"published {where}")
