"""A plain `tack scan` runs without the CLI framework (`tack.scan_lean`): the same report and
exit code as the typer CLI, the same one-paragraph errors, and anything it does not handle
(other options, a WORKFLOW.md, a plug-in check) still goes to the CLI. Workers that die,
before or in the middle of a reply, have their files checked by the scanning process."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tack.principles import workers
from tack.principles.document import load_document
from tack.principles.scanner import scan
from tack.scan_lean import Options, parse
from tests.conftest import GIT_ENV
from tests.principles.conftest import BARE_EXCEPT, CLEAN_PY, write

SRC = str(Path(__file__).resolve().parents[2] / "src")
ENV = {**os.environ, **GIT_ENV, "PYTHONPATH": SRC}
# The typer CLI itself, as `tack` ran every scan before the lean path.
FULL_CLI = "import sys; from tack.cli.root import run_app; sys.argv[0] = 'tack'; run_app()"


def lean(repo: Path, *args: str, importtime: bool = False) -> subprocess.CompletedProcess[str]:
    flags = ["-X", "importtime"] if importtime else []
    return subprocess.run([sys.executable, *flags, "-m", "tack", "scan", *args], cwd=repo,
                          env=ENV, capture_output=True, text=True, timeout=120, check=False)


def full(repo: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-c", FULL_CLI, "scan", *args], cwd=repo, env=ENV,
                          capture_output=True, text=True, timeout=120, check=False)


def _without_timing(report: str) -> str:
    return re.sub(r'("elapsed_s": )[0-9.e-]+|, [0-9.]+s(;|\.)', r"\1\2", report)


def _seed(repo: Path) -> None:
    allow = "# tack" + ": allow P001"  # split: Tack's own scan reads this file too
    write(repo, "src/app/also.py", BARE_EXCEPT.replace("except:", f"except:  {allow}"))
    write(repo, "src/app/fine.py", BARE_EXCEPT.replace(
        "except:", f"except:  {allow} because the loop must survive"))
    write(repo, "src/app/nodoc.py", "VALUE = 2\n")
    write(repo, "web/app.js", 'console.log("x")\n')


@pytest.mark.parametrize("args", [
    ("--json",),
    ("--json", "--no-cache", "-j", "1", "--only", "p001", "--no-baseline"),
    ("--no-cache",),  # prose to a pipe
    ("--jobs=2", "--json", "--since", "HEAD"),
])
def test_a_plain_scan_reports_exactly_what_the_cli_reports(prepo: Path, args: tuple[str, ...]
                                                           ) -> None:
    _seed(prepo)
    ours = lean(prepo, *args, importtime=True)
    shutil.rmtree(prepo / ".tack", ignore_errors=True)  # both cold
    theirs = full(prepo, *args)
    assert ours.returncode == theirs.returncode == 1, ours.stderr[-2000:]
    assert _without_timing(ours.stdout) == _without_timing(theirs.stdout)
    assert "P001" in ours.stdout
    imported = {line.rsplit("|", 1)[-1].strip() for line in ours.stderr.splitlines()
                if line.startswith("import time:")}
    assert "tack.scan_lean" in imported
    assert not imported & {"typer", "rich", "click", "pydantic", "structlog", "hashlib",
                           "importlib.metadata", "tack.cli.root", "tack.cli.scan"}


def test_a_broken_principles_file_is_the_same_clear_error(prepo: Path) -> None:
    doc = (prepo / "PRINCIPLES.md").read_text()
    (prepo / "PRINCIPLES.md").write_text(doc.replace("kind: except_clause", "kind: [oops"))
    ours, theirs = lean(prepo, "--json"), full(prepo, "--json")
    assert ours.returncode == theirs.returncode == 2
    assert ours.stderr.startswith("error: ") and "PRINCIPLES.md:" in ours.stderr
    assert ours.stderr == theirs.stderr and "Traceback" not in ours.stderr


def test_what_the_lean_path_does_not_handle_goes_to_the_cli(prepo: Path) -> None:
    assert parse(["--json", "-j2", "--only=P001", "--root", "x"]) == Options(
        as_json=True, jobs=2, only=["P001"], root="x")
    for args in (["--sarif"], ["--help"], ["-j", "0"], ["--jobs", "two"], ["--every", "1m"],
                 ["--workflow", "W.md"], ["--judge"], ["-o", "out.txt"], ["--only"], ["x"]):
        assert parse(args) is None, args
    # The CLI's own answers: its usage error for a bad --jobs, its help.
    bad = lean(prepo, "--json", "-j", "0")
    assert bad.returncode == 2 and "--jobs" in bad.stderr and bad.stdout == ""
    assert "--file-issues" in lean(prepo, "--help").stdout
    # A WORKFLOW.md (its config may move every path) is the CLI's too: it names its
    # principles file, which the lean path would not have read.
    (prepo / "rules").mkdir()
    (prepo / "PRINCIPLES.md").rename(prepo / "rules" / "P.md")
    write(prepo, "WORKFLOW.md", "---\ntracker:\n  kind: local\nprinciples:\n  path: rules/P.md\n"
          "---\nDo the work.\n")
    moved = lean(prepo, "--json", "--no-cache")
    assert moved.returncode == 1, moved.stderr
    assert [f["rule"] for f in json.loads(moved.stdout)["findings"]] == ["P001"]


def _enough_files(repo: Path) -> None:
    for n in range(140):  # enough for workers (PARALLEL_MIN_FILES)
        write(repo, f"src/gen/m{n:03d}.py", BARE_EXCEPT if n % 2 else CLEAN_PY)


# Answers its first chunk with half a reply, then dies.
_DIES_MID_REPLY = (
    "import pickle, sys\n"
    "from tack.principles.workers import FRAME_HEADER, check_chunk\n"
    "stdin, stdout = sys.stdin.buffer, sys.stdout.buffer\n"
    "root, catalog = pickle.load(stdin)\n"
    "reply = pickle.dumps(check_chunk(root, catalog, pickle.load(stdin)))\n"
    "stdout.write(len(reply).to_bytes(FRAME_HEADER, 'little') + reply[:len(reply) // 2])\n"
    "stdout.flush()\n"
    "sys.exit(1)\n"
)
# Answers its first chunk in full, then dies with the second in hand.
_DIES_AFTER_ONE = _DIES_MID_REPLY.replace("reply[:len(reply) // 2]", "reply")


@pytest.mark.parametrize("script", [_DIES_MID_REPLY, _DIES_AFTER_ONE])
def test_a_worker_dying_mid_scan_loses_no_file(prepo: Path, monkeypatch: pytest.MonkeyPatch,
                                              script: str) -> None:
    _enough_files(prepo)
    doc = load_document(prepo / "PRINCIPLES.md")
    one = scan(prepo, doc, jobs=1)
    monkeypatch.setattr(workers, "WORKER_ARGS", ("-c", script))
    two = scan(prepo, doc, jobs=2)
    assert len(one.findings) == 71 and two.findings == one.findings
    assert two.errors == [] and two.files == one.files
