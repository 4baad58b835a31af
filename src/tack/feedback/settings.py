"""Where `tack check` gets its checks, runbooks, budget and history database.

From the `feedback:` section of WORKFLOW.md when there is one; the repository is the git
top level. History goes to the main checkout's `.tack/state.db`, so an agent's worktree and
the person's checkout share it.
"""

from __future__ import annotations

import subprocess
from dataclasses import dataclass
from pathlib import Path

from tack.errors import TackError
from tack.feedback.engine import CheckSpec
from tack.workflow.config import FeedbackConfig


@dataclass
class FeedbackSettings:
    root: Path
    checks: list[CheckSpec]
    runbooks_dir: Path
    budget: int
    history_db: Path | None
    workflow: Path | None
    profiles: dict[str, list[str]]

    def select(self, profile: str | None) -> list[CheckSpec]:
        if profile is None:
            return list(self.checks)
        chosen = [c for c in self.checks if c.name == profile
                  or profile in self.profiles.get(c.name, [])]
        if not chosen:
            known = sorted({c.name for c in self.checks}
                           | {p for ps in self.profiles.values() for p in ps})
            where = self.workflow or "WORKFLOW.md"
            raise TackError(f"{where}: no check or profile named {profile!r} in "
                            f"`feedback.checks` (known: {', '.join(known) or 'none'}). Add one, "
                            "or pass the command: `tack check -- CMD ...`.",
                            code="unknown_profile")
        return chosen


def _git(cwd: Path, *args: str) -> str | None:
    try:
        out = subprocess.run(["git", *args], cwd=cwd, capture_output=True, text=True, check=False,
                             timeout=20)
    except (OSError, subprocess.TimeoutExpired):
        return None
    return out.stdout.strip() if out.returncode == 0 else None


def repo_root(cwd: Path) -> Path:
    top = _git(cwd, "rev-parse", "--show-toplevel")
    return Path(top).resolve() if top else cwd.resolve()


def main_checkout(root: Path) -> Path:
    common = _git(root, "rev-parse", "--path-format=absolute", "--git-common-dir")
    if common and Path(common).name == ".git":
        return Path(common).parent.resolve()
    return root


def resolve_settings(cwd: Path, workflow: Path | None = None) -> FeedbackSettings:
    """Settings for a check run from `cwd`; `workflow` defaults to the repo's WORKFLOW.md."""
    root = repo_root(cwd)
    if workflow is None:
        found = [p for p in (cwd / "WORKFLOW.md", root / "WORKFLOW.md") if p.is_file()]
        workflow = found[0] if found else None
    elif not workflow.is_file():
        raise TackError(f"{workflow}: no such workflow file; pass an existing file with "
                        "--workflow or leave it out.", code="missing_workflow_file")
    config, store_path = FeedbackConfig(), None
    if workflow is not None:
        from tack.workflow import load_workflow

        loaded = load_workflow(workflow)
        config = loaded.config.feedback
        if loaded.config.store.path:
            store_path = loaded.store_path()
    base = workflow.parent.resolve() if workflow else root
    runbooks = Path(config.runbooks).expanduser()
    checks = [CheckSpec(c.name, c.command, c.format, c.report, c.timeout_ms / 1000)
              for c in config.checks]
    return FeedbackSettings(
        root=root, checks=checks,
        runbooks_dir=runbooks if runbooks.is_absolute() else base / runbooks,
        budget=config.budget,
        history_db=(store_path or main_checkout(root) / ".tack" / "state.db")
        if config.history else None,
        workflow=workflow,
        profiles={c.name: c.profiles for c in config.checks},
    )
