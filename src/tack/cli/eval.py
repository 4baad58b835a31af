"""`tack eval run/report/compare/suite/import-swebench`: thin over tack.eval."""

from __future__ import annotations

import asyncio
import json
import time
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from tack.eval.suite import EvalError

eval_app = typer.Typer(help="Compare harness variants on task suites; score agents' work.",
                       no_args_is_help=True)
suite_app = typer.Typer(help="Bundled task suites.", no_args_is_help=True)
eval_app.add_typer(suite_app, name="suite")
console = Console(soft_wrap=True, highlight=False)
if not console.is_terminal:
    # Piped or redirected: the report's columns need more than rich's 80-column default.
    console = Console(soft_wrap=True, highlight=False, width=140)
err = Console(stderr=True, soft_wrap=True, highlight=False)


def register(app: typer.Typer) -> None:
    app.add_typer(eval_app, name="eval")


def _prices(specs: list[str]) -> dict[str, tuple[float, float]]:
    out: dict[str, tuple[float, float]] = {}
    for spec in specs:
        name, _, value = spec.rpartition("=")
        try:
            price_in, price_out = (float(x) for x in value.split(":"))
        except ValueError:
            raise EvalError(f"--price `{spec}`: write [VARIANT=]IN:OUT in USD per million "
                            "tokens, e.g. `--price 3:15`.") from None
        out[name or "*"] = (price_in, price_out)
    return out


@eval_app.command("run")
def run_cmd(
    suite: Annotated[Path, typer.Argument(help="Suite directory or JSONL file.")],
    variant: Annotated[list[str], typer.Option("--variant", "-v",
                       help="NAME=KEY=VALUE,KEY=VALUE (WORKFLOW.md front-matter overrides; "
                            "prompt=FILE, principles=FILE). Repeat for each variant.")],
    repeat: Annotated[int, typer.Option("--repeat", min=1, help="Trials per task and variant.")] = 1,
    jobs: Annotated[int, typer.Option("--jobs", "-j", min=1, help="Trials at once.")] = 1,
    out: Annotated[Path | None, typer.Option("--out", "-o",
                   help="Run directory (an existing one resumes).")] = None,
    workflow: Annotated[Path | None, typer.Option("--workflow", "-w",
                        help="Base WORKFLOW.md (default: built-in agent, eval prompt).")] = None,
    set_: Annotated[list[str] | None, typer.Option("--set",
                    help="KEY=VALUE override for every variant (e.g. builtin.base_url=...).")] = None,
    stub_script: Annotated[Path | None, typer.Option("--stub-script",
                           help="Serve this stub model script and point builtin.base_url at it.")] = None,
    timeout: Annotated[float, typer.Option("--timeout", help="Seconds per trial.")] = 600.0,
    max_runs: Annotated[int, typer.Option("--max-runs", min=1,
                        help="Runs (continuations, retries) per trial before it counts as "
                             "not handed off.")] = 3,
    keep: Annotated[bool, typer.Option("--keep", help="Keep each trial's directory.")] = False,
) -> None:
    """Run every (task, variant, repeat) through the orchestrator; results in OUT/results.sqlite."""
    from tack.eval import load_suite
    from tack.eval.report import print_report, summarize
    from tack.eval.runner import RunPlan, run_plan
    from tack.eval.variants import BaseWorkflow, parse_overrides, parse_variant

    cwd = Path.cwd()
    loaded = load_suite(suite)
    variants = [parse_variant(v, cwd=cwd) for v in variant]
    common, _ = parse_overrides(",".join(set_ or []), where="--set", cwd=cwd)
    if workflow is not None and not workflow.is_file():
        raise EvalError(f"--workflow {workflow} does not exist; pass a WORKFLOW.md or leave it "
                        "out for the built-in eval workflow.")
    run_dir = out or Path("eval-runs") / f"{loaded.name}-{time.strftime('%Y%m%d-%H%M%S')}"
    plan = RunPlan(loaded, variants, run_dir.resolve(), repeat=repeat, jobs=jobs,
                   timeout_s=timeout, max_runs=max_runs, base=BaseWorkflow.load(workflow),
                   common=common, keep=keep)
    stub = None
    if stub_script is not None:
        from tack.testing import StubModelServer

        stub = StubModelServer(stub_script)
        stub.start_in_thread()
        from tack.eval.variants import deep_merge

        plan.common = deep_merge({"builtin": {"base_url": stub.url}}, plan.common)
    total = len(plan.trials())
    try:
        with Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                      TimeElapsedColumn(), console=err, transient=False) as bar:
            job = bar.add_task("eval", total=total)
            from tack.eval.store import RESULTS_FILE, EvalStore

            if (plan.out / RESULTS_FILE).is_file():
                previous = EvalStore(plan.out / RESULTS_FILE)
                bar.advance(job, len(previous.done() & {(t.id, v.name, r)
                                                         for t, v, r in plan.trials()}))
                previous.close()

            def advance(result: object) -> None:
                bar.advance(job)

            store = asyncio.run(run_plan(plan, advance))
    finally:
        if stub is not None:
            stub.stop_thread()
    try:
        print_report(summarize(store.results(), order=[v.name for v in variants]), console)
    finally:
        store.close()
    err.print(f"Results: {plan.out} (`tack eval report {plan.out}`)")


@eval_app.command("report")
def report_cmd(
    run: Annotated[Path, typer.Argument(help="A run directory from `tack eval run`.")],
    html: Annotated[Path | None, typer.Option("--html", help="Write an HTML report here.")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Machine-readable output.")] = False,
    price: Annotated[list[str] | None, typer.Option("--price",
                     help="[VARIANT=]IN:OUT USD per million tokens.")] = None,
) -> None:
    """Resolved rates with Wilson intervals, paired McNemar tests, cost and flipped tasks."""
    from tack.eval.report import summarize
    from tack.eval.store import EvalStore

    store = EvalStore.open_run(run)
    try:
        summary = summarize(store.results(), _prices(price or []),
                            order=list(store.meta("variants", {})))
    finally:
        store.close()
    _emit(summary, html, as_json, f"tack eval: {run}")


@eval_app.command("compare")
def compare_cmd(
    run_a: Annotated[Path, typer.Argument(help="First run directory.")],
    run_b: Annotated[Path, typer.Argument(help="Second run directory.")],
    html: Annotated[Path | None, typer.Option("--html", help="Write an HTML report here.")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Machine-readable output.")] = False,
) -> None:
    """Compare two runs' variants on the tasks both ran (variants named RUN:VARIANT)."""
    from tack.eval.report import summarize
    from tack.eval.store import EvalStore

    results = []
    names: list[str] = []
    labels = [Path(run_a).resolve().name, Path(run_b).resolve().name]
    if labels[0] == labels[1]:
        labels = ["A", "B"]
    for run, label in zip((run_a, run_b), labels):
        store = EvalStore.open_run(run)
        try:
            order = [f"{label}:{v}" for v in store.meta("variants", {})]
            for r in store.results():
                r.variant = f"{label}:{r.variant}"
                results.append(r)
            names += order
        finally:
            store.close()
    _emit(summarize(results, order=names), html, as_json, f"tack eval compare {run_a} {run_b}")


def _emit(summary: dict[str, object], html: Path | None, as_json: bool, title: str) -> None:
    from tack.eval.report import print_report, render_html

    if html is not None:
        html.write_text(render_html(summary, title), "utf-8")
        err.print(f"Wrote {html}")
    if as_json:
        typer.echo(json.dumps(summary, indent=2, default=str))
    else:
        print_report(summary, console)


@suite_app.command("starter")
def starter_cmd(
    dest: Annotated[Path, typer.Argument(help="Directory to write the suite into.")] = Path(
        "starter-suite"),
    check: Annotated[bool, typer.Option("--check",
                     help="Also prove each seeded bug fails its tests (needs the sdists).")] = False,
    oracle_script: Annotated[Path | None, typer.Option("--oracle-script",
                             help="Also write a stub model script that applies the reference "
                                  "fixes (to measure Tack's own overhead).")] = None,
) -> None:
    """Write the bundled starter suite (tasks on real PyPI sdists) to DEST."""
    from tack.eval.starter import check_suite, write_suite
    from tack.eval.starter import oracle_script as oracle

    count = write_suite(dest)
    err.print(f"Wrote {count} tasks to {dest}")
    if oracle_script is not None:
        oracle_script.write_text(json.dumps(oracle(), indent=1), "utf-8")
        err.print(f"Wrote the oracle stub script to {oracle_script}")
    if check:
        problems = check_suite(dest, log=err.print)
        if problems:
            raise EvalError("starter suite check failed: " + "; ".join(problems))


@eval_app.command("import-swebench")
def import_swebench_cmd(
    file: Annotated[Path, typer.Argument(help="SWE-bench JSONL (one instance a line).")],
    repos: Annotated[Path, typer.Option("--repos",
                     help="Directory of local clones (OWNER__NAME or NAME).")] = Path("."),
    out: Annotated[Path, typer.Option("--out", "-o", help="Suite JSONL to write.")] = Path(
        "swebench-suite.jsonl"),
) -> None:
    """Convert SWE-bench records whose repositories are cloned locally into a suite."""
    from tack.eval.swebench import import_swebench

    written, skipped = import_swebench(file, repos, out)
    err.print(f"Wrote {written} tasks to {out}; skipped {len(skipped)} without a local clone"
              + (f" ({', '.join(skipped[:5])}{'…' if len(skipped) > 5 else ''})" if skipped else ""))


@eval_app.command("best-of")
def best_of_cmd(
    identifier: Annotated[str, typer.Argument(help="The issue (local tracker), e.g. TACK-3.")],
    n: Annotated[int | None, typer.Option("-n", min=1,
                 help="Attempts (default: the issue's best-of:N label, else agent.best_of).")] = None,
    variant: Annotated[list[str] | None, typer.Option("--variant", "-v",
                       help="NAME=OVERRIDES; attempts cycle through the variants.")] = None,
    workflow: Annotated[Path, typer.Option("--workflow", "-w", help="Workflow file.")] = Path(
        "WORKFLOW.md"),
    jobs: Annotated[int, typer.Option("--jobs", "-j", min=1, help="Attempts at once.")] = 2,
    timeout: Annotated[float, typer.Option("--timeout", help="Seconds per attempt.")] = 1800.0,
    judge: Annotated[bool, typer.Option("--judge",
                     help="Ask the judge model (principles.judge) to compare the diffs.")] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Machine-readable output.")] = False,
) -> None:
    """Race N agents on one issue; hand off the attempt whose checks pass with fewest findings."""
    from tack.eval.bestof import best_of, render_comment
    from tack.eval.variants import parse_variant

    if not workflow.is_file():
        raise EvalError(f"{workflow} does not exist; pass --workflow with the project's "
                        "WORKFLOW.md.")
    variants = [parse_variant(v, cwd=Path.cwd()) for v in variant or []] or None
    result = asyncio.run(best_of(workflow.resolve(), identifier, n, variants,
                                 timeout_s=timeout, jobs=jobs, judge=judge))
    if as_json:
        typer.echo(json.dumps(result.to_dict(), indent=2))
    else:
        console.print(render_comment(result))
    if result.winner is None:
        raise typer.Exit(1)
