"""Checking files for a scan: one file in this process, or many over worker processes.

Workers are fresh interpreters (`python -m tack.principles.worker`), not forks: a fork
copies the whole CLI into each worker (its imports and the scan cache, counted again in each
worker's memory), while a fresh interpreter imports only what checking a file needs. They
are plain subprocesses fed over pipes by one thread each, not a multiprocessing pool, whose
resource tracker is one more interpreter. The scanning process works through the same list
meanwhile, from its other end, so `jobs` processes run in all. Python checks a plug-in registered exist in this process
only, so they run here; workers run the ast-grep rules and Tack's own Python checks.
"""

from __future__ import annotations

import os
import pickle
import subprocess
import sys
import threading
from collections import deque
from collections.abc import Callable
from contextlib import ExitStack
from pathlib import Path
from typing import Any

from tack.principles.document import Check
from tack.principles.findings import suppression_dicts
from tack.principles.rules import (
    SourceFile,
    language_of,
    normalize_language,
    result_key,
    run_ast_grep_many,
    run_python_check,
)

# How a worker is started: `sys.executable` with these arguments.
WORKER_ARGS: tuple[str, ...] = ("-m", "tack.principles.worker")
# Below this many files, a worker's start (a fresh interpreter, ~0.2 s) costs more than the
# files it would take off this process.
PARALLEL_MIN_FILES = 128
Progress = Callable[[int, int], None]
WorkItem = tuple[str, list[tuple[str, Check]], bool]  # path, (principle id, check), suppressions?
Shipped = tuple[str, list[int], bool]  # path, indexes into the catalog of checks, suppressions?
Outcome = tuple[str, dict[str, list[dict[str, Any]]], list[dict[str, Any]] | None, list[str]]


def _decode(data: bytes) -> str:
    return data.decode("utf-8", errors="replace")


def check_file(
    root: str, rel: str, checks: list[tuple[str, Check]], want_suppressions: bool
) -> Outcome:
    """Run `checks` on one file: results by check key, suppressions, errors."""
    text = _decode((Path(root) / rel).read_bytes())
    language = language_of(rel)
    source = SourceFile(rel, text, language)
    results: dict[str, list[dict[str, Any]]] = {}
    errors: list[str] = []
    grep = [(pid, check) for pid, check in checks if check.kind == "ast-grep"]
    if grep:
        from ast_grep_py import SgRoot

        tree = SgRoot(text, normalize_language(grep[0][1].language) or "python").root()
        # Parsed once, and every rule matched in one walk of the tree.
        for (pid, check), found in zip(grep, run_ast_grep_many([c for _, c in grep], tree, text)):
            if isinstance(found, Exception):
                errors.append(f"{rel}: {pid} could not run: {found}")
            else:
                results[result_key(check)] = [v.to_dict() for v in found]
        del tree  # the tree is the largest thing a worker holds; free it before the next file
    for pid, check in checks:
        if check.kind == "ast-grep":
            continue
        try:
            found_py = run_python_check(check, source)
        except Exception as exc:  # one broken rule must not hide the other results
            errors.append(f"{rel}: {pid} could not run: {exc}")
            continue
        results[result_key(check)] = [v.to_dict() for v in found_py]
    sups = suppression_dicts(text) if want_suppressions else None
    return rel, results, sups, errors


def check_files(
    root: Path, work: list[WorkItem], jobs: int | None, on_progress: Progress | None
) -> list[Outcome]:
    """Every item of `work` checked; a file may come back as two outcomes (its plug-in
    checks apart), never none."""
    jobs = jobs or os.cpu_count() or 1
    total = len(work)
    out: list[Outcome] = []
    if jobs <= 1 or total < PARALLEL_MIN_FILES:
        for n, (rel, checks, sups) in enumerate(work, 1):
            out.append(check_file(str(root), rel, checks, sups))
            if on_progress:
                on_progress(n, total)
        return out

    from tack.principles.checks import BUILTIN_CHECKS

    catalog: list[tuple[str, Check]] = []
    index: dict[tuple[str, str], int] = {}
    shipped: list[Shipped] = []
    for rel, checks, sups in work:
        mine = [(pid, c) for pid, c in checks if c.kind == "python" and c.name not in BUILTIN_CHECKS]
        if mine:
            out.append(check_file(str(root), rel, mine, False))
        ids = []
        for pid, c in checks:
            if c.kind == "python" and c.name not in BUILTIN_CHECKS:
                continue
            ids.append(index.setdefault((pid, c.key), len(index)))
            if ids[-1] == len(catalog):
                catalog.append((pid, c))
        shipped.append((rel, ids, sups))

    workers = jobs - 1
    # Chunks of ~1/8 of a process's share: few round trips, and an even finish.
    size = max(8, min(64, total // (jobs * 8) or 1))
    pending = deque(shipped[i:i + size] for i in range(0, total, size))
    done_files = 0
    lock = threading.Lock()

    def collect(batch: list[Outcome]) -> None:
        nonlocal done_files
        with lock:
            out.extend(batch)
            done_files += len(batch)
            if on_progress:
                on_progress(done_files, total)

    def drain() -> None:
        while True:
            with lock:
                chunk = pending.pop() if pending else None  # the workers take from the other end
            if chunk is None:
                return
            collect(check_chunk(str(root), catalog, chunk))

    with ExitStack() as stack:
        feeders = [threading.Thread(target=_feed, daemon=True,
                                    args=(stack.enter_context(_Worker(root, catalog)), pending,
                                          lock, collect))
                   for _ in range(workers)]
        for feeder in feeders:
            feeder.start()
        drain()
        for feeder in feeders:
            feeder.join()
        drain()  # what a worker that died had in hand, given back by its feeder
    assert done_files == total, (done_files, total)
    return out


class _Worker:
    """`python -m tack.principles.worker`: a fresh interpreter importing only the principles,
    fed pickled chunks on stdin (no multiprocessing: its resource tracker is a process of
    its own, and its pool's imports and threads are more than two pipes need)."""

    def __init__(self, root: Path, catalog: list[tuple[str, Check]]) -> None:
        import tack

        # Where this `tack` came from, so the worker imports the same one.
        home = str(Path(next(iter(tack.__path__))).parent)
        env = {**os.environ, "PYTHONPATH": os.pathsep.join(
            [home, *filter(None, [os.environ.get("PYTHONPATH")])])}
        self.proc = subprocess.Popen([sys.executable, *WORKER_ARGS], stdin=subprocess.PIPE,
                                     stdout=subprocess.PIPE, env=env)
        assert self.proc.stdin is not None and self.proc.stdout is not None
        self.stdin, self.stdout = self.proc.stdin, self.proc.stdout
        try:
            pickle.dump((str(root), catalog), self.stdin)
            self.stdin.flush()
        except OSError:
            pass  # it did not start; its feeder finds out and gives its chunks back

    def __enter__(self) -> _Worker:
        return self

    def __exit__(self, kind: type[BaseException] | None, *rest: object) -> None:
        if kind is not None:
            self.proc.kill()  # this scan failed: what the worker has left is not wanted
        try:
            self.stdin.close()  # end of work: the worker exits
        except OSError:
            pass  # it is gone already
        self.proc.wait()
        self.stdout.close()


def _feed(worker: _Worker, pending: deque[list[Shipped]], lock: threading.Lock,
          collect: Callable[[list[Outcome]], None]) -> None:
    """Keep `worker` two chunks ahead (it never waits for this thread) until none are left.
    If the worker dies (its error is on stderr), the chunks it had go back to `pending`, for
    the scanning process to check."""
    in_flight: deque[list[Shipped]] = deque()
    try:
        while True:
            while len(in_flight) < 2:
                with lock:
                    chunk = pending.popleft() if pending else None
                if chunk is None:
                    break
                in_flight.append(chunk)
                pickle.dump(chunk, worker.stdin)
                worker.stdin.flush()
            if not in_flight:
                return
            collect(pickle.load(worker.stdout))
            in_flight.popleft()
    except (OSError, ValueError, EOFError, pickle.UnpicklingError):
        with lock:
            pending.extend(in_flight)


def check_chunk(root: str, catalog: list[tuple[str, Check]], chunk: list[Shipped]) -> list[Outcome]:
    return [check_file(root, rel, [catalog[i] for i in ids], sups) for rel, ids, sups in chunk]
