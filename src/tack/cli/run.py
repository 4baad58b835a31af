"""`tack up`, `tack demo`, `tack version`."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

import tack


def _no_work_hint(path: Path) -> str | None:
    """On the local tracker, say how to add work when no issue is in an active state (a first
    `tack up` otherwise just sits there). Hosted trackers are polled as usual."""
    from tack.errors import TackError
    from tack.tracker.local import LocalTracker
    from tack.workflow import load_workflow

    try:
        wf = load_workflow(path)
        cfg = wf.config.tracker
        if (cfg.kind or "local").strip().lower() != "local":
            return None
        tracker = LocalTracker.from_config(cfg, tack_dir=wf.tack_dir)
        try:
            if tracker.list_issues(list(cfg.active_states)):
                return None
        finally:
            tracker.close_sync()
    except TackError:
        return None  # run_service reports the error in full
    states = " or ".join(repr(s) for s in cfg.active_states)
    return (f"No issue is eligible yet: none is in {states}. Add one with "
            f"`tack issue add \"Fix the flaky date parser\"` (it starts in {cfg.active_states[0]!r}) "
            "or move one with `tack issue move ID STATE`; Tack keeps polling and picks it up.")


def register(app: typer.Typer) -> None:
    @app.command()
    def version() -> None:
        """Print Tack's version."""
        typer.echo(tack.__version__)

    @app.command()
    def up(
        workflow_arg: Optional[Path] = typer.Argument(
            None, metavar="[WORKFLOW]", help="Path to WORKFLOW.md (default ./WORKFLOW.md)."
        ),
        workflow: Optional[Path] = typer.Option(None, "--workflow", "-w", help="Path to WORKFLOW.md."),
        port: Optional[int] = typer.Option(
            None, "--port", min=0, max=65535,
            help="Serve the dashboard and API on this port (0 = any free port).",
        ),
        log_level: str = typer.Option("info", "--log-level", help="debug, info, warning, error."),
    ) -> None:
        """Run the orchestrator: poll the tracker and run an agent per eligible issue."""
        from tack.logs import configure_logging
        from tack.orchestrator.service import run_service
        from tack.orchestrator.temporal.runtime import run_and_release

        configure_logging(log_level)
        path = workflow or workflow_arg or Path("WORKFLOW.md")

        def started(orch: object, url: str | None) -> None:
            if url:
                typer.echo(f"Tack is up. Dashboard and API: {url}", err=True)
            else:
                typer.echo("Tack is up (no HTTP server; pass --port to enable it).", err=True)

        hint = _no_work_hint(path)
        if hint:
            typer.echo(hint, err=True)
        # Frees everything the service made before exit: a Temporal executor's runtime threads
        # left to interpreter shutdown can abort it (orchestrator/temporal/runtime.py).
        run_and_release(run_service(path, port=port, on_started=started))

    @app.command()
    def demo(
        keep: bool = typer.Option(False, "--keep", help="Keep the demo directory afterwards."),
        port: int = typer.Option(
            0, "--port", min=0, max=65535, help="Dashboard port (0 = any free port)."
        ),
        directory: Optional[Path] = typer.Option(None, "--dir", help="Build the demo here."),
    ) -> None:
        """Run the whole loop offline: a small buggy repo, three issues, the built-in agent on
        the stub model, the dashboard. Finishes in well under a minute."""
        from tack.demo import run_demo

        ok = run_demo(directory=directory, keep=keep, port=port)
        raise typer.Exit(0 if ok else 1)
