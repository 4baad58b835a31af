"""`tack init`, `tack validate`, `tack prompt`: write, check and preview WORKFLOW.md."""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path
import typer

from tack.errors import TackError, WorkflowError
from tack.tracker.base import Issue
from tack.workflow import Workflow, load_workflow

WORKFLOW_OPTION = typer.Option(
    None, "--workflow", "-w", help="Path to WORKFLOW.md (default: ./WORKFLOW.md)."
)


def _preflight_warnings(workflow: Workflow) -> list[str]:
    from tack.tracker import SUPPORTED_KINDS

    kind = (workflow.config.tracker.kind or "").strip().lower()
    if not kind:
        return [f"{workflow.path}: tracker.kind is not set; `tack up` needs it "
                "(e.g. `tracker: {kind: local}`)."]
    if kind not in SUPPORTED_KINDS:
        return [f"{workflow.path}: tracker.kind {kind!r} is not supported by this Tack "
                f"(supported: {', '.join(SUPPORTED_KINDS)}); prompts render, but `tack up` "
                "will refuse to start."]
    return []


async def _fetch_issue(workflow: Workflow, issue_id: str) -> Issue:
    from tack.tracker import build_tracker

    tracker = build_tracker(workflow.config.tracker, tack_dir=workflow.tack_dir)
    try:
        found = await tracker.fetch_issues_by_ids([issue_id])
    finally:
        await tracker.close()
    if not found:
        raise TackError(
            f"issue {issue_id!r} was not found in the {tracker.kind} tracker configured in "
            f"{workflow.path}. Check the id, or preview with `--issue-json FILE`."
        )
    return found[0]


def register(app: typer.Typer) -> None:
    @app.command()
    def init(
        path: Path | None = typer.Argument(
            None, help="Repository to initialise (default: the current directory)."
        ),
        force: bool = typer.Option(False, "--force", help="Overwrite an existing WORKFLOW.md."),
        detect: bool = typer.Option(
            True, "--detect/--no-detect",
            help="Detect test/lint/type-check commands and an installed, logged-in agent CLI.",
        ),
    ) -> None:
        """Write a commented WORKFLOW.md and .tack/ into a repository."""
        from tack.cli.doctor import probe_cli
        from tack.workflow.detect import detect as detect_project
        from tack.workflow.scaffold import init_repository

        repo = path or Path.cwd()
        found = detect_project(repo, probe_cli) if detect and repo.is_dir() else None
        for line in init_repository(repo, force=force, detection=found):
            typer.echo(line)
        typer.echo("next: edit WORKFLOW.md, then `tack validate`; add work with "
                   "`tack issue add \"TITLE\"` and run `tack up`.")

    @app.command()
    def validate(workflow: Path | None = WORKFLOW_OPTION) -> None:
        """Check WORKFLOW.md: print `ok` and any warnings, or the errors (exit 2)."""
        loaded = load_workflow(workflow)
        typer.echo(f"ok: {loaded.path}")
        for warning in [*loaded.warnings, *_preflight_warnings(loaded)]:
            typer.echo(f"warning: {warning}")

    @app.command()
    def prompt(
        issue_id: str | None = typer.Argument(
            None, metavar="ISSUE_ID",
            help="Issue id or identifier (e.g. TACK-1) in the configured tracker.",
        ),
        workflow: Path | None = WORKFLOW_OPTION,
        issue_json: Path | None = typer.Option(
            None, "--issue-json", help="Render for the issue in this JSON file instead."
        ),
        attempt: int | None = typer.Option(
            None, "--attempt", min=1, help="Render as retry/continuation attempt N."
        ),
    ) -> None:
        """Print the prompt an agent would receive for an issue."""
        if (issue_id is None) == (issue_json is None):
            raise WorkflowError(
                "give either an ISSUE_ID or `--issue-json FILE` (exactly one), e.g. "
                "`tack prompt TACK-1`.",
                code="usage",
            )
        loaded = load_workflow(workflow)
        if issue_json is not None:
            from tack.workflow.issue_json import load_issue_json

            issue = load_issue_json(issue_json.expanduser().absolute())
        else:
            assert issue_id is not None
            issue = asyncio.run(_fetch_issue(loaded, issue_id))
        from tack.plugins import Run, default_plugins

        variables = default_plugins().prompt_context(
            Run(workflow=loaded, issue=issue, attempt=attempt))
        text = loaded.render_prompt(issue, attempt, extra=variables)
        from tack.review.plan_gate import approved_plan, with_approved_plan

        text = with_approved_plan(text, approved_plan(issue))
        sys.stdout.write(text if text.endswith("\n") else text + "\n")
