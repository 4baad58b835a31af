"""`tack scan`: run every principle's check over the repository (or what changed since a ref).

Work is per file: parse once per language, run every check that applies. Results are cached
by (check key, content hash), so only new or changed files and new or edited rules cost
anything; cold scans of many files fan out over worker processes (`workers`).
"""

from __future__ import annotations

import subprocess
import time
from collections.abc import Collection
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tack.principles.cache import ScanCache
from tack.principles.document import Check, Principle, PrinciplesDoc, PrinciplesError
from tack.principles.findings import (
    Finding,
    Suppression,
    apply_suppressions,
    with_fingerprints,
)
from tack.principles.rules import (
    Violation,
    applies,
    ast_grep_problem,
    language_of,
    resolve_python_check,
    result_key,
)
from tack.principles.workers import Progress, check_files

SUPPRESSIONS_KEY = "suppressions:v1"
MAX_FILE_BYTES = 2_000_000


@dataclass
class ScanResult:
    findings: list[Finding]
    suppressed: list[Finding] = field(default_factory=list)
    baselined: list[Finding] = field(default_factory=list)
    files: list[str] = field(default_factory=list)
    rules: list[str] = field(default_factory=list)
    skipped_rules: dict[str, str] = field(default_factory=dict)  # id -> why not run/complete
    errors: list[str] = field(default_factory=list)
    cache_hits: int = 0
    cache_misses: int = 0
    elapsed_s: float = 0.0
    judge: dict[str, Any] | None = None
    since: str | None = None

    @property
    def current(self) -> list[Finding]:
        """Everything present now and not suppressed inline (what a baseline records)."""
        return self.findings + self.baselined


def _git(root: Path, *args: str) -> str:
    proc = subprocess.run(["git", *args], cwd=root, capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        raise PrinciplesError(
            f"`git {' '.join(args)}` failed in {root}: {proc.stderr.strip()}. "
            "Run `tack scan` inside a git repository, and pass a ref that exists to --since "
            "(e.g. `git fetch origin` first for origin/main)."
        )
    return proc.stdout


def list_files(root: Path, since: str | None = None, skip: Collection[str] = ()) -> list[str]:
    """Tracked and untracked-but-not-ignored files, or those changed since `since`; never
    those in `skip` (repository-relative, posix)."""
    others = _git(root, "ls-files", "-z", "--others", "--exclude-standard").split("\0")
    if since is None:
        names = _git(root, "ls-files", "-z", "--cached").split("\0") + others
    else:
        _git(root, "rev-parse", "--verify", "--quiet", f"{since}^{{commit}}")
        changed = _git(root, "diff", "--name-only", "-z", "--no-renames", since, "--")
        names = changed.split("\0") + others
    out = []
    # `.tack/` holds Tack's own state (this scan's cache among it), never code.
    for name in sorted({n for n in names if n and not n.startswith(".tack/") and n not in skip}):
        full = root / name
        if full.is_file() and not full.is_symlink() and full.stat().st_size <= MAX_FILE_BYTES:
            out.append(name)
    return out


def _validate_checks(doc: PrinciplesDoc, principles: list[Principle]) -> None:
    for p in principles:
        check = p.check
        if check is None:
            continue
        where = f"{doc.path}:{check.line}: {p.id}"
        if check.kind == "python":
            try:
                resolve_python_check(check.name or "")
            except PrinciplesError as exc:
                raise PrinciplesError(f"{where}: {exc}") from None
        elif check.kind == "ast-grep":
            problem = ast_grep_problem(check)
            if problem:
                raise PrinciplesError(
                    f"{where}: the ast-grep rule cannot run: {problem}. Fix the rule "
                    "(https://ast-grep.github.io/reference/rule.html), then check it with "
                    "`tack principles lint`.")


def scan(
    root: Path,
    doc: PrinciplesDoc,
    *,
    since: str | None = None,
    cache: ScanCache | None = None,
    baseline: set[str] | None = None,
    judge: Any = None,
    jobs: int | None = None,
    only: list[str] | None = None,
    on_progress: Progress | None = None,
    skip: Collection[str] = (),
) -> ScanResult:
    """Scan `root` against `doc`. `judge` (a `tack.principles.judge.Judge`) enables the
    model-judged principles; without it they are listed in `skipped_rules`. Files in `skip`
    (repository-relative) are not scanned: the baseline quotes every finding's snippet, a
    reasonless suppression's among them, and would report it again as its own."""
    started = time.perf_counter()
    root = root.resolve()
    cache = cache or ScanCache(None)
    wanted = {x.upper() for x in only} if only else None
    principles = [p for p in doc.principles
                  if p.check is not None and (wanted is None or p.id in wanted)]
    _validate_checks(doc, principles)
    judged = [p for p in principles if p.check and p.check.kind == "model"]
    result = ScanResult(findings=[], since=since, rules=[p.id for p in principles])
    files = list_files(root, since, skip)
    result.files = files

    digests: dict[str, str] = {}
    applicable: dict[str, list[Principle]] = {}
    work: list[tuple[str, list[tuple[str, Check]], bool]] = []
    for rel in files:
        try:
            digest, _ = cache.file_hash(root, rel)
        except OSError as exc:
            result.errors.append(f"{rel}: cannot be read ({exc})")
            continue
        digests[rel] = digest
        applicable[rel] = [p for p in principles if p.check and applies(p.check, rel)]
        need = [(p.id, p.check) for p in applicable[rel] if p.check and p.check.kind != "model"
                and cache.get(digest, result_key(p.check)) is None]
        want_sups = language_of(rel) is not None and cache.get(digest, SUPPRESSIONS_KEY) is None
        if need or want_sups:
            work.append((rel, need, want_sups))

    for rel, results, sups, errors in check_files(root, work, jobs, on_progress):
        result.errors.extend(errors)
        for key, found in results.items():
            cache.put(digests[rel], key, found)
        if sups is not None:
            cache.put(digests[rel], SUPPRESSIONS_KEY, sups)

    if judged and judge is None:
        for p in judged:
            result.skipped_rules[p.id] = "model-judged; run with --judge to ask the model"
    elif judged:
        report = judge.judge_files(root, judged, digests, cache)
        result.judge = report.to_dict()
        result.errors.extend(report.errors)
        for pid in report.incomplete:
            result.skipped_rules[pid] = report.stop_reason or "not every file was judged"

    raw: list[Finding] = []
    sups_by_file: dict[str, list[Suppression]] = {}
    for rel, digest in digests.items():
        for p in applicable[rel]:
            assert p.check is not None
            cached = cache.results.get(digest, {}).get(result_key(p.check))
            for item in cached or []:
                raw.append(_finding(p, rel, Violation(**item)))
        stored = cache.results.get(digest, {}).get(SUPPRESSIONS_KEY) or []
        sups_by_file[rel] = [Suppression(**{**s, "ids": tuple(s["ids"])}) for s in stored]

    by_file: dict[str, list[Finding]] = {}
    for f in raw:
        by_file.setdefault(f.path, []).append(f)
    kept: list[Finding] = []
    for rel in digests:
        k, s = apply_suppressions(by_file.get(rel, []), sups_by_file.get(rel, []), rel)
        kept.extend(k)
        result.suppressed.extend(s)
    known = baseline or set()
    for f in with_fingerprints(kept):
        (result.baselined if f.fingerprint in known else result.findings).append(f)
    result.cache_hits, result.cache_misses = cache.hits, cache.misses
    cache.save(set(files) if since is None else None)
    result.elapsed_s = time.perf_counter() - started
    return result


def _finding(p: Principle, rel: str, v: Violation) -> Finding:
    check = p.check
    message = v.message or (check.message if check else None) or p.title
    return Finding(
        rule=p.id, path=rel, line=v.line, column=v.column, end_line=v.end_line or v.line,
        end_column=v.end_column or v.column, message=message, snippet=v.snippet or "",
        severity=p.severity, kind=check.kind if check else "manual", title=p.title,
        runbook=p.runbook,
    )
