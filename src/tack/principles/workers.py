"""Checking files for a scan: one file in this process, or many over worker processes.

Workers are spawned, not forked: a fork copies the whole CLI into each worker (its imports
and the scan cache, counted again in each worker's memory), while a fresh interpreter
imports only the principles. The scanning process works through the same list meanwhile,
so `jobs` processes run in all. Python checks a plug-in registered exist in this process
only, so they run here; workers run the ast-grep rules and Tack's own Python checks.
"""

from __future__ import annotations

import multiprocessing as mp
import os
from collections import deque
from collections.abc import Callable
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
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

# Below this many files, a worker's start (a fresh interpreter, ~0.2 s) costs more than the
# files it would take off this process.
PARALLEL_MIN_FILES = 128
Progress = Callable[[int, int], None]
WorkItem = tuple[str, list[tuple[str, Check]], bool]  # path, (principle id, check), suppressions?
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
    shipped: list[tuple[str, list[int], bool]] = []
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

    def collect(batch: list[Outcome]) -> None:
        nonlocal done_files
        out.extend(batch)
        done_files += len(batch)
        if on_progress:
            on_progress(done_files, total)

    _WORKER.update(root=str(root), catalog=catalog)
    with ProcessPoolExecutor(max_workers=workers, mp_context=mp.get_context("spawn"),
                             initializer=_init_worker, initargs=(str(root), catalog)) as pool:
        running: set[Future[list[Outcome]]] = set()
        while pending or running:
            while pending and len(running) < 2 * workers:
                running.add(pool.submit(_check_chunk, pending.popleft()))
            if pending:
                collect(_check_chunk(pending.pop()))  # this process takes from the other end
            else:
                finished, running = wait(running, return_when=FIRST_COMPLETED)
                for future in finished:
                    collect(future.result())
                continue
            for future in [f for f in running if f.done()]:
                running.discard(future)
                collect(future.result())
    return out


_WORKER: dict[str, Any] = {}


def _init_worker(root: str, catalog: list[tuple[str, Check]]) -> None:
    _WORKER.update(root=root, catalog=catalog)


def _check_chunk(chunk: list[tuple[str, list[int], bool]]) -> list[Outcome]:
    root, catalog = _WORKER["root"], _WORKER["catalog"]
    return [check_file(root, rel, [catalog[i] for i in ids], sups) for rel, ids, sups in chunk]
