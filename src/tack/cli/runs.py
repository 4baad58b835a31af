"""`tack runs`: recent runs with their ids, read from the state db (no running `tack up`
needed), so a person can find the run `tack feedback RUN` and the API's `/runs/RUN` take."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import typer
from rich.console import Console
from rich.table import Table
from rich.text import Text

from tack.redact import Redactor
from tack.store.metrics import open_readonly, run_rows


def runs_table(runs: list[dict[str, Any]], *, title: str = "Recent runs") -> Table:
    """Runs as a table whose first column is the run id; shared with `tack status`."""
    table = Table(title=title, title_justify="left", expand=True)
    for name, kw in (("Run", {"justify": "right", "no_wrap": True}), ("Issue", {"no_wrap": True}),
                     ("Attempt", {"justify": "right"}), ("Status", {}), ("Ended", {}),
                     ("Turns", {"justify": "right"}), ("Tokens", {"justify": "right"}),
                     ("Error", {"ratio": 3})):
        table.add_column(name, **kw)
    styles = {"succeeded": "green", "running": "cyan"}
    for r in runs:
        table.add_row(
            str(r["run_id"]), r["issue_identifier"],
            "" if r.get("attempt") is None else str(r["attempt"]),
            Text(r["status"], style=styles.get(r["status"], "red")),
            (r.get("ended_at") or "—").replace("T", " ").removesuffix("Z")[:16],
            str(r.get("turn_count", 0)), f"{r.get('total_tokens', 0):,}",
            Text(str(r.get("error") or "")[:160]),
        )
    return table


def register(app: typer.Typer) -> None:
    @app.command()
    def runs(
        issue: str | None = typer.Option(None, "--issue", "-i", help="Only this issue's runs."),
        limit: int = typer.Option(20, "--limit", "-n", min=1, help="How many, newest first."),
        as_json: bool = typer.Option(False, "--json", help="Print JSON for scripts."),
        workflow: Path = typer.Option(Path("WORKFLOW.md"), "--workflow", "-w",
                                      help="The project's workflow file (finds the state db)."),
    ) -> None:
        """List recent runs, newest first, with the run ids `tack feedback RUN` takes."""
        from tack.workflow import load_workflow

        wf = load_workflow(workflow)
        db = open_readonly(wf.store_path())
        try:
            rows = run_rows(db, identifier=issue, limit=limit)
        finally:
            db.close()
        # Run errors are stored as the agent reported them; never print a secret from the env.
        rows = Redactor([wf.config.builtin.api_key or "", wf.config.server.token or ""]).data(rows)
        if as_json:
            typer.echo(json.dumps(rows, indent=2))
            return
        console = Console()
        if not rows:
            which = f" of {issue}" if issue else ""
            console.print(f"No runs{which} yet. `tack up` records a run for every agent session.")
            return
        console.print(runs_table(rows))
        console.print(Text("Give feedback on one with `tack feedback RUN --up|--down -m TEXT`.",
                           style="dim"))
