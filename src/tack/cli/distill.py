"""`tack distill SOURCE`: distil a spec from an implementation, grounded by a re-build."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console


def register(app: typer.Typer) -> None:
    @app.command("distill")
    def distill_command(
        source: Annotated[Path, typer.Argument(help="Module file or package directory to "
                                                     "distil, inside the repository.")],
        rounds: Annotated[int | None, typer.Option(
            "--rounds", help="Most rounds to run (default 3).")] = None,
        out: Annotated[Path | None, typer.Option(
            "--out", help="Also write the best spec here.")] = None,
        tests: Annotated[str | None, typer.Option(
            "--tests", help="Test command run in the grounding directory (default: pytest "
                            "on the original's tests).")] = None,
        target_score: Annotated[float | None, typer.Option(
            "--target-score", help="Stop once a round scores this much (default 0.9).")] = None,
        token_budget: Annotated[int | None, typer.Option(
            "--token-budget", help="Stop starting new agent steps after this many tokens.")
        ] = None,
        resume: Annotated[bool, typer.Option(
            "--resume", help="Continue SOURCE's newest unfinished run from its last "
                             "completed step.")] = False,
        run_id: Annotated[str | None, typer.Option(
            "--run", help="With --resume: the run id to continue (the report names it).")
        ] = None,
        workflow: Annotated[Path, typer.Option(
            "--workflow", "-w", help="Workflow file with the agent backend config.")
        ] = Path("WORKFLOW.md"),
        as_json: Annotated[bool, typer.Option("--json", help="Print the report as JSON.")
                           ] = False,
    ) -> None:
        """Distil a spec from SOURCE: writer, implementer and judge agents, round by round."""
        from tack.distill import DistillError, distill
        from tack.workflow import load_workflow

        if run_id is not None and not resume:
            raise DistillError("--run picks which run --resume continues; add --resume, or "
                               "drop --run to start a new run.")
        loaded = load_workflow(workflow)
        console = Console(stderr=True, soft_wrap=True, highlight=False)
        settings = {"rounds": rounds, "target_score": target_score,
                    "token_budget": token_budget, "tests_command": tests,
                    "out": str(out.absolute()) if out else None}
        try:
            result = asyncio.run(distill(loaded, source, settings, resume=run_id or resume,
                                         on_progress=lambda line: console.print(line)))
        except KeyboardInterrupt:
            pick = f" --run {run_id}" if run_id else ""
            raise DistillError("interrupted; every completed step is saved. Continue with "
                               f"`tack distill {source} --resume{pick}`.") from None
        if as_json:
            typer.echo(json.dumps(result.report, indent=2, ensure_ascii=False))
            return
        for r in result.report["rounds"]:
            tests_run = r["tests"]
            passed = f"{tests_run['passed']}/{tests_run['total']}" if tests_run.get("ran") \
                else "n/a"
            score = "–" if r["score"] is None else f"{r['score']:.2f}"
            typer.echo(f"round {r['round']}: score {score}, tests {passed}")
        typer.echo(f"run {result.run_id}: {result.stop_reason}; best score "
                   f"{result.best_score if result.best_score is not None else '–'}")
        if result.spec_path:
            typer.echo(f"spec: {result.spec_path}")
        typer.echo(f"report: {result.report_md} (JSON: {result.report_json})")
