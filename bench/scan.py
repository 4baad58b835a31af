"""Benchmark `tack scan` (20 ast-grep rules, cold and warm) against `ast-grep scan` and semgrep.

The corpus is the running Python's standard library, copied into a throw-away git repository;
all three tools run the same 20 rules on it in the same run, and their findings are compared
per rule as sets of file:line. Install the two CLIs first (a throw-away venv, gitignored):

    python3 -m venv bench/.cache/tools
    bench/.cache/tools/bin/pip install 'ast-grep-cli==0.51.0' semgrep
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

# (name, ast-grep rule, semgrep rule body). Semgrep has no node-kind rules, so kind/regex
# rules become `pattern-regex` on the source text (which also sees strings and comments).
RULES: list[tuple[str, dict, dict]] = [
    ("bare-except", {"kind": "except_clause", "regex": r"^except\s*:"},
     {"pattern-regex": r"(?m)^[ \t]*except[ \t]*:"}),
    ("print-call", {"pattern": "print($$$A)"}, {"pattern": "print(...)"}),
    ("time-sleep", {"pattern": "time.sleep($$$A)"}, {"pattern": "time.sleep(...)"}),
    ("os-system", {"pattern": "os.system($$$A)"}, {"pattern": "os.system(...)"}),
    ("eval-call", {"pattern": "eval($$$A)"}, {"pattern": "eval(...)"}),
    ("exec-call", {"pattern": "exec($$$A)"}, {"pattern": "exec(...)"}),
    ("utcnow", {"pattern": "datetime.utcnow()"}, {"pattern": "datetime.utcnow()"}),
    ("mutable-default", {"any": [{"kind": "default_parameter"},
                                 {"kind": "typed_default_parameter"}],
                         "has": {"field": "value", "any": [{"kind": "list"},
                                                           {"kind": "dictionary"}]}},
     {"patterns": [
         {"pattern-either": [{"pattern": "def $F(..., $A=$D, ...): ..."},
                             {"pattern": "def $F(..., $A: $T=$D, ...): ..."}]},
         {"metavariable-pattern": {"metavariable": "$D", "pattern-either": [
             {"pattern": "[...]"}, {"pattern": "{...}"}]}},
         {"focus-metavariable": "$D"}]}),
    ("except-pass", {"kind": "except_clause", "has": {"kind": "block", "regex": "^pass$"}},
     {"pattern-regex": r"(?m)^[ \t]*except\b[^\n]*:[ \t]*(?:\n[ \t]*)?pass[ \t]*$"}),
    ("type-ignore", {"kind": "comment", "regex": r"type:\s*ignore"},
     {"pattern-regex": r"#[^\n]*type:\s*ignore"}),
    ("assert-true", {"pattern": "assert True"}, {"pattern": "assert True"}),
    ("global-stmt", {"kind": "global_statement"}, {"pattern": "global $X"}),
    ("star-import", {"pattern": "from $M import *"}, {"pattern": "from $M import *"}),
    ("shell-true", {"pattern": "$F($$$A, shell=True, $$$B)"},
     {"pattern": "$F(..., shell=True, ...)"}),
    ("raise-exception", {"pattern": "raise Exception($$$A)"},
     {"pattern": "raise Exception(...)"}),
    ("pickle-loads", {"pattern": "pickle.loads($$$A)"}, {"pattern": "pickle.loads(...)"}),
    ("open-no-encoding", {"pattern": "open($P)"}, {"pattern": "open($P)"}),
    ("len-eq-zero", {"pattern": "len($X) == 0"}, {"pattern": "len($X) == 0"}),
    ("is-literal", {"pattern": "$X is 0"}, {"pattern": "$X is 0"}),
    ("lambda-assign", {"pattern": "$N = lambda $$$A: $B"},
     {"pattern": "$N = lambda $...A: $B"}),
]


def principles_md() -> str:
    import yaml

    parts = ["# Benchmark principles\n"]
    for n, (name, rule, _) in enumerate(RULES, 1):
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


CACHE_BIN = Path(__file__).resolve().parent / ".cache" / "tools" / "bin"
Locations = dict[str, set[tuple[str, int]]]  # rule id -> {(path, line)}


def tool(name: str) -> str | None:
    local = CACHE_BIN / name
    return str(local) if local.exists() else shutil.which(name)


PEAK_RSS: dict[str, int] = {}  # label -> peak RSS in bytes of the command's process tree
CPU_S: dict[str, float] = {}  # label -> user+system CPU seconds of the command and its children
PEAK_PSS: dict[str, int] = {}  # the same with shared pages split between sharers (PSS)


def timed(args: list[str], repo: Path, env: dict[str, str] | None = None, *,
          label: str | None = None) -> tuple[float, subprocess.CompletedProcess[str]]:
    """Run a command; its wall time, and (with `label`) the peak of the summed RSS of its
    process tree, sampled every 20 ms (a worker pool counts whole, so this is an upper bound
    for forked workers, which share pages with their parent)."""
    import psutil

    import resource

    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    with tempfile.TemporaryFile("w+") as out, tempfile.TemporaryFile("w+") as err:
        popen = subprocess.Popen(args, cwd=repo, stdout=out, stderr=err, text=True,
                                 env={**os.environ, **(env or {})})
        peak = peak_pss = 0
        proc = psutil.Process(popen.pid)
        while popen.poll() is None:
            try:
                tree = [proc, *proc.children(recursive=True)]
                peak = max(peak, sum(p.memory_info().rss for p in tree))
                peak_pss = max(peak_pss, sum(p.memory_full_info().pss for p in tree))
            except psutil.Error:
                pass  # a process ended between listing and sampling
            time.sleep(0.02)
        elapsed = time.perf_counter() - started
        out.seek(0)
        err.seek(0)
        done = subprocess.CompletedProcess(args, popen.returncode, out.read(), err.read())
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if label:
        PEAK_RSS[label], PEAK_PSS[label] = peak, peak_pss
        # Less sensitive than wall time to other jobs on a shared machine.
        CPU_S[label] = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return elapsed, done


def timed_scan(repo: Path, *extra: str, label: str | None = None) -> tuple[float, dict]:
    elapsed, proc = timed([sys.executable, "-m", "tack", "scan", "--json", *extra], repo,
                          label=label)
    if proc.returncode not in (0, 1):
        raise SystemExit(f"tack scan failed: {proc.stderr}")
    return elapsed, json.loads(proc.stdout)


def tack_locations(data: dict) -> Locations:
    out: Locations = {}
    for f in data["findings"]:
        out.setdefault(f["rule"], set()).add((f["path"], f["line"]))
    return out


def ast_grep_cli(repo: Path, rules_dir: Path) -> tuple[float, Locations] | str:
    binary = tool("ast-grep")
    if binary is None:
        return "not installed"
    import yaml

    rules_dir.mkdir(parents=True)
    for n, (_, rule, _) in enumerate(RULES, 1):
        (rules_dir / f"P{n:03d}.yml").write_text(yaml.safe_dump(
            {"id": f"P{n:03d}", "language": "python", "severity": "warning", "rule": rule}))
    config = rules_dir.parent / "sgconfig.yml"
    config.write_text(f"ruleDirs: [{rules_dir}]\n")
    elapsed, proc = timed([binary, "scan", "-c", str(config), "--json=stream", "lib"], repo,
                          label="ast_grep")
    if proc.returncode not in (0, 1):
        return f"failed: {proc.stderr.strip()[:300]}"
    out: Locations = {}
    for line in proc.stdout.splitlines():
        if line.strip():
            m = json.loads(line)
            out.setdefault(m["ruleId"], set()).add((m["file"], m["range"]["start"]["line"] + 1))
    return elapsed, out


def semgrep(repo: Path, rules_file: Path) -> tuple[float, Locations, int] | str:
    binary = tool("semgrep")
    if binary is None:
        return "not installed"
    import yaml

    rules = [{"id": f"P{n:03d}", "languages": ["python"], "severity": "WARNING",
              "message": name, **body} for n, (name, _, body) in enumerate(RULES, 1)]
    rules_file.write_text(yaml.safe_dump({"rules": rules}, sort_keys=False))
    # An empty .semgrepignore replaces semgrep's default one, which skips tests/ directories.
    (repo / ".semgrepignore").write_text("")
    env = {"SEMGREP_ENABLE_VERSION_CHECK": "0", "SEMGREP_SEND_METRICS": "off"}
    elapsed, proc = timed([binary, "scan", "--config", str(rules_file), "--metrics=off",
                           "--disable-version-check", "--json", "--quiet", "--timeout", "0",
                           "--max-target-bytes", "0", "lib"], repo, env)
    try:
        data = json.loads(proc.stdout)
    except ValueError:
        return f"failed (exit {proc.returncode}): {proc.stderr.strip()[-300:]}"
    out: Locations = {}
    for r in data["results"]:
        # semgrep prefixes the id with the config file's directory (tmp.x.P001).
        out.setdefault(r["check_id"].rsplit(".", 1)[-1], set()).add((r["path"], r["start"]["line"]))
    return elapsed, out, len(data.get("errors") or [])


def not_utf8(repo: Path) -> set[str]:
    """Files the `ast-grep` CLI skips (it reads UTF-8 only); Tack decodes them with
    replacement characters and checks them too."""
    out = set()
    for path in (repo / "lib").rglob("*.py"):
        try:
            path.read_bytes().decode("utf-8")
        except UnicodeDecodeError:
            out.add(path.relative_to(repo).as_posix())
    return out


def without(found: Locations, paths: set[str]) -> Locations:
    return {rule: {loc for loc in locs if loc[0] not in paths} for rule, locs in found.items()}


def parity(ours: Locations, theirs: Locations) -> dict[str, dict[str, int]]:
    table = {}
    for n, (name, _, _) in enumerate(RULES, 1):
        rid = f"P{n:03d}"
        a, b = ours.get(rid, set()), theirs.get(rid, set())
        table[f"{rid} {name}"] = {"both": len(a & b), "only_tack": len(a - b),
                                  "only_other": len(b - a)}
    return table


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--files", type=int, default=None, help="Limit the corpus size.")
    parser.add_argument("--json", action="store_true", help="Print one JSON object.")
    parser.add_argument("--no-semgrep", action="store_true",
                        help="Skip semgrep (it is optional and slow to install).")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="tack-bench-scan-") as tmp:
        repo = Path(tmp) / "repo"
        repo.mkdir()
        count = make_corpus(repo, args.files)
        cold_s, cold = timed_scan(repo, label="tack_cold")
        warm_s, warm = timed_scan(repo, label="tack_warm")
        nocache_s, nocache = timed_scan(repo, "--no-cache", "-j", "1")
        ours = tack_locations(cold)
        result: dict = {
            "files": count, "rules": len(RULES), "findings": len(cold["findings"]),
            "locations": sum(map(len, ours.values())),
            "tack_cold_s": round(cold_s, 3), "tack_warm_s": round(warm_s, 3),
            "cold_over_warm": round(cold_s / warm_s, 1),
            "tack_single_process_uncached_s": round(nocache_s, 3),
            "warm_cache_misses": warm["cache"]["misses"],
            "warm_same_findings": warm["findings"] == cold["findings"],
            "single_process_same_findings": nocache["findings"] == cold["findings"],
        }
        if not (result["warm_same_findings"] and result["single_process_same_findings"]):
            raise SystemExit(f"tack scan's findings differ between runs: {result}")
        sg = ast_grep_cli(repo, Path(tmp) / "sg-rules")
        if isinstance(sg, str):
            result["ast_grep"] = sg
        else:
            sg_s, sg_found = sg
            skipped = not_utf8(repo)
            same = without(ours, skipped) == without(sg_found, skipped)
            result["ast_grep"] = {
                "seconds": round(sg_s, 3), "locations": sum(map(len, sg_found.values())),
                "tack_cold_over_ast_grep": round(cold_s / sg_s, 2),
                "tack_warm_over_ast_grep": round(warm_s / sg_s, 2),
                "identical_findings": sg_found == ours,
                "identical_findings_outside_non_utf8_files": same,
                "non_utf8_files": len(skipped), "per_rule": parity(ours, sg_found)}
            if not same:
                raise SystemExit("tack scan and ast-grep scan disagree outside the non-UTF-8 "
                                 f"files: {result['ast_grep']['per_rule']}")
            cpu = {k: round(v, 2) for k, v in CPU_S.items()}
            result["cpu_s"] = cpu
            result["tack_cold_cpu_over_ast_grep"] = round(cpu["tack_cold"] / cpu["ast_grep"], 2)
            mb = {k: round(v / 2**20, 1) for k, v in PEAK_RSS.items()}
            result["peak_rss_mb"] = mb
            result["tack_cold_rss_over_ast_grep"] = round(mb["tack_cold"] / mb["ast_grep"], 2)
            pss = {k: round(v / 2**20, 1) for k, v in PEAK_PSS.items()}
            result["peak_pss_mb"] = pss
            result["tack_cold_pss_over_ast_grep"] = round(pss["tack_cold"] / pss["ast_grep"], 2)
        sem = "skipped (--no-semgrep)" if args.no_semgrep else semgrep(repo, Path(tmp) / "semgrep.yml")
        if isinstance(sem, str):
            result["semgrep"] = sem
        else:
            sem_s, sem_found, sem_errors = sem
            result["semgrep"] = {
                "seconds": round(sem_s, 3), "locations": sum(map(len, sem_found.values())),
                "errors": sem_errors, "semgrep_over_tack_cold": round(sem_s / cold_s, 1),
                "semgrep_over_tack_warm": round(sem_s / warm_s, 1),
                "per_rule": parity(ours, sem_found)}
    if args.json:
        print(json.dumps(result))
        return
    print_report(result)


def print_report(result: dict) -> None:
    for key, value in result.items():
        if key not in ("ast_grep", "semgrep"):
            print(f"{key:32} {value}")
    for other in ("ast_grep", "semgrep"):
        info = result[other]
        if isinstance(info, str):
            print(f"{other:32} {info}")
            continue
        for key, value in info.items():
            if key != "per_rule":
                print(f"{other + '.' + key:32} {value}")
    tables = {k: result[k]["per_rule"] for k in ("ast_grep", "semgrep")
              if isinstance(result[k], dict)}
    if not tables:
        return
    print(f"\n{'rule':24}" + "".join(f"{k + ' both/only-tack/only-it':>36}" for k in tables))
    for rule in next(iter(tables.values())):
        cells = "".join(f"{'{both}/{only_tack}/{only_other}'.format(**t[rule]):>36}"
                        for t in tables.values())
        print(f"{rule:24}{cells}")


if __name__ == "__main__":
    main()
