"""Recording an agent's work on its branch, host-side.

Agents never write `.git` themselves: a sandboxed agent cannot (a worktree's git directory
lives in the main repository, outside the sandbox's writable roots). Tack commits for them,
when they call the `commit` tool and after every turn, so no work is left uncommitted at
hand-off.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import structlog

from tack.errors import TackError
from tack.workspace.git import git

log = structlog.get_logger(__name__)

# Who commits when the environment names nobody (GIT_AUTHOR_* / GIT_COMMITTER_* win over
# `-c user.*`): the agent, as its shell commits always were.
AGENT_NAME = "Tack Agent"
AGENT_EMAIL = "agent@tack.invalid"
_IDENTITY = ("-c", f"user.name={AGENT_NAME}", "-c", f"user.email={AGENT_EMAIL}")
FILES_SHOWN = 20


@dataclass(frozen=True)
class RecordedWork:
    """A commit Tack made: its short sha and `(status, path)` of each file it changed."""

    sha: str
    files: tuple[tuple[str, str], ...]

    def summary(self) -> str:
        shown = ", ".join(f"{status} {path}" for status, path in self.files[:FILES_SHOWN])
        more = len(self.files) - FILES_SHOWN
        plural = "" if len(self.files) == 1 else "s"
        return (f"committed {self.sha}: {len(self.files)} file{plural} changed ({shown}"
                + (f", and {more} more" if more > 0 else "") + ")")


async def is_own_repository(workspace: Path) -> bool:
    """True when `workspace` is the top of a git work tree: a plain-directory workspace
    that merely sits inside some other repository must never commit to that one."""
    if not workspace.is_dir():
        return False
    try:
        code, top = await git(workspace, "rev-parse", "--show-toplevel", check=False)
    except TackError:  # git is not installed: then nothing is a repository
        return False
    return code == 0 and Path(top).resolve() == workspace.resolve()


async def commit_work(workspace: Path, message: str) -> RecordedWork | None:
    """Stage everything in the workspace (`.gitignore` respected) and commit it.

    None when there is nothing to commit. Hooks are skipped: they come from the workspace
    the agent controls, and here they would run outside its sandbox. Raises WorkspaceError
    when git fails.
    """
    await git(workspace, "add", "--all")
    _, staged = await git(workspace, "diff", "--cached", "--name-status", "--no-renames")
    files = tuple(_status_lines(staged))
    if not files:
        return None
    await git(workspace, *_IDENTITY, "commit", "--quiet", "--no-verify", "-m", message)
    _, sha = await git(workspace, "rev-parse", "--short", "HEAD")
    return RecordedWork(sha.strip(), files)


def turn_message(identifier: str, turn: int) -> str:
    return f"tack: work in progress after turn {turn} of {identifier}"


async def commit_leftover_work(workspace: Path, identifier: str, turn: int) -> str | None:
    """Commit what the agent left uncommitted after `turn`; a line for the run's timeline,
    or None when there was nothing to record. Never raises for git failures: the work
    stays in the workspace, and the line says why it was not committed."""
    try:
        if not await is_own_repository(workspace):
            return None
        recorded = await commit_work(workspace, turn_message(identifier, turn))
    except TackError as exc:
        log.warning("leftover work not committed", issue_identifier=identifier, turn=turn,
                     error=exc.message)
        return f"could not commit the work left after turn {turn}: {exc.message}"
    if recorded is None:
        return None
    return f"work left uncommitted after turn {turn}: {recorded.summary()}"


def _status_lines(output: str) -> list[tuple[str, str]]:
    files = []
    for line in output.splitlines():
        status, _, path = line.partition("\t")
        if path:
            files.append((status.strip(), path))
    return files
