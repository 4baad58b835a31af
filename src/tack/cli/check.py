"""`tack check`: run the configured checks (or a command) and print findings as prose.

The exit code mirrors the checks: 0 when all pass, else the first failing check's code.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from tack.errors import TackError


def _name_of(argv: list[str]) -> str:
    if len(argv) >= 3 and argv[1] == "-m":
        return argv[2]
    return Path(argv[0]).name


def check(
    command: Annotated[list[str] | None, typer.Argument(
        help="A command to check instead of the configured ones (after `--`).")] = None,
    profile: Annotated[str | None, typer.Option(
        "--profile", "-p", help="Run only the check, or the checks of the profile, so named.")
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print findings as JSON.")] = False,
    as_sarif: Annotated[bool, typer.Option("--sarif", help="Print findings as SARIF 2.1.0.")
                        ] = False,
    budget: Annotated[int | None, typer.Option(
        "--budget", help="Token budget for the prose (0: no limit; default from WORKFLOW.md, "
                         "else 2000).", min=0)] = None,
    fmt: Annotated[str | None, typer.Option(
        "--format", help="Output format of the command after `--` (default: detected).")
    ] = None,
    workflow: Annotated[Path | None, typer.Option(
        "--workflow", "-w", help="Workflow file with a `feedback:` section.")] = None,
    no_history: Annotated[bool, typer.Option(
        "--no-history", help="Do not read or record finding history.")] = False,
) -> None:
    """Run tests and linters; print what failed, where, why, and the runbook to follow."""
    from tack.feedback import CheckSpec, render_json, render_sarif, resolve_settings, run_checks

    cwd = Path.cwd()
    settings = resolve_settings(cwd, workflow)
    if command:
        if profile:
            raise TackError("pass either --profile or a command after `--`, not both.",
                            code="usage")
        specs = [CheckSpec(_name_of(command), list(command), fmt)]
    else:
        if fmt:
            raise TackError("--format applies to a command given after `--`; for configured "
                            "checks set `format:` on the check in WORKFLOW.md.", code="usage")
        specs = settings.select(profile)
        if not specs:
            where = settings.workflow or "WORKFLOW.md"
            raise TackError(f"{where}: no checks configured. Add `feedback.checks` (see "
                            "docs/feedback.md) or pass a command: `tack check -- pytest`.",
                            code="no_checks")
    report = run_checks(
        specs, root=settings.root, cwd=cwd, runbooks_dir=settings.runbooks_dir,
        history_db=None if no_history else settings.history_db,
        budget=settings.budget if budget is None else budget,
    )
    if as_sarif:
        typer.echo(json.dumps(render_sarif(report.runs), indent=2))
    elif as_json:
        typer.echo(json.dumps(render_json(report.runs, report.exit_code, report.prose),
                              indent=2, ensure_ascii=False))
    else:
        typer.echo(report.prose.strip("\n"))
    raise typer.Exit(report.exit_code)


def register(app: typer.Typer) -> None:
    app.command("check")(check)
