"""The app session's place in a run's life, one call per moment (until the plug-in hooks
land, the orchestrator calls these directly):

- `sweep_leftovers` when `tack up` starts: end app sessions a killed Tack left behind;
- `session_environment` when a session starts: ports, owner pid, effective config;
- `run_ended` when the run ends: stop the daemon, keep the evidence, list it on hand-off.
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import structlog

from tack.app import artifacts
from tack.app.client import session_environment as _session_environment
from tack.app.client import stop
from tack.app.config import AppConfig
from tack.app.procs import sweep_root

log = structlog.get_logger("tack.app")


def sweep_leftovers(workspace_root: Path) -> list[str]:
    ended = sweep_root(workspace_root)
    if ended:
        log.warning("ended app sessions left by a previous Tack", ended=ended)
    return ended


def session_environment(workspace: Path, config: AppConfig) -> dict[str, str]:
    return _session_environment(workspace, config)


async def run_ended(workspace: Path, tack_dir: Path, run_id: int, tracker: Any,
                    issue: Any, handed_off: bool, base_url: str | None = None) -> list[str]:
    """Stop the workspace's app session and keep its evidence with the run. On a hand-off
    with evidence, comment the list on the issue. Never raises: the run goes on."""
    try:
        await asyncio.to_thread(stop, workspace)
        names = await asyncio.to_thread(artifacts.collect, workspace, tack_dir, run_id)
        if names and handed_off:
            body = "\n".join(["Evidence from the app, recorded by Tack during this run:", "",
                              *artifacts.evidence_markdown(run_id, names, base_url)[2:]])
            await tracker.comment(issue.id, body, author="tack")
        return names
    except Exception:
        log.warning("app session end failed", workspace=str(workspace), exc_info=True)
        return []
