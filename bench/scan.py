"""Benchmark `tack scan`: cold vs warm on a large real code base, with 20 ast-grep rules.

The corpus is the standard library of the running Python (a few thousand real files),
copied into a throw-away git repository. Prints the cold and warm times and their ratio
(baseline and measurement in the same run); if the `ast-grep` CLI is on PATH, also times
`ast-grep scan` on the same rules and compares the findings count.

    .venv/bin/python bench/scan.py [--files N] [--json]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import sysconfig
import tempfile
import time
from pathlib import Path

RULES: list[tuple[str, dict]] = [
    ("bare-except", {"kind": "except_clause", "regex": r"^except\s*:"}),
    ("print-call", {"pattern": "print($$$A)"}),
    ("time-sleep", {"pattern": "time.sleep($$$A)"}),
    ("os-system", {"pattern": "os.system($$$A)"}),
    ("eval-call", {"pattern": "eval($$$A)"}),
    ("exec-call", {"pattern": "exec($$$A)"}),
    ("utcnow", {"pattern": "datetime.utcnow()"}),
    ("mutable-default", {"any": [{"kind": "default_parameter"},
                                 {"kind": "typed_default_parameter"}],
                         "has": {"field": "value", "any": [{"kind": "list"},
                                                           {"kind": "dictionary"}]}}),
    ("except-pass", {"kind": "except_clause", "has": {"kind": "block", "regex": "^pass$"}}),
    ("type-ignore", {"kind": "comment", "regex": r"type:\s*ignore"}),
    ("assert-true", {"pattern": "assert True"}),
    ("global-stmt", {"kind": "global_statement"}),
    ("star-import", {"pattern": "from $M import *"}),
    ("shell-true", {"pattern": "$F($$$A, shell=True, $$$B)"}),
    ("raise-exception", {"pattern": "raise Exception($$$A)"}),
    ("pickle-loads", {"pattern": "pickle.loads($$$A)"}),
    ("open-no-encoding", {"pattern": "open($P)"}),
    ("len-eq-zero", {"pattern": "len($X) == 0"}),
    ("is-literal", {"pattern": "$X is 0"}),
    ("lambda-assign", {"pattern": "$N = lambda $$$A: $B"}),
]


def principles_md() -> str:
    import yaml

    parts = ["# Benchmark principles\n"]
    for n, (name, rule) in enumerate(RULES, 1):
        check = yaml.safe_dump({"ast-grep": {"language": "python", "rule": rule}})
        parts.append(f"## P{n:03d}: {name}\nWhy: benchmark rule.\n\n```yaml check\n{check}```\n")
    return "\n".join(parts)


def make_corpus(dest: Path, limit: int | None) -> int:
    stdlib = Path(sysconfig.get_paths()["stdlib"])
    files = sorted(p for p in stdlib.rglob("*.py") if "site-packages" not in p.parts)
    files = files[:limit] if limit else files
    for path in files:
        target = dest / "lib" / path.relative_to(stdlib)
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(path, target)
    (dest / "PRINCIPLES.md").write_text(principles_md(), "utf-8")
    env = {**os.environ, "GIT_AUTHOR_NAME": "b", "GIT_AUTHOR_EMAIL": "b@b",
           "GIT_COMMITTER_NAME": "b", "GIT_COMMITTER_EMAIL": "b@b"}
    for args in (["init", "-q"], ["add", "-A"], ["commit", "-q", "-m", "corpus"]):
        subprocess.run(["git", *args], cwd=dest, check=True, env=env, capture_output=True)
    return len(files)


def timed_scan(repo: Path, *extra: str) -> tuple[float, dict]:
    started = time.perf_counter()
    proc = subprocess.run([sys.executable, "-m", "tack", "scan", "--json", *extra], cwd=repo,
                          capture_output=True, text=True)
    elapsed = time.perf_counter() - started
    if proc.returncode not in (0, 1):
        raise SystemExit(f"tack scan failed: {proc.stderr}")
    return elapsed, json.loads(proc.stdout)


def ast_grep_cli(repo: Path) -> dict | None:
    binary = shutil.which("ast-grep")
    if binary is None:
        return None
    import yaml

    rules = repo / "sg-rules"
    rules.mkdir()
    for n, (name, rule) in enumerate(RULES, 1):
        (rules / f"{name}.yml").write_text(yaml.safe_dump(
            {"id": f"P{n:03d}", "language": "python", "severity": "warning", "rule": rule}))
    (repo / "sgconfig.yml").write_text("ruleDirs: [sg-rules]\n")
    started = time.perf_counter()
    proc = subprocess.run([binary, "scan", "--json=stream", "lib"], cwd=repo,
                          capture_output=True, text=True)
    elapsed = time.perf_counter() - started
    matches = [line for line in proc.stdout.splitlines() if line.strip()]
    return {"seconds": round(elapsed, 3), "findings": len(matches)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--files", type=int, default=None, help="Limit the corpus size.")
    parser.add_argument("--json", action="store_true", help="Print one JSON object.")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="tack-bench-scan-") as tmp:
        repo = Path(tmp)
        count = make_corpus(repo, args.files)
        cold_s, cold = timed_scan(repo)
        warm_s, warm = timed_scan(repo)
        nocache_s, _ = timed_scan(repo, "--no-cache", "-j", "1")
        result = {
            "files": count,
            "rules": len(RULES),
            "findings": len(cold["findings"]),
            "cold_s": round(cold_s, 3),
            "warm_s": round(warm_s, 3),
            "cold_over_warm": round(cold_s / warm_s, 1),
            "single_process_uncached_s": round(nocache_s, 3),
            "warm_cache_hits": warm["cache"]["hits"],
            "warm_cache_misses": warm["cache"]["misses"],
            "warm_same_findings": warm["findings"] == cold["findings"],
            "ast_grep_cli": ast_grep_cli(repo),
            "semgrep": "not installed" if shutil.which("semgrep") is None else "not measured",
        }
    if args.json:
        print(json.dumps(result))
        return
    for key, value in result.items():
        print(f"{key:28} {value}")


if __name__ == "__main__":
    main()
