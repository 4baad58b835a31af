"""The app session's place in a run's life, one call per moment (until the plug-in hooks
land, the orchestrator calls these directly):

- `sweep_leftovers` when `tack up` starts: end app sessions a killed Tack left behind;
- `session_environment` when a session starts: ports, owner pid, effective config; with an
  app configured, the `tack-app` skill in the workspace and the daemon started host-side, so
  an agent's sandboxed shell (codex's, Tack's bwrap) only connects to its socket;
- `run_ended` when the run ends: stop the daemon, keep the evidence, list it on hand-off.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import sys
from pathlib import Path
from typing import Any

import structlog

from tack.app import artifacts
from tack.app.client import ensure_daemon, stop
from tack.app.client import session_environment as _session_environment
from tack.app.config import AppConfig
from tack.app.home import AppError, AppHome
from tack.app.procs import sweep_root
from tack.errors import TackError
from tack.skills.materialise import SKILL_DIRS, provide_builtin_skill

log = structlog.get_logger("tack.app")


def sweep_leftovers(workspace_root: Path) -> list[str]:
    ended = sweep_root(workspace_root)
    if ended:
        log.warning("ended app sessions left by a previous Tack", ended=ended)
    return ended


def session_environment(workspace: Path, config: AppConfig,
                        env: dict[str, str] | None = None) -> dict[str, str]:
    """The session's app variables. With `app.start` or `app.cdp` set, also teach the agents
    the CLI (the `tack-app` skill) and start the daemon now, outside any agent sandbox, with
    the session's environment `env`; it starts the app on first use. Blocks up to a few
    seconds: call it off the event loop. A failure is logged; the CLI then retries."""
    variables = _session_environment(workspace, config)
    if not (config.start or config.cdp):
        return variables
    path = (env if env is not None else os.environ).get("PATH", os.defpath)
    here = Path(sys.executable).parent  # where this Tack's `tack` lives
    if (here / "tack").is_file() and shutil.which("tack", path=path) is None:
        variables["PATH"] = f"{here}{os.pathsep}{path}"  # so an agent's shell finds `tack app`
    try:
        if provide_builtin_skill(workspace, "tack-app"):
            _name_the_command(workspace)
    except (OSError, TackError):
        log.warning("could not put the tack-app skill in the workspace", exc_info=True)
    try:
        ensure_daemon(AppHome(workspace), env={**(env if env is not None else os.environ),
                                               **variables})
    except AppError as exc:
        log.warning("app daemon did not start at session start", error=exc.message)
    return variables


def tack_command() -> str:
    """This Tack's CLI as a shell command that works without PATH."""
    here = Path(sys.executable).parent / "tack"
    return str(here) if here.is_file() else f"{sys.executable} -m tack"


def _name_the_command(workspace: Path) -> None:
    # Codex runs commands in a login shell, whose /etc/profile resets PATH: name this Tack.
    note = (f"\nOn this machine: when your shell does not find `tack`, run "
            f"`{tack_command()} app ...` (e.g. `{tack_command()} app snapshot`) instead.\n")
    for skill in SKILL_DIRS:
        path = workspace / skill / "tack-app" / "SKILL.md"
        if path.is_file():
            path.write_text(path.read_text() + note)


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
