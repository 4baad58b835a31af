"""`tack worker`: run issue runs for a Temporal-backed orchestrator (docs/scale-out.md)."""

from __future__ import annotations

from pathlib import Path

import typer

from tack.errors import TackError


def register(app: typer.Typer) -> None:
    @app.command()
    def worker(
        executor: str = typer.Option(
            "temporal", "--executor", help="Executor to serve; only `temporal` has workers."
        ),
        slots: int = typer.Option(
            4, "--slots", min=1, help="Agent slots: issue runs this worker executes at once."
        ),
        workspace_root: Path | None = typer.Option(
            None, "--workspace-root",
            help="This worker's own workspace root (default: workspace.root of WORKFLOW.md).",
        ),
        repo: Path | None = typer.Option(
            None, "--repo",
            help="This machine's clone of the repository (default: workspace.repo).",
        ),
        name: str | None = typer.Option(
            None, "--name", help="Worker identity shown in the API (default: host-pid)."
        ),
        workflow: Path = typer.Option(
            Path("WORKFLOW.md"), "--workflow", "-w", help="Path to WORKFLOW.md."
        ),
        log_level: str = typer.Option("info", "--log-level", help="debug, info, warning, error."),
    ) -> None:
        """Execute issue runs from the Temporal task queue named in WORKFLOW.md's `executor:`."""
        if executor != "temporal":
            raise TackError(
                f"`tack worker --executor {executor}`: only the `temporal` executor has workers; "
                "the local executor runs inside `tack up`. Use `--executor temporal`."
            )
        from tack.logs import configure_logging
        from tack.orchestrator.temporal.runtime import run_on_own_runtime
        from tack.orchestrator.temporal.worker import run_worker

        configure_logging(log_level)

        def ready(worker_name: str, swept: list[int]) -> None:
            if swept:
                typer.echo(f"Killed {len(swept)} leftover agent process group(s).", err=True)
            typer.echo(f"Tack worker {worker_name} is polling with {slots} slot(s).", err=True)

        # A runtime of its own, stopped before exit on every path (see temporal/runtime.py).
        run_on_own_runtime(lambda runtime: run_worker(
            workflow, slots=slots, workspace_root=workspace_root, repo=repo, name=name,
            on_ready=ready, runtime=runtime))
