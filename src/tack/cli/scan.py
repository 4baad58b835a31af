"""`tack scan`: check the repository against PRINCIPLES.md; file and close fix issues.

Exit code 0 when nothing new is found, 1 when there are findings, 2 for a usage error.
Prose for agents (one line per finding), a table on a terminal, `--json`, `--sarif`.
"""

from __future__ import annotations

import re
import sys
import threading
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import orjson
import typer
from rich.console import Console

from tack.errors import TackError

if TYPE_CHECKING:
    from tack.principles.document import PrinciplesDoc
    from tack.principles.filing import FilingReport
    from tack.principles.project import Project
    from tack.principles.scanner import ScanResult

_EVERY = re.compile(r"^(\d+)\s*([smhd])$")
_UNIT_S = {"s": 1, "m": 60, "h": 3600, "d": 86_400}


def _every_seconds(value: str) -> int:
    match = _EVERY.match(value.strip().lower())
    if not match or int(match.group(1)) == 0:
        raise TackError(f"--every {value!r} is not a duration. Use a number and a unit: "
                        "30m, 6h, 1d.")
    return int(match.group(1)) * _UNIT_S[match.group(2)]


def register(app: typer.Typer) -> None:
    @app.command("scan")
    def scan_cmd(
        since: Annotated[str | None, typer.Option(
            "--since", help="Only files changed since this git ref (e.g. origin/main).")] = None,
        as_json: Annotated[bool, typer.Option("--json", help="JSON for scripts.")] = False,
        as_sarif: Annotated[bool, typer.Option("--sarif", help="SARIF 2.1.0 log.")] = False,
        output: Annotated[Path | None, typer.Option(
            "--output", "-o", help="Write the JSON/SARIF/prose report to this file.")] = None,
        file_issues: Annotated[bool, typer.Option(
            "--file-issues", help="File one tracker issue per violation cluster; close fixed "
            "ones.")] = False,
        update_baseline: Annotated[bool, typer.Option(
            "--update-baseline", help="Record every current finding in the baseline file.")
        ] = False,
        no_baseline: Annotated[bool, typer.Option(
            "--no-baseline", help="Report baselined findings too.")] = False,
        no_cache: Annotated[bool, typer.Option("--no-cache", help="Ignore the scan cache.")
                            ] = False,
        only: Annotated[list[str] | None, typer.Option(
            "--only", help="Only this principle id; repeatable.")] = None,
        judge: Annotated[bool, typer.Option(
            "--judge", help="Also run model-judged principles (costs tokens).")] = False,
        model: Annotated[str | None, typer.Option(
            "--model", help="Judge model name (default: principles.judge.model).")] = None,
        jobs: Annotated[int | None, typer.Option(
            "--jobs", "-j", help="Worker processes (default: CPU count).", min=1)] = None,
        every: Annotated[str | None, typer.Option(
            "--every", help="Repeat the scan on this interval (30m, 6h, 1d).")] = None,
        times: Annotated[int | None, typer.Option(
            "--times", help="With --every: stop after this many scans.", min=1)] = None,
        root: Annotated[Path | None, typer.Option(
            "--root", help="Repository to scan (default: the current directory).")] = None,
        workflow: Annotated[Path | None, typer.Option(
            "--workflow", "-w", help="Workflow file (default: ROOT/WORKFLOW.md).")] = None,
    ) -> None:
        """Check the code against the golden principles (PRINCIPLES.md)."""
        interval = _every_seconds(every) if every else None
        stop = threading.Event()
        runs = 0
        while True:
            # Only the report of a plain `tack scan --json` is kept for replay (scan_replay).
            replayable = interval is None and as_json and not (
                since or as_sarif or output or file_issues or update_baseline or no_baseline
                or no_cache or only or judge or model or jobs or root or workflow)
            code = _scan_once(since, as_json, as_sarif, output, file_issues, update_baseline,
                              no_baseline, no_cache, only, judge, model, jobs, root, workflow,
                              replayable)
            runs += 1
            if interval is None:
                raise typer.Exit(code)
            if times is not None and runs >= times:
                raise typer.Exit(code)
            Console(stderr=True).print(f"next scan in {every}", style="dim")
            stop.wait(interval)


def _scan_once(
    since: str | None, as_json: bool, as_sarif: bool, output: Path | None, file_issues: bool,
    update_baseline: bool, no_baseline: bool, no_cache: bool, only: list[str] | None,
    judge_on: bool, model: str | None, jobs: int | None, root: Path | None,
    workflow: Path | None, replayable: bool = False,
) -> int:
    from tack.principles import report
    from tack.principles.cache import ScanCache
    from tack.principles.document import load_document, require_valid
    from tack.principles.findings import load_baseline, write_baseline
    from tack.principles.project import open_project
    from tack.principles.scanner import scan

    project = open_project(root, workflow)
    doc = require_valid(load_document(project.principles_path))
    plugged = _load_plugins_if_needed(doc, judge_on or file_issues)
    signature = None
    if replayable and project.workflow is None and not plugged:
        from tack import scan_replay

        # Taken before the scan: an edit made while it runs must not be covered by its report.
        signature = scan_replay.signature(project.root, project.principles_path,
                                          project.baseline_path)
    baseline = set() if (no_baseline or update_baseline) else load_baseline(project.baseline_path)
    cache = ScanCache(None if no_cache else project.cache_path)
    judge = None
    if judge_on:
        from tack.principles.judge import Judge

        judge = Judge(project.judge_settings(model=model))
    err = Console(stderr=True)
    # The baseline is Tack's record of findings, not code (scanning it reports them again).
    skip = _inside(project.baseline_path, project.root)
    try:
        if err.is_terminal and not (as_json or as_sarif):
            from rich.progress import Progress

            with Progress(console=err, transient=True) as bar:
                task = bar.add_task("scanning", total=None)
                result = scan(project.root, doc, since=since, cache=cache, baseline=baseline,
                              judge=judge, jobs=jobs, only=only, skip=skip,
                              on_progress=lambda n, t: bar.update(task, completed=n, total=t))
        else:
            result = scan(project.root, doc, since=since, cache=cache, baseline=baseline,
                          judge=judge, jobs=jobs, only=only, skip=skip)
    finally:
        if judge is not None:
            judge.close()

    if update_baseline:
        write_baseline(project.baseline_path, result.current)
        err.print(f"wrote {len(result.current)} finding(s) to {project.baseline_path}")
        return 0
    filing = None
    if file_issues:
        filing = _file(project, result, doc)
    if as_json or as_sarif:
        data = report.sarif(result, doc) if as_sarif else report.as_json(result)
        if as_json and filing is not None:
            data["issues"] = filing.to_dict()
        # orjson: the standard encoder is pure Python when it indents (~0.3 s for 5,000
        # findings, most of a warm scan).
        text = orjson.dumps(data, option=orjson.OPT_INDENT_2).decode()
        if signature is not None:
            from tack import scan_replay

            scan_replay.record(project.root, ["--json"], signature, project.principles_path,
                               project.baseline_path, data, 1 if result.findings else 0)
    elif output is None and sys.stdout.isatty():
        Console().print(report.table(result))
        for note in report.notes(result):
            err.print(note)
        text = None
    else:
        text = report.prose(result)
    if filing is not None and not as_json:
        err.print(str(filing))
    if text is not None:
        if output is not None:
            output.write_text(text + "\n", "utf-8")
            err.print(report.summary(result))
        else:
            typer.echo(text)
    return 1 if result.findings else 0


def _load_plugins_if_needed(doc: PrinciplesDoc, talks_out: bool) -> bool:
    """The plug-ins and structlog, which `tack` skips for `scan` (most of a warm scan's
    start-up): only a Python check Tack does not ship can come from a plug-in, and only the
    model judge and issue filing log. Whether the plug-ins were loaded."""
    from tack.principles.checks import BUILTIN_CHECKS

    if talks_out:
        from tack.logs import configure_logging

        configure_logging("warning")
    if talks_out or any(p.check is not None and p.check.kind == "python"
                        and p.check.name not in BUILTIN_CHECKS for p in doc.principles):
        from tack.plugins import default_plugins

        default_plugins()
        return True
    return False


def _inside(path: Path, root: Path) -> list[str]:
    """`path` relative to `root` as a one-item list, or none when it lies outside."""
    try:
        return [path.resolve().relative_to(root.resolve()).as_posix()]
    except ValueError:
        return []


def _file(project: Project, result: ScanResult, doc: PrinciplesDoc) -> FilingReport:
    from tack.principles.filing import file_issues
    from tack.tracker.local import LocalTracker

    config = project.config
    kind = (config.tracker.kind or "local").strip().lower()
    if kind != "local":
        raise TackError(f"--file-issues files into the local tracker only for now; tracker.kind "
                        f"is {config.tracker.kind!r}. Use `tracker.kind: local` or file by hand "
                        "from `tack scan --json`.")
    with LocalTracker.from_config(config.tracker, tack_dir=project.tack_dir) as tracker:
        return file_issues(tracker, result, doc, project.root)
