"""Checking files for a scan: one file in this process, or many over worker processes.

Workers are fresh interpreters (`python -m tack.principles.worker`), not forks: a fork
copies the whole CLI into each worker (its imports and the scan cache, counted again in each
worker's memory), while a fresh interpreter imports only what checking a file needs. They
are plain subprocesses fed pickled chunks over pipes, not a multiprocessing pool, whose
resource tracker is one more interpreter. The scanning process works through the same list
meanwhile, from its other end, in its one thread (between two of its own files it reads the
workers' finished replies and sends them more), so `jobs` processes run in all. The largest
files come first, so the workers parse them while this process, which also holds every
result, parses small ones. Python checks a plug-in registered exist in this process only, so
they run here; workers run the ast-grep rules and Tack's own Python checks."""

from __future__ import annotations

import os
import pickle
import select
import sys
from collections import deque
from collections.abc import Callable
from contextlib import ExitStack
from pathlib import Path
from typing import Any

from tack.principles.document import Check
from tack.principles.findings import suppression_dicts
from tack.principles.heap import CHUNK_FREE_BYTES, give_back
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
# A file this long has a parse tree of megabytes (~13 MB for a 750 kB one); once it is freed,
# its memory goes back to the system at once, not at the end of the chunk.
BIG_FILE_CHARS = 200_000
Progress = Callable[[int, int], None]
WorkItem = tuple[str, list[tuple[str, Check]], bool]  # path, (principle id, check), suppressions?
Shipped = tuple[str, list[int], bool]  # path, indexes into the catalog of checks, suppressions?
Outcome = tuple[str, dict[str, list[dict[str, Any]]], list[dict[str, Any]] | None, list[str]]
# A worker's reply to a chunk: its pickled outcomes, after their length in this many bytes.
FRAME_HEADER = 8


# Most checks find nothing in most files: one shared empty result (never mutated; the cache
# only reads and serialises results) instead of ~20 new lists per file in the cache.
_NONE: list[dict[str, Any]] = []


def _decode(data: bytes) -> str:
    return data.decode("utf-8", errors="replace")


def check_file(
    root: str, rel: str, checks: list[tuple[str, Check]], want_suppressions: bool
) -> Outcome:
    """Run `checks` on one file: results by check key, suppressions, errors."""
    with open(os.path.join(root, rel), "rb") as file:
        text = _decode(file.read())
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
                results[result_key(check)] = [v.to_dict() for v in found] if found else _NONE
        del tree  # the tree is the largest thing a worker holds; free it before the next file
        if len(text) >= BIG_FILE_CHARS:
            give_back()
    for pid, check in checks:
        if check.kind == "ast-grep":
            continue
        try:
            found_py = run_python_check(check, source)
        except Exception as exc:  # one broken rule must not hide the other results
            errors.append(f"{rel}: {pid} could not run: {exc}")
            continue
        results[result_key(check)] = [v.to_dict() for v in found_py] if found_py else _NONE
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
    # Largest first: the workers take from the front, this process from the back, so the
    # largest files' trees (a 750 kB file's is ~13 MB) are built in a worker while this
    # process, which holds the results too, parses small ones.
    shipped.sort(key=lambda item: -_size(root, item[0]))

    # Chunks of ~1/8 of a process's share: few round trips, and an even finish.
    size = max(8, min(64, total // (jobs * 8) or 1))
    pending = deque(shipped[i:i + size] for i in range(0, total, size))
    done = 0

    def collect(batch: list[Outcome]) -> None:
        nonlocal done
        out.extend(batch)
        done += len(batch)
        if on_progress:
            on_progress(done, total)

    with ExitStack() as stack:
        workers = [stack.enter_context(_Worker(root, catalog)) for _ in range(jobs - 1)]
        for worker in workers:
            worker.top_up(pending)
        local: list[Shipped] = []
        # One thread: between two of its own files, this process answers the workers that
        # have a result ready (threads would each get a malloc arena, megabytes apiece).
        while True:
            busy = [w for w in workers if w.in_flight]
            if busy:
                ready, _, _ = select.select(busy, [], [], 0 if (local or pending) else None)
                for worker in ready:
                    collect(worker.receive(pending))
                    worker.top_up(pending)
            if not local and pending:
                local = list(reversed(pending.pop()))  # from the back; workers take the front
            if local:
                rel, ids, sups = local.pop()
                collect([check_file(str(root), rel, [catalog[i] for i in ids], sups)])
                if not local:
                    give_back(CHUNK_FREE_BYTES)
            elif not busy:
                break
    assert done == total, (done, total)
    return out


def _size(root: Path, rel: str) -> int:
    try:
        return os.stat(root / rel).st_size
    except OSError:
        return 0  # check_file reports it


class _Worker:
    """`python -m tack.principles.worker`: a fresh interpreter importing only the principles,
    fed pickled chunks on stdin (no multiprocessing: its resource tracker is a process of
    its own, and its pool's imports and threads are more than two pipes need). Kept two
    chunks ahead, so it never waits for this process. If it dies (its error is on stderr),
    the chunks it had go back to `pending`, for the scanning process to check."""

    def __init__(self, root: Path, catalog: list[tuple[str, Check]]) -> None:
        import subprocess  # here: a worker never starts one, and it is ~2 MB of imports

        import tack

        # Where this `tack` came from, so the worker imports the same one.
        home = str(Path(next(iter(tack.__path__))).parent)
        env = {**os.environ, "PYTHONPATH": os.pathsep.join(
            [home, *filter(None, [os.environ.get("PYTHONPATH")])])}
        self.proc = subprocess.Popen([sys.executable, *WORKER_ARGS], stdin=subprocess.PIPE,
                                     stdout=subprocess.PIPE, env=env)
        assert self.proc.stdin is not None and self.proc.stdout is not None
        self.stdin, self.stdout = self.proc.stdin, self.proc.stdout
        self.in_flight: deque[list[Shipped]] = deque()
        # Its replies, read straight from the pipe: a buffered reader could hold a whole
        # reply `select` would not see.
        self.buffer = bytearray()
        self.alive = self._send((str(root), catalog))

    def fileno(self) -> int:  # for select
        return self.stdout.fileno()

    def _send(self, item: object) -> bool:
        try:
            pickle.dump(item, self.stdin)
            self.stdin.flush()
        except OSError:
            return False  # it is gone; `receive` finds out and gives its chunks back
        return True

    def top_up(self, pending: deque[list[Shipped]]) -> None:
        while self.alive and len(self.in_flight) < 2 and pending:
            chunk = pending.popleft()
            self.in_flight.append(chunk)
            self.alive = self._send(chunk)

    def receive(self, pending: deque[list[Shipped]]) -> list[Outcome]:
        """The outcomes of the chunks it has finished, read from its pipe without blocking
        once `select` found it readable; none if it died (its chunks handed back)."""
        try:
            data = os.read(self.fileno(), 1 << 20)
        except OSError:
            data = b""
        if not data:
            self.alive = False
            pending.extend(self.in_flight)
            self.in_flight.clear()
            return []
        self.buffer += data
        out: list[Outcome] = []
        while len(self.buffer) >= FRAME_HEADER:
            end = FRAME_HEADER + int.from_bytes(self.buffer[:FRAME_HEADER], "little")
            if len(self.buffer) < end:
                break
            out.extend(pickle.loads(self.buffer[FRAME_HEADER:end]))
            del self.buffer[:end]
            self.in_flight.popleft()
        return out

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


def check_chunk(root: str, catalog: list[tuple[str, Check]], chunk: list[Shipped]) -> list[Outcome]:
    out = [check_file(root, rel, [catalog[i] for i in ids], sups) for rel, ids, sups in chunk]
    give_back(CHUNK_FREE_BYTES)
    return out
