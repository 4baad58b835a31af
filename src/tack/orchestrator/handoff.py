"""After a hand-off: push the run's branch and open or update its pull request (tack.forge),
then, with `review.on_handoff`, let the reviewer agent review the change, all in the
background. Every failure is recorded on the issue's timeline, never fatal to the orchestrator.
"""

from __future__ import annotations

import asyncio
import sqlite3
from pathlib import Path
from typing import TYPE_CHECKING

import structlog

from tack.errors import TackError
from tack.orchestrator.state import RunningEntry
from tack.workflow.config import ServiceConfig, normalize_state

if TYPE_CHECKING:
    from tack.forge import Handoff
    from tack.orchestrator.core import Orchestrator
    from tack.review import ReviewFinding

log = structlog.get_logger(__name__)


def handed_off(cfg: ServiceConfig, entry: RunningEntry) -> bool:
    """The run ended with its issue in the hand-off state, and Tack publishes or reviews it."""
    return ((cfg.pull_requests.publish == "tack" or cfg.review.on_handoff)
            and entry.workspace is not None
            and normalize_state(entry.issue.state) == normalize_state(cfg.tracker.handoff_state))


async def publish(orch: Orchestrator, entry: RunningEntry) -> None:
    cfg = orch.workflow.config
    result = await _publish(orch, entry) if cfg.pull_requests.publish == "tack" else None
    if cfg.review.on_handoff:
        await review(orch, entry, result)


async def _publish(orch: Orchestrator, entry: RunningEntry) -> Handoff | None:
    from tack.forge import publish_handoff
    from tack.forge.git import git as run_git

    cfg = orch.workflow.config
    workspace = Path(entry.workspace or "")
    remote = cfg.pull_requests.remote
    branch = orch.workspaces.branch_for(entry.issue)
    if not workspace.is_dir():
        # The run's workspace lives on another machine (a Temporal worker), which pushed the
        # branch to the shared remote: publish from this repository's copy of it instead.
        workspace = orch.workflow.repo_dir()
        await run_git(workspace, "fetch", "-q", remote, f"+{branch}:{branch}", check=False)
    if not await run_git(workspace, "remote", "get-url", remote, check=False):
        orch._record(entry, "orchestrator", f"not published: no git remote {remote!r} "
                     "(pull_requests.remote)")
        return None
    summary = {"run_id": entry.run_id, "turns": entry.turn_count,
               "message": entry.last_message,
               "tokens": {"input": entry.tokens.input_tokens,
                          "output": entry.tokens.output_tokens,
                          "total": entry.tokens.total_tokens}}
    try:
        result = await publish_handoff(cfg, workspace, branch, entry.issue, summary,
                                       db=orch.store.db)
    except TackError as exc:
        log.warning("publish failed", issue_identifier=entry.identifier, error=exc.message)
        orch._record(entry, "orchestrator", f"publish failed: {orch.redactor.text(exc.message)}")
        return None
    where = result.url or f"{result.remote}/{result.branch}"
    orch._record(entry, "orchestrator", f"published {where}")
    return result


def _review_blocking(cfg: ServiceConfig, repo_root: Path, db_path: Path,
                     run_id: int) -> list[ReviewFinding]:
    from tack.review import review_run

    # Its own connection: this runs on a worker thread beside the orchestrator's loop.
    db = sqlite3.connect(db_path, isolation_level=None, check_same_thread=False)
    try:
        db.execute("PRAGMA busy_timeout=10000")
        findings, _ = review_run(cfg, repo_root, db, run_id)
        return findings
    finally:
        db.close()


async def review(orch: Orchestrator, entry: RunningEntry, handoff: Handoff | None) -> None:
    """Run the reviewer agent on the run's change, store its findings as feedback on the run,
    and post them as one review on the GitHub pull request the hand-off opened."""
    cfg = orch.workflow.config
    try:
        findings = await asyncio.to_thread(_review_blocking, cfg, orch.workflow.repo_dir(),
                                           orch.store.path, entry.run_id)
    except Exception as exc:  # noqa: BLE001 - a reviewer failure never breaks the orchestrator
        message = exc.message if isinstance(exc, TackError) else f"{type(exc).__name__}: {exc}"
        log.warning("review failed", issue_identifier=entry.identifier, error=message)
        orch._record(entry, "orchestrator", f"review failed: {orch.redactor.text(message)}")
        return
    errors = sum(f.severity == "error" for f in findings)
    listed = "".join(f"\n- {f}" for f in findings[:20])
    orch._record(entry, "orchestrator", orch.redactor.text(
        f"review: {len(findings)} findings ({errors} errors){listed}"))
    orch._notify()
    if handoff is None or not findings:
        return
    from tack.review.posting import post_findings

    try:
        url = await post_findings(cfg, handoff, findings)
    except Exception as exc:  # noqa: BLE001 - the findings are stored; posting is a bonus
        message = exc.message if isinstance(exc, TackError) else f"{type(exc).__name__}: {exc}"
        orch._record(entry, "orchestrator",
                     f"review not posted: {orch.redactor.text(message)}")
        return
    if url is not None:
        orch._record(entry, "orchestrator", f"review posted on {handoff.url or url}")
