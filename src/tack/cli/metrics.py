"""`tack metrics`: runs, tokens, success rate, hand-offs, retries and merged PRs, read from the
state db directly (no running `tack up` needed) and from the repository's git history."""

from __future__ import annotations

import json
from pathlib import Path

import typer
from rich.console import Console
from rich.table import Table

from tack.errors import TackError
from tack.redact import Redactor
from tack.store.metrics import Metrics, collect, open_readonly, parse_since


def render_metrics(m: Metrics, since: str, console: Console) -> None:
    rate = "—" if m.success_rate is None else f"{m.success_rate:.0%}"
    lead = "—" if m.median_seconds_to_handoff is None else f"{m.median_seconds_to_handoff / 60:.1f} min"
    console.print(
        f"[bold]Last {since}[/]: {m.runs_total} runs, success rate {rate}, {m.tokens_total:,} tokens, "
        f"{len(m.handoffs)} hand-offs (median time to hand-off {lead}), "
        f"{m.retries_total} retries, {m.continuations_total} continuations"
    )

    def table(title: str, columns: tuple[str, ...], rows: list[tuple[object, ...]]) -> None:
        if not rows:
            return
        t = Table(title=title, title_justify="left")
        for i, col in enumerate(columns):
            t.add_column(col, justify="right" if i == len(columns) - 1 else "left")
        for row in rows:
            t.add_row(*(f"{v:,}" if isinstance(v, int) else str(v) for v in row))
        console.print(t)

    table("Runs by status", ("Status", "Runs"), sorted(m.runs_by_status.items()))
    table("Tokens per day", ("Day", "Runs", "Tokens"),
          [(d["day"], d["runs"], d["tokens"]) for d in m.tokens_per_day])
    table("Tokens per issue", ("Issue", "Runs", "Tokens"),
          [(d["issue_identifier"], d["runs"], d["tokens"]) for d in m.tokens_per_issue])
    table("Failure reasons", ("Reason", "Runs"), [(d["reason"], d["count"]) for d in m.failure_reasons])
    table("Retries and continuations", ("Kind", "Scheduled"), sorted(m.retries_by_kind.items()))
    table("PRs merged per engineer per week", ("Week", "Engineer", "PRs"),
          [(p["week"], p["engineer"], p["prs"]) for p in m.prs_per_engineer_week])


def register(app: typer.Typer) -> None:
    @app.command()
    def metrics(
        since: str = typer.Option("7d", "--since", help="Window: 30m, 12h, 7d, 4w ..."),
        as_json: bool = typer.Option(False, "--json", help="Print JSON for scripts."),
        workflow: Path = typer.Option(Path("WORKFLOW.md"), "--workflow", "-w",
                                      help="The project's workflow file (finds the state db and repo)."),
    ) -> None:
        """Tokens per day and per issue, runs, success rate, time to hand-off, retries,
        failure reasons and merged PRs per engineer per week."""
        import time

        from tack.workflow import load_workflow

        try:
            window = parse_since(since)
        except ValueError as exc:
            raise TackError(f"--since: {exc}.") from None
        wf = load_workflow(workflow)
        db = open_readonly(wf.store_path())
        try:
            m = collect(
                db,
                since=time.time() - window,
                handoff_state=wf.config.tracker.handoff_state,
                repo=wf.repo_dir(),
                branch_prefix=wf.config.workspace.branch_prefix,
            )
        finally:
            db.close()
        # Run errors are stored as the agent reported them; never print a secret from the env.
        redactor = Redactor([wf.config.builtin.api_key or "", wf.config.server.token or ""])
        if as_json:
            typer.echo(json.dumps(redactor.data({"window": since, **m.to_dict()}), indent=2))
            return
        m.failure_reasons = redactor.data(m.failure_reasons)
        render_metrics(m, since, Console())
