"""The reviewer at hand-off (`review.on_handoff`): review the run's change with the reviewer
agent, store its findings as feedback on the run, and post them as one review on the pull
request the hand-off opened. Tack's own plug-in calls it from the `handed_off` hook.
"""

from __future__ import annotations

import asyncio
import sqlite3
from pathlib import Path
from typing import TYPE_CHECKING

import structlog

from tack.errors import TackError
from tack.workflow.config import ServiceConfig

if TYPE_CHECKING:
    from tack.forge import Handoff
    from tack.plugins.types import Run
    from tack.review import ReviewFinding

log = structlog.get_logger(__name__)


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


async def review(run: Run, handoff: Handoff | None) -> None:
    """Run the reviewer agent on the run's change, store its findings as feedback on the run,
    and post them as one review on the GitHub pull request the hand-off opened."""
    if run.store is None or run.run_id is None:
        return  # only the orchestrator, which owns the run's row, reviews it
    cfg = run.workflow.config
    try:
        findings = await asyncio.to_thread(_review_blocking, cfg, run.workflow.repo_dir(),
                                           run.store.path, run.run_id)
    except Exception as exc:  # noqa: BLE001 - a reviewer failure never breaks the orchestrator
        message = exc.message if isinstance(exc, TackError) else f"{type(exc).__name__}: {exc}"
        log.warning("review failed", issue_identifier=run.identifier, error=message)
        run.note(f"review failed: {run.redact(message)}")
        return
    errors = sum(f.severity == "error" for f in findings)
    listed = "".join(f"\n- {f}" for f in findings[:20])
    run.note(run.redact(f"review: {len(findings)} findings ({errors} errors){listed}"))
    if handoff is None or not findings:
        return
    from tack.review.posting import post_findings

    try:
        url = await post_findings(cfg, handoff, findings)
    except Exception as exc:  # noqa: BLE001 - the findings are stored; posting is a bonus
        message = exc.message if isinstance(exc, TackError) else f"{type(exc).__name__}: {exc}"
        run.note(f"review not posted: {run.redact(message)}")
        return
    if url is not None:
        run.note(f"review posted on {handoff.url or url}")
