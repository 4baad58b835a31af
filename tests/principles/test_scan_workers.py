"""The scan's worker processes (`python -m tack.principles.worker`) and what a scan imports:
a worker checks the pickled chunks it is fed until its stdin ends, importing only what
checking a file needs; the files a worker that died had are checked by the scanning process;
a scan without a WORKFLOW.md never imports pydantic's config."""

from __future__ import annotations

import io
import os
import pickle
import subprocess
import sys
from pathlib import Path

import pytest

from tack.principles import workers
from tack.principles.document import load_document
from tack.principles.scanner import scan
from tests.principles.conftest import BARE_EXCEPT, CLEAN_PY, write

SRC = str(Path(__file__).resolve().parents[2] / "src")
ENV = {**os.environ, "PYTHONPATH": SRC}


def test_a_worker_checks_each_chunk_it_is_fed_and_imports_little(prepo: Path) -> None:
    catalog = [(p.id, p.check) for p in load_document(prepo / "PRINCIPLES.md").principles
               if p.check is not None and p.id in ("P001", "P002")]
    write(prepo, "src/app/nodoc.py", "VALUE = 1\n")
    write(prepo, "src/app/clean2.py", CLEAN_PY)
    chunks = [[("src/app/risky.py", [0, 1], True), ("src/app/nodoc.py", [1], False)],
              [("src/app/clean2.py", [0, 1], True)]]
    feed = b"".join(pickle.dumps(x) for x in [(str(prepo), catalog), *chunks])
    # -X importtime lists every module the worker imported, on stderr.
    proc = subprocess.run([sys.executable, "-X", "importtime", "-m", "tack.principles.worker"],
                          input=feed, capture_output=True, env=ENV, timeout=120, check=False)
    assert proc.returncode == 0, proc.stderr.decode()[-2000:]

    replies = []
    with io.BytesIO(proc.stdout) as out:  # each reply: its length, then the pickle
        while out.tell() < len(proc.stdout):
            size = int.from_bytes(out.read(workers.FRAME_HEADER), "little")
            replies.append(pickle.loads(out.read(size)))
    assert [[rel for rel, *_ in batch] for batch in replies] == [
        ["src/app/risky.py", "src/app/nodoc.py"], ["src/app/clean2.py"]]
    (risky, risky_results, risky_sups, errors), (_, nodoc_results, nodoc_sups, _) = replies[0]
    assert errors == [] and risky_sups == [] and nodoc_sups is None
    assert [v["line"] for found in risky_results.values() for v in found] == [6]
    assert [v["line"] for found in nodoc_results.values() for v in found] == [1]
    assert [v for found in replies[1][0][1].values() for v in found] == []

    imported = {line.rsplit("|", 1)[-1].strip() for line in proc.stderr.decode().splitlines()
                if line.startswith("import time:")}
    assert "ast_grep_py" in imported
    assert not imported & {"multiprocessing", "concurrent.futures", "pydantic", "yaml",
                           "importlib.metadata", "typer", "orjson", "tack.principles.scanner",
                           "subprocess", "hashlib", "threading"}


def test_a_project_without_a_workflow_does_not_import_pydantic(prepo: Path) -> None:
    probe = ("import sys\n"
             "from tack.principles.project import open_project\n"
             "p = open_project()\n"
             "print(p.principles_path.name, p.baseline_path.name, 'pydantic' in sys.modules)\n"
             "print(p.config.principles.path, 'pydantic' in sys.modules)\n")
    proc = subprocess.run([sys.executable, "-c", probe], cwd=prepo, capture_output=True,
                          text=True, env=ENV, timeout=60, check=False)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.splitlines() == ["PRINCIPLES.md principles-baseline.json False",
                                        "PRINCIPLES.md True"]


def test_files_a_dead_worker_had_are_checked_by_the_scanning_process(
        prepo: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    for n in range(140):  # enough for workers (PARALLEL_MIN_FILES)
        write(prepo, f"src/gen/m{n:03d}.py", BARE_EXCEPT if n % 2 else CLEAN_PY)
    doc = load_document(prepo / "PRINCIPLES.md")
    one = scan(prepo, doc, jobs=1)
    # A worker that exits at once, before reading anything: every chunk it was sent is lost.
    monkeypatch.setattr(workers, "WORKER_ARGS", ("-c", "import sys; sys.exit(3)"))
    two = scan(prepo, doc, jobs=2)
    assert len(one.findings) == 71 and two.findings == one.findings
    assert two.errors == [] and two.files == one.files
