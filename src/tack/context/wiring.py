"""How the rest of Tack meets the sidecar: `tack up` starts it, sessions get its MCP server
and built-in tools, and hand-offs and merged PRs ask it to fetch. Each is one call from the
existing place (the merge through the `pull_request_merged` plug-in hook)."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from tack.context.home import CONTEXT_SERVER_NAME, HOME_ENV, ContextHome

# The MCP server name agents see: tools become mcp__tack_context__search and so on.

if TYPE_CHECKING:
    from tack.context.manifest import RepoSource
    from tack.context.notes import SessionNotes
    from tack.tracker.base import Issue
    from tack.workflow import Workflow


def home_for(workflow: Workflow) -> ContextHome | None:
    """The sidecar's home when `context.manifest` is configured, else None."""
    cfg = workflow.config.context
    if not cfg.manifest:
        return None
    home = Path(cfg.home).expanduser() if cfg.home else workflow.tack_dir / "context"
    return ContextHome((home if home.is_absolute() else workflow.base_dir / home).resolve())


def agent_env(workflow: Workflow | None) -> dict[str, str]:
    """Environment entries for an agent session: where the context index lives."""
    home = home_for(workflow) if workflow is not None else None
    return {HOME_ENV: str(home.path)} if home is not None else {}


def session_home(env: dict[str, str] | None) -> ContextHome | None:
    """The sidecar home a session was given, when its index exists."""
    value = (env or {}).get(HOME_ENV)
    if not value:
        return None
    home = ContextHome(Path(value))
    return home if home.config_file.is_file() else None


def mcp_stdio_server(env_in: dict[str, str] | None) -> dict[str, Any] | None:
    """`{command, args, env}` that starts the context MCP server over stdio for a session."""
    home = session_home(env_in)
    if home is None:
        return None
    # Codex starts MCP servers with a minimal environment; the server needs to find Tack.
    env = {HOME_ENV: str(home.path)}
    path = (env_in or {}).get("PYTHONPATH") or os.environ.get("PYTHONPATH")
    if path:
        env["PYTHONPATH"] = path
    # `tack.context.mcp_server` (not imported here: it imports this module's server name).
    args = ["-m", "tack.context.mcp_server", "--home", str(home.path)]
    return {"command": sys.executable, "args": args, "env": env}


def start_sidecar(workflow: Workflow) -> subprocess.Popen[bytes] | None:
    """Start `tack context serve` for `tack up` unless one already serves this home.
    Returns the process to stop on exit (None when none was started)."""
    home = home_for(workflow)
    if home is None or home.service() is not None:
        return None
    cfg = workflow.config.context
    assert cfg.manifest is not None
    manifest = Path(cfg.manifest)
    manifest = manifest if manifest.is_absolute() else workflow.base_dir / manifest
    from tack.context.manifest import load_manifest

    load_manifest(manifest)  # a broken manifest stops `tack up` with its own message
    home.configure(manifest, cfg.interval_s)
    home.path.mkdir(parents=True, exist_ok=True)
    log = open(home.path / "serve.log", "ab")  # noqa: SIM115 - the child owns it
    return subprocess.Popen(
        [sys.executable, "-m", "tack", "context", "serve", "--home", str(home.path),
         "--manifest", str(manifest), "--interval", str(cfg.interval_s),
         "--port", str(cfg.port)],
        stdout=log, stderr=log, stdin=subprocess.DEVNULL, start_new_session=True,
        env={**os.environ})


def stop_sidecar(proc: subprocess.Popen[bytes] | None) -> None:
    if proc is None or proc.poll() is not None:
        return
    proc.terminate()
    try:
        proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        proc.kill()


def session_notes(workflow: Workflow, issue: Issue) -> SessionNotes | None:
    """The issue's session notes under the sidecar's home, when `context:` is configured."""
    home = home_for(workflow)
    if home is None:
        return None
    from tack.context.notes import SessionNotes

    goal = f"{issue.title}. {(issue.description or '').strip().splitlines()[0] if issue.description else ''}"
    return SessionNotes(home.path / "notes", issue.identifier, goal.strip(" ."))


def after_handoff(workflow: Workflow, repos: list[str] | None = None) -> None:
    """A hand-off pushed or a PR merged: ask the sidecar to fetch now."""
    home = home_for(workflow)
    if home is not None:
        from tack.context.service import notify

        notify(home, repos)


def after_merge(workflow: Workflow, forge_repo: str) -> None:
    """A PR on `forge_repo` (`owner/name`) was merged: fetch the mirrors of that repository,
    or every mirror when none of the manifest's URLs names it (a local `path:` repository)."""
    home = home_for(workflow)
    if home is None:
        return
    from tack.context import ContextError
    from tack.context.service import notify

    try:
        manifest = home.manifest()
    except ContextError:  # the sidecar reports a broken manifest itself
        notify(home, None)
        return
    notify(home, repos_named(manifest.repos, forge_repo) or None)


def repos_named(repos: Sequence[RepoSource], forge_repo: str) -> list[str]:
    """Names of the manifest repositories whose URL ends in `forge_repo` (`o/r`, `o/r.git`)."""
    wanted = forge_repo.strip("/").lower().removesuffix(".git")
    found = []
    for repo in repos:
        url = (repo.url or "").lower().rstrip("/").removesuffix(".git")
        if wanted and (url.endswith("/" + wanted) or url.endswith(":" + wanted)):
            found.append(repo.name)
    return found
