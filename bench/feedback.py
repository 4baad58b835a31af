"""`tack check` benchmark: raw tool output vs `tack check` prose, in tokens, with recall.

Builds its own corpus: a synthetic project per case (modules of small functions, a real
pytest suite, lint problems), injects bugs with a seeded mutator, runs the real pytest and
ruff, and compares the tokens an agent would read. Recall is checked against the tools'
own machine output (JUnit XML, ruff JSON), read here independently of Tack's parsers.
"""

from __future__ import annotations

import argparse
import json
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import xml.etree.ElementTree as ET
from pathlib import Path

from tack.feedback import CheckSpec, count_tokens, counter_name, run_checks

PYTHON = sys.executable
RUFF = shutil.which("ruff", path=str(Path(PYTHON).parent)) or shutil.which("ruff") or "ruff"
OPS = [("+", "-"), ("*", "+"), ("<", "<="), ("==", "!="), ("min(", "max(")]


def _module(rng: random.Random, index: int, functions: int) -> tuple[str, str]:
    src = ["import os", "import json", "from typing import Any", "", ""]
    tests = ["import pytest", "", f"from pkg.mod{index} import *  # noqa: F403", "", ""]
    for f in range(functions):
        op = rng.choice(["+", "*", "<", "==", "min("])
        if op == "min(":
            body, expect = "return min(a, b) + 0", "min(a, b)"
        elif op in ("<", "=="):
            body, expect = f"return a {op} b", f"a {op} b"
        else:
            body, expect = f"return a {op} b", f"a {op} b"
        src += [f"def f{f}(a, b):", f"    unused_{f} = a", f"    {body}", "", ""]
        tests += ["@pytest.mark.parametrize('a,b', [(1, 2), (3, 5), (7, 7)])",
                  f"def test_f{f}(a, b):", f"    assert f{f}(a, b) == {expect}", "", ""]
    return "\n".join(src), "\n".join(tests)


def build_case(root: Path, seed: int, modules: int, functions: int, bugs: int) -> None:
    rng = random.Random(seed)
    (root / "pkg").mkdir(parents=True)
    (root / "tests").mkdir()
    (root / "pkg" / "__init__.py").write_text("")
    sources: list[Path] = []
    for m in range(modules):
        src, tests = _module(rng, m, functions)
        (root / "pkg" / f"mod{m}.py").write_text(src)
        (root / "tests" / f"test_mod{m}.py").write_text(tests)
        sources.append(root / "pkg" / f"mod{m}.py")
    # The seeded mutator: flip an operator in a `return` line.
    for _ in range(bugs):
        path = rng.choice(sources)
        lines = path.read_text().splitlines()
        candidates = [i for i, line in enumerate(lines) if line.strip().startswith("return")
                      and any(a in line for a, _ in OPS)]
        i = rng.choice(candidates)
        for a, b in OPS:
            if a in lines[i]:
                lines[i] = lines[i].replace(a, b, 1)
                break
        path.write_text("\n".join(lines) + "\n")
    subprocess.run(["git", "init", "-q", "-b", "main"], cwd=root, check=True)


def truth(root: Path) -> tuple[list[str], list[str]]:
    """Failing test ids (JUnit) and ruff locations (JSON), straight from the tools."""
    junit = root / "truth.xml"
    subprocess.run([PYTHON, "-m", "pytest", "-q", "-p", "no:cacheprovider",
                    f"--junitxml={junit}"], cwd=root, capture_output=True, check=False)
    ids = []
    for case in ET.parse(junit).getroot().iter("testcase"):
        if case.find("failure") is not None or case.find("error") is not None:
            classname, name = case.get("classname", ""), case.get("name", "")
            if not classname:  # a collection error: the id is the module's path
                ids.append(name.replace(".", "/") + ".py")
                continue
            ids.append(f"{classname.replace('.', '/')}.py::{name}")
    junit.unlink()
    out = subprocess.run([RUFF, "check", "--no-cache", "--isolated", "--output-format=json",
                          "."], cwd=root, capture_output=True, text=True, check=False).stdout
    locations = [f"{Path(d['filename']).relative_to(root)}:{d['location']['row']}:"
                 f"{d['location']['column']}" for d in json.loads(out)]
    return ids, locations


def measure(root: Path, budget: int) -> dict[str, float]:
    pytest_cmd = [PYTHON, "-m", "pytest", "-p", "no:cacheprovider"]
    ruff_cmd = [RUFF, "check", "--no-cache", "--isolated", "."]
    raw = "".join(subprocess.run(cmd, cwd=root, capture_output=True, text=True,
                                 check=False).stdout
                  for cmd in (pytest_cmd, ruff_cmd))
    report = run_checks([CheckSpec("tests", pytest_cmd), CheckSpec("lint", ruff_cmd)],
                        root=root, cwd=root, budget=budget)
    full = run_checks([CheckSpec("lint", ruff_cmd)], root=root, cwd=root, budget=0)
    ids, locations = truth(root)
    found_ids = sum(1 for i in ids if i in report.prose)
    found_locs = sum(1 for loc in locations if loc in full.prose)
    raw_tokens, tack_tokens = count_tokens(raw), count_tokens(report.prose)
    return {"raw": raw_tokens, "tack": tack_tokens, "ratio": tack_tokens / raw_tokens,
            "failing": len(ids), "id_recall": found_ids / len(ids) if ids else 1.0,
            "lint": len(locations),
            "loc_recall": found_locs / len(locations) if locations else 1.0}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--cases", type=int, default=6)
    parser.add_argument("--budget", type=int, default=2000)
    args = parser.parse_args()
    print(f"token counter: {counter_name()}; budget {args.budget}")
    print(f"{'case':>4} {'failing':>7} {'lint':>5} {'raw tok':>8} {'tack tok':>8} "
          f"{'ratio':>6} {'id recall':>9} {'lint loc recall':>15}")
    rows = []
    with tempfile.TemporaryDirectory(prefix="tack-bench-feedback-") as tmp:
        for case in range(args.cases):
            root = Path(tmp) / f"case{case}"
            rng = random.Random(case)
            build_case(root, seed=case, modules=rng.randint(2, 6),
                       functions=rng.randint(4, 10), bugs=rng.randint(2, 12))
            row = measure(root, args.budget)
            rows.append(row)
            print(f"{case:>4} {row['failing']:>7} {row['lint']:>5} {row['raw']:>8.0f} "
                  f"{row['tack']:>8.0f} {row['ratio']:>6.1%} {row['id_recall']:>9.0%} "
                  f"{row['loc_recall']:>15.0%}")
    print(f"median ratio: {statistics.median(r['ratio'] for r in rows):.1%} of raw tokens; "
          f"failing-test-id recall: min {min(r['id_recall'] for r in rows):.0%}; "
          f"lint location recall (no budget): min {min(r['loc_recall'] for r in rows):.0%}")


if __name__ == "__main__":
    main()
