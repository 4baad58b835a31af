"""Benchmark the context sidecar's index on a corpus of over a million lines.

Corpus: the running Python's standard library plus the PyPI sdists `bench/feedback.py` uses,
copied into a throw-away git repository that the sidecar mirrors like any org repository.
Measured: cold index time, re-index after a 10-file commit, query p50/p99 for Tack's BM25
search against ripgrep (`rg`, Debian's package) on the same files and queries, `map` build
time and the index size. Goals: query p99 <= 50 ms and >= 10x faster than rg; re-index <= 2 s.

    .venv/bin/python bench/context.py [--repeat N] [--json]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import sysconfig
import tempfile
import time
from pathlib import Path

from tack.context.index import ContextIndex
from tack.context.manifest import load_manifest
from tack.context.repomap import repo_map
from tack.context.sync import sync

QUERIES = [
    "urlopen", "SSLContext", "ThreadPoolExecutor", "JSONDecodeError", "getaddrinfo",
    "defaultdict", "contextmanager", "NamedTemporaryFile", "parse_args", "isoformat",
    "socket timeout", "decode utf-8", "raise ValueError", "lru_cache", "subprocess Popen",
    "zipfile ZipFile", "http cookies", "xml etree", "asyncio gather", "email message",
    "re compile", "struct unpack", "locale setlocale", "pickle dumps", "hashlib sha256",
    "sqlite3 connect", "tarfile open", "unittest mock patch", "dataclass field", "inflection",
]
IGNORE = shutil.ignore_patterns("__pycache__", "*.pyc", "site-packages", "*.so", "*.a")
GIT_ENV = {"GIT_AUTHOR_NAME": "bench", "GIT_AUTHOR_EMAIL": "bench@tack.invalid",
           "GIT_COMMITTER_NAME": "bench", "GIT_COMMITTER_EMAIL": "bench@tack.invalid"}


def git(cwd: Path, *args: str) -> None:
    subprocess.run(["git", *args], cwd=cwd, check=True, capture_output=True,
                   env={**os.environ, **GIT_ENV})


def build_corpus(root: Path) -> tuple[Path, int, int]:
    repo = root / "corpus"
    shutil.copytree(sysconfig.get_paths()["stdlib"], repo / "cpython-lib", ignore=IGNORE,
                    symlinks=True)
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
    from bench.feedback import PROJECTS, fetch

    for project in PROJECTS:
        try:
            shutil.copytree(fetch(project), repo / "sdists" / project.dirname, ignore=IGNORE)
        except (subprocess.CalledProcessError, OSError) as exc:
            print(f"skipping sdist {project.dirname}: {exc}", file=sys.stderr)
    git(repo, "init", "-q", "-b", "main")
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", "corpus")
    files = lines = 0
    for path in repo.rglob("*"):
        if path.is_file() and ".git" not in path.parts:
            files += 1
            with path.open("rb") as fh:
                lines += sum(1 for _ in fh)
    return repo, files, lines


def percentile(samples: list[float], pct: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, round(pct / 100 * (len(ordered) - 1)))]


def time_rg(corpus: Path, query: str) -> float:
    args = ["rg", "-n", "-i", "-F"]
    for word in query.split():
        args += ["-e", word]
    started = time.perf_counter()
    subprocess.run([*args, str(corpus)], stdout=subprocess.DEVNULL, check=False)
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--repeat", type=int, default=5, help="runs of each query")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    rg = shutil.which("rg")
    with tempfile.TemporaryDirectory(prefix="tack-context-bench-") as tmp:
        root = Path(tmp)
        corpus, files, lines = build_corpus(root)
        manifest_path = root / "context.yaml"
        manifest_path.write_text(f"repos:\n  - name: corpus\n    path: {corpus}\n"
                                 "    owner: bench\n    purpose: Benchmark corpus.\n")
        manifest = load_manifest(manifest_path)
        home = root / "home"
        index = ContextIndex(home)
        started = time.perf_counter()
        report = sync(home, manifest, index)
        cold_s = time.perf_counter() - started
        assert not report.errors, report.errors
        tack_samples: list[float] = []
        slowest: list[tuple[float, int, str]] = []
        hits = 0
        for run in range(args.repeat):
            for query in QUERIES:
                t0 = time.perf_counter()
                hits += bool(index.search(query, limit=20))
                tack_samples.append(time.perf_counter() - t0)
                slowest = sorted([*slowest, (tack_samples[-1], run, query)], reverse=True)[:5]
        rg_samples = [time_rg(corpus, q) for _ in range(max(1, args.repeat // 2))
                      for q in QUERIES] if rg else []
        changed = sorted(p for p in (corpus / "cpython-lib").glob("*.py"))[:10]
        for n, path in enumerate(changed):
            path.write_text(path.read_text() + f"\n\ndef bench_marker_{n}():\n    pass\n")
        git(corpus, "commit", "-qam", "ten files")
        started = time.perf_counter()
        again = sync(home, manifest, index)
        reindex_s = time.perf_counter() - started
        assert again.indexed["corpus"].added == 10, again.indexed
        assert index.search("bench_marker_3"), "the re-indexed commit is not searchable"
        started = time.perf_counter()
        rendered = repo_map(index, "corpus", 2048)
        map_s = time.perf_counter() - started
        size = index.size_bytes()
        index.close()
    result = {
        "corpus": {"files": files, "lines": lines},
        "cold_index_s": round(cold_s, 2),
        "reindex_10_files_s": round(reindex_s, 3),
        "query_ms": {"tack_p50": round(percentile(tack_samples, 50) * 1000, 2),
                     "tack_p99": round(percentile(tack_samples, 99) * 1000, 2),
                     "rg_p50": round(percentile(rg_samples, 50) * 1000, 1) if rg_samples else None,
                     "rg_p99": round(percentile(rg_samples, 99) * 1000, 1) if rg_samples else None},
        "queries_with_hits": f"{hits}/{len(tack_samples)}",
        "slowest_queries": [{"ms": round(s * 1000, 1), "run": r, "query": q}
                            for s, r, q in slowest],
        "map_build_s": round(map_s, 2), "map_chars": len(rendered),
        "index_bytes": size,
    }
    if rg_samples:
        result["speedup_p50_vs_rg"] = round(statistics.median(rg_samples)
                                            / statistics.median(tack_samples), 1)
    if args.json:
        print(json.dumps(result, indent=2))
        return
    q = result["query_ms"]
    print(f"corpus: {files} files, {lines:,} lines")
    print(f"cold index: {result['cold_index_s']} s; index size {size / 1e6:.1f} MB")
    print(f"re-index after a 10-file commit: {result['reindex_10_files_s']} s (goal <= 2 s)")
    print(f"query p50/p99: tack {q['tack_p50']}/{q['tack_p99']} ms (goal p99 <= 50 ms); "
          f"rg {q['rg_p50']}/{q['rg_p99']} ms"
          + (f"; {result['speedup_p50_vs_rg']}x faster at p50" if rg_samples else
             " (rg not installed: apt-get install ripgrep)"))
    print(f"map build: {result['map_build_s']} s")


if __name__ == "__main__":
    main()
