"""`tack init`: write the commented default WORKFLOW.md, a starter PRINCIPLES.md and the
`.tack/` state directory into a repository, without ever overwriting someone's files unasked.
"""

from __future__ import annotations

from importlib import resources
from pathlib import Path

from tack.errors import WorkflowError
from tack.workflow.detect import Detection, apply_detection


def default_workflow_text() -> str:
    return resources.files("tack.workflow").joinpath("default_WORKFLOW.md").read_text("utf-8")


def _ignores_tack_dir(gitignore: Path) -> bool:
    if not gitignore.exists():
        return False
    entries = {line.strip() for line in gitignore.read_text("utf-8").splitlines()}
    return bool(entries & {".tack", ".tack/", "/.tack", "/.tack/"})


def init_repository(repo: Path, *, force: bool = False,
                    detection: Detection | None = None) -> list[str]:
    """Write WORKFLOW.md, create `.tack/`, ignore it in git. Returns what was done, in words.
    With `detection`, the workflow carries the detected checks and agent backend."""
    repo = repo.expanduser().absolute()
    if not repo.is_dir():
        raise WorkflowError(
            f"{repo}: no such directory. Pass the repository to initialise, e.g. `tack init .`.",
            code="missing_workflow_file",
        )
    workflow = repo / "WORKFLOW.md"
    if workflow.exists() and not force:
        raise WorkflowError(
            f"{workflow} already exists; not overwriting it. Edit it by hand, or run "
            "`tack init --force` to replace it with the default.",
            code="workflow_exists",
        )
    done = [f"{'replaced' if workflow.exists() else 'wrote'} {workflow}"]
    text = default_workflow_text()
    if detection is not None:
        text = apply_detection(text, detection)
        if detection.languages:
            done.append(f"detected {', '.join(detection.languages)}")
        for check in detection.checks:
            done.append(f"feedback check {check.name!r}: {check.command}  ({check.why})")
        done.append(f"agent.backend: {detection.backend} ({detection.backend_why})")
    workflow.write_text(text, "utf-8")

    principles = repo / "PRINCIPLES.md"
    if not principles.exists():  # never replaced, even with --force: it is the team's own
        starter = resources.files("tack.principles").joinpath("starter_PRINCIPLES.md")
        principles.write_text(starter.read_text("utf-8"), "utf-8")
        done.append(f"wrote {principles}")

    tack_dir = repo / ".tack"
    if not tack_dir.is_dir():
        tack_dir.mkdir(parents=True)
        done.append(f"created {tack_dir}/")

    gitignore = repo / ".gitignore"
    if not _ignores_tack_dir(gitignore):
        existing = gitignore.read_text("utf-8") if gitignore.exists() else ""
        separator = "" if not existing or existing.endswith("\n") else "\n"
        gitignore.write_text(f"{existing}{separator}.tack/\n", "utf-8")
        done.append(f"added .tack/ to {gitignore}")
    return done
