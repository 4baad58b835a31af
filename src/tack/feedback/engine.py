"""Run checks, parse what they print or write, and turn it into one report.

A check is a command plus an optional format hint. Known test runners and linters are
asked for their machine format (pytest writes JUnit XML, ruff prints JSON) unless the
command already picks one; `{report}` in a command names a file the tool writes.
"""

from __future__ import annotations

import os
import shlex
import signal
import subprocess
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from tack.errors import TackError
from tack.feedback.history import FindingHistory, current_branch
from tack.feedback.model import CheckRun, Finding
from tack.feedback.parsers import FORMATS, parse_output
from tack.feedback.paths import ParseContext
from tack.feedback.render import render_prose
from tack.feedback.runbooks import attach_runbooks, load_runbooks

TAIL_LINES = 15
_SHELL_CHARS = set("|&;<>()$`*?[]{}\\\"'\n")


class CheckError(TackError):
    code = "check_error"


@dataclass
class CheckSpec:
    name: str
    command: str | list[str]
    format: str | None = None
    report: str | None = None
    timeout_s: float = 600.0

    @property
    def display(self) -> str:
        return self.command if isinstance(self.command, str) else shlex.join(self.command)


@dataclass
class CheckReport:
    runs: list[CheckRun]
    exit_code: int
    prose: str
    branch: str = ""
    findings: list[Finding] = field(default_factory=list)


def _is_pytest(argv: list[str]) -> bool:
    head = Path(argv[0]).name
    return head in ("pytest", "py.test") or (
        len(argv) >= 3 and argv[1] == "-m" and argv[2] == "pytest" and "python" in head)


def enrich(argv: list[str], report: Path) -> tuple[list[str], str | None]:
    """The command with a machine-readable output flag added, and the format it yields."""
    if _is_pytest(argv) and not any(a.startswith("--junit") for a in argv):
        return [*argv, f"--junitxml={report}"], "junit"
    if Path(argv[0]).name == "ruff" and "check" in argv[1:2] and not any(
            a.startswith(("--output-format", "--format")) for a in argv):
        return [*argv, "--output-format=json"], "ruff"
    return argv, None


def run_check(spec: CheckSpec, ctx: ParseContext, env: dict[str, str] | None = None
              ) -> CheckRun:
    if spec.format is not None and spec.format not in FORMATS:
        raise CheckError(f"check {spec.name!r}: unknown format {spec.format!r}; use one of "
                         f"{', '.join(sorted(FORMATS))} or leave it out to auto-detect.")
    with tempfile.TemporaryDirectory(prefix="tack-check-") as tmp:
        report = Path(tmp) / "report"
        argv, shell, fmt = _command(spec, report)
        if spec.report:  # a report left by an earlier run must not pass for this one's
            (ctx.cwd / spec.report).unlink(missing_ok=True)
        code, output = _execute(argv, shell, ctx.cwd, env, spec.timeout_s)
        report_text = _read_report(spec, report, ctx)
    run = CheckRun(name=spec.name, command=spec.display, exit_code=code, output=output)
    text, hint = (report_text, spec.format or fmt) if report_text else (output, spec.format)
    try:
        run.format, run.findings, run.tests_total = parse_output(text, hint, ctx)
    except Exception as exc:  # noqa: BLE001 — a malformed report must still give feedback
        run.format, run.findings = "unparsed", []
        output = f"(could not parse the {hint or 'tool'} output: {exc})\n" + output
    if report_text and not run.findings and code != 0:
        run.format, run.findings, run.tests_total = parse_output(output, None, ctx)
    if code != 0 and not run.findings:
        run.findings = [_unparsed(spec, code, output)]
    return run


def _command(spec: CheckSpec, report: Path) -> tuple[list[str], bool, str | None]:
    command = spec.command
    if isinstance(command, str):
        if "{report}" in command:
            return [command.replace("{report}", shlex.quote(str(report)))], True, None
        if _SHELL_CHARS & set(command):
            return [command], True, None
        command = shlex.split(command)
    if not command:
        raise CheckError(f"check {spec.name!r} has an empty command; set its `command`.")
    argv = [a.replace("{report}", str(report)) for a in command]
    if any("{report}" in a for a in command) or spec.format is not None:
        return argv, False, None
    argv, fmt = enrich(argv, report)
    return argv, False, fmt


def _execute(argv: list[str], shell: bool, cwd: Path, env: dict[str, str] | None,
             timeout_s: float) -> tuple[int, str]:
    cmd = ["bash", "-c", argv[0]] if shell else argv
    try:
        proc = subprocess.Popen(cmd, cwd=cwd, env=env, stdin=subprocess.DEVNULL,
                                stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                start_new_session=True)
    except FileNotFoundError:
        return 127, f"command not found: {argv[0]}"
    except PermissionError:
        return 126, f"permission denied: {argv[0]}"
    try:
        out, _ = proc.communicate(timeout=timeout_s)
    except subprocess.TimeoutExpired:
        _kill(proc.pid)
        out, _ = proc.communicate()
        return 124, out.decode(errors="replace") + f"\n(timed out after {timeout_s:g}s)"
    finally:
        _kill(proc.pid)  # nothing the check started outlives it
    return proc.returncode, out.decode(errors="replace")


def _kill(pgid: int) -> None:
    try:
        os.killpg(pgid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass


def _read_report(spec: CheckSpec, report: Path, ctx: ParseContext) -> str | None:
    candidates = [report]
    if spec.report:
        candidates.insert(0, ctx.cwd / spec.report)
    for path in candidates:
        if path.is_file() and path.stat().st_size:
            return path.read_text(encoding="utf-8", errors="replace")
    return None


def _unparsed(spec: CheckSpec, code: int, output: str) -> Finding:
    tail = [line for line in output.rstrip().splitlines() if line.strip()][-TAIL_LINES:]
    return Finding(kind="error", tool=spec.name, rule=f"exit-{code}",
                   message=f"`{spec.display}` exited with code {code} and Tack found no "
                           "findings it could parse; the last lines of its output follow",
                   detail=tail)


def run_checks(specs: list[CheckSpec], *, root: Path, cwd: Path | None = None,
               runbooks_dir: Path | None = None, history_db: Path | None = None,
               budget: int | None = None, env: dict[str, str] | None = None) -> CheckReport:
    """Run every check, attach runbooks and history, and render the prose."""
    ctx = ParseContext.here(root, cwd)
    runs = [run_check(spec, ctx, env) for spec in specs]
    findings = [f for run in runs for f in run.findings]
    if runbooks_dir is not None:
        attach_runbooks(findings, load_runbooks(runbooks_dir, ctx.root))
    exit_code = next((r.exit_code for r in runs if r.exit_code != 0), 0)
    branch = ""
    if history_db is not None:
        branch = current_branch(ctx.cwd)
        with FindingHistory(history_db) as history:
            history.annotate(findings)
            history.record(findings, branch=branch,
                           scope=",".join(sorted(s.name for s in specs)), exit_code=exit_code)
    prose = render_prose(runs, budget)
    return CheckReport(runs, exit_code, prose, branch, findings)
