"""A plain `tack scan`, run without the CLI framework.

typer, rich, pydantic and structlog are ~30 MB of a scanning process's memory and most of its
start-up, and a plain scan needs none of them: `tack.cli.main` hands `tack scan ...` here
first. What is handled here is a scan whose report goes to stdout as JSON (`--json`) or as
prose to a pipe, with `--no-cache`, `--no-baseline`, `--jobs`, `--only`, `--since` and
`--root`, in a repository without a WORKFLOW.md, whose principles need no plug-in. Anything
else (another option, a table or progress bar for a terminal, `--help`, a value the CLI
would refuse) returns None and the typer CLI runs it as before, so its errors and help stay
the CLI's. The report is the CLI's (`tack.principles.report`); an unchanged tree's
`--json` report is replayed (`tack.scan_replay`) before anything else is imported.

Outside `tack.cli` on purpose: importing that package's app is the cost this avoids.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass, field
from pathlib import Path

_FLAGS = {"--json": "as_json", "--no-cache": "no_cache", "--no-baseline": "no_baseline"}
_VALUES = {"--jobs": "jobs", "-j": "jobs", "--only": "only", "--since": "since",
           "--root": "root"}


@dataclass
class Options:
    as_json: bool = False
    no_cache: bool = False
    no_baseline: bool = False
    jobs: int | None = None
    only: list[str] = field(default_factory=list)
    since: str | None = None
    root: str | None = None


class _NotPlain(Exception):
    """This scan needs the full CLI (a plug-in check, a WORKFLOW.md...)."""


def parse(args: list[str]) -> Options | None:
    """The options of a plain scan, or None when `args` holds anything else."""
    opts = Options()
    rest = list(args)
    while rest:
        arg = rest.pop(0)
        if arg in _FLAGS:
            setattr(opts, _FLAGS[arg], True)
            continue
        name, value = arg, None
        if arg.startswith("--") and "=" in arg:
            name, value = arg.split("=", 1)
        elif arg.startswith("-j") and len(arg) > 2:
            name, value = "-j", arg[2:]
        if name not in _VALUES:
            return None
        if value is None:
            if not rest:
                return None
            value = rest.pop(0)
        key = _VALUES[name]
        if key == "jobs":
            if not value.isdigit() or int(value) < 1:
                return None  # the CLI says what is wrong with it
            opts.jobs = int(value)
        elif key == "only":
            opts.only.append(value)
        else:
            setattr(opts, key, value)
    return opts


def run(args: list[str]) -> int | None:
    """Run `tack scan ARGS` if it is a plain scan: its exit code, or None for the CLI."""
    if args == ["--json"]:
        from tack.scan_replay import replay

        code = replay(args)
        if code is not None:
            return code
    opts = parse(args)
    if opts is None or (not opts.as_json and (sys.stdout.isatty() or sys.stderr.isatty())):
        return None  # a table or a progress bar for a person: rich, in the CLI
    base = (Path(opts.root) if opts.root else Path.cwd()).expanduser().resolve()
    if (base / "WORKFLOW.md").exists():
        return None  # its config (pydantic) may move every path
    from tack.errors import TackError

    try:
        text, code = _scan(opts, base, replayable=args == ["--json"])
    except _NotPlain:
        return None
    except TackError as exc:
        sys.stderr.write(f"error: {exc.message}\n")
        return 2
    sys.stdout.buffer.write(text + b"\n")
    sys.stdout.flush()
    return code


def _scan(opts: Options, base: Path, *, replayable: bool) -> tuple[bytes, int]:
    """What `tack.cli.scan` does for these options: the report's text and the exit code."""
    from tack.principles import report
    from tack.principles.cache import ScanCache
    from tack.principles.checks import BUILTIN_CHECKS
    from tack.principles.document import load_document, require_valid
    from tack.principles.findings import load_baseline
    from tack.principles.project import open_project
    from tack.principles.scanner import scan

    project = open_project(base)
    doc = require_valid(load_document(project.principles_path))
    if any(p.check is not None and p.check.kind == "python" and p.check.name not in BUILTIN_CHECKS
           for p in doc.principles):
        raise _NotPlain  # a check only a plug-in provides
    signature = None
    if replayable:
        from tack import scan_replay

        # Taken before the scan: an edit made while it runs must not be covered by its report.
        signature = scan_replay.signature(project.root, project.principles_path,
                                          project.baseline_path)
    baseline = set() if opts.no_baseline else load_baseline(project.baseline_path)
    cache = ScanCache(None if opts.no_cache else project.cache_path)
    try:
        # The baseline is Tack's record of findings, not code (scanning it reports them again).
        skip = [project.baseline_path.resolve().relative_to(project.root).as_posix()]
    except ValueError:
        skip = []
    result = scan(project.root, doc, since=opts.since, cache=cache, baseline=baseline,
                  jobs=opts.jobs, only=opts.only or None, skip=skip)
    code = 1 if result.findings else 0
    if not opts.as_json:
        return report.prose(result).encode(), code
    import orjson

    data = report.as_json(result)
    if signature is not None:
        from tack import scan_replay

        scan_replay.record(project.root, ["--json"], signature, project.principles_path,
                           project.baseline_path, data, code)
    return orjson.dumps(data, option=orjson.OPT_INDENT_2), code
