"""`tack check` benchmark on real projects: raw tool output vs `tack check` prose, in tokens.

Builds its own corpus: sdists of small pure-Python projects from PyPI (pinned, cached in
bench/.cache/), bugs injected by a seeded AST mutator, then the projects' real test suites,
ruff and mypy. Recall is checked against the tools' own machine output (JUnit XML, ruff
JSON, mypy text), read here independently of Tack's parsers.
"""

from __future__ import annotations

import argparse
import ast
import json
import os
import random
import re
import shutil
import statistics
import subprocess
import sys
import tarfile
import tempfile
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from pathlib import Path

from tack.feedback import CheckSpec, count_tokens, counter_name, run_checks
from tack.feedback.render import render_prose

PYTHON = sys.executable
RUFF = shutil.which("ruff", path=str(Path(PYTHON).parent)) or shutil.which("ruff") or "ruff"
CACHE = Path(__file__).resolve().parent / ".cache"
MYPY_VERSION = "1.15.0"
PYTEST_TIMEOUT_S = 120


@dataclass(frozen=True)
class Project:
    name: str
    version: str
    package: str  # what mypy checks
    tests: tuple[str, ...]
    mutate: tuple[str, ...]  # first-party modules the mutator edits

    @property
    def dirname(self) -> str:
        return f"{self.name}-{self.version}"


# Each one's suite runs green with plain pytest in seconds (checked when pinned).
PROJECTS = [
    Project("inflection", "0.5.1", "inflection", ("test_inflection.py",),
            ("inflection/__init__.py",)),
    Project("more-itertools", "10.5.0", "more_itertools", ("tests",),
            ("more_itertools/more.py", "more_itertools/recipes.py")),
    Project("six", "1.17.0", "six.py", ("test_six.py",), ("six.py",)),
    Project("toolz", "1.0.0", "toolz", ("toolz/tests",),
            ("toolz/itertoolz.py", "toolz/dicttoolz.py", "toolz/functoolz.py")),
    Project("idna", "3.10", "idna", ("tests",), ("idna/core.py", "idna/intranges.py")),
    Project("jmespath", "1.0.1", "jmespath", ("tests",),
            ("jmespath/functions.py", "jmespath/lexer.py", "jmespath/parser.py",
             "jmespath/visitor.py")),
]

# --- corpus ----------------------------------------------------------------------------


def fetch(project: Project) -> Path:
    """The project's pristine source tree, downloaded once into the cache."""
    (CACHE / ".gitignore").parent.mkdir(parents=True, exist_ok=True)
    (CACHE / ".gitignore").write_text("*\n")  # the cache never shows up in git status
    tree = CACHE / "src" / project.dirname
    if tree.is_dir():
        return tree
    sdists = CACHE / "sdists"
    tarball = next(sdists.glob(f"{project.dirname}.tar.gz"), None) if sdists.is_dir() else None
    if tarball is None:
        subprocess.run([PYTHON, "-m", "pip", "download", "-q", "--no-binary", ":all:",
                        "--no-deps", "-d", str(sdists), f"{project.name}=={project.version}"],
                       check=True)
        tarball = next(sdists.glob(f"{project.dirname}.tar.gz"))
    with tarfile.open(tarball) as tar:
        tar.extractall(CACHE / "src", filter="data")
    return tree


def mypy_command() -> list[str] | None:
    """mypy from a cached venv (Tack itself does not depend on it)."""
    venv = CACHE / "tools"
    mypy = venv / "bin" / "mypy"
    if not mypy.exists():
        subprocess.run([PYTHON, "-m", "venv", str(venv)], check=True)
        done = subprocess.run([str(venv / "bin" / "pip"), "install", "-q",
                               f"mypy=={MYPY_VERSION}"], check=False)
        if done.returncode != 0:
            return None
    return [str(mypy), "--cache-dir=/dev/null", "--ignore-missing-imports"]


_FLIP: dict[type, type] = {ast.Lt: ast.GtE, ast.GtE: ast.Lt, ast.Gt: ast.LtE, ast.LtE: ast.Gt,
                           ast.Eq: ast.NotEq, ast.NotEq: ast.Eq, ast.Is: ast.IsNot,
                           ast.IsNot: ast.Is, ast.In: ast.NotIn, ast.NotIn: ast.In}


def _sites(source: str) -> list[tuple[int, int, int, str, str]]:
    """(line, start byte, end byte, replacement, kind) for every one-line mutation."""
    out = []
    for node in ast.walk(ast.parse(source)):
        if getattr(node, "lineno", None) is None or node.lineno != node.end_lineno:
            continue
        new: ast.AST | None = None
        kind = ""
        if isinstance(node, ast.Compare) and len(node.ops) == 1 and type(node.ops[0]) in _FLIP:
            new, kind = ast.Compare(node.left, [_FLIP[type(node.ops[0])]()], node.comparators), \
                "flip comparison"
        elif isinstance(node, ast.BoolOp):
            other = ast.Or() if isinstance(node.op, ast.And) else ast.And()
            new, kind = ast.BoolOp(other, node.values), "swap and/or"
        elif (isinstance(node, ast.Constant) and type(node.value) is int):
            new, kind = ast.Constant(node.value + 1), "off by one"
        elif isinstance(node, ast.Return) and node.value is not None and not (
                isinstance(node.value, ast.Constant) and node.value.value is None):
            new, kind = ast.Return(ast.Constant(None)), "return None"
        if new is not None:
            out.append((node.lineno, node.col_offset, node.end_col_offset, ast.unparse(new),
                        kind))
    return sorted(out)


def mutate(tree: Path, project: Project, rng: random.Random) -> list[str]:
    """Apply 1-3 seeded mutations on distinct lines; returns what was done."""
    count = rng.randint(1, 3)
    done: list[str] = []
    for _ in range(count):
        rel = rng.choice(project.mutate)
        path = tree / rel
        source = path.read_text(encoding="utf-8")
        sites = _sites(source)
        touched = {int(d.rsplit(":", 1)[1].split()[0]) for d in done if d.startswith(rel)}
        sites = [s for s in sites if s[0] not in touched]
        line, start, end, text, kind = rng.choice(sites)
        lines = source.splitlines(keepends=True)
        raw = lines[line - 1].encode()
        lines[line - 1] = (raw[:start] + text.encode() + raw[end:]).decode()
        path.write_text("".join(lines), encoding="utf-8")
        done.append(f"{rel}:{line} {kind}")
    return done


# --- ground truth, read straight from the tools ----------------------------------------

_TB_FRAME = re.compile(r"^([^\s:][^:\n]*\.py):(\d+):", re.MULTILINE)
_MYPY = re.compile(r"^([^\s:][^:]*):(\d+):(?:\d+:)? (error|warning): (.*?)(?:  \[[\w-]+\])?$")


@dataclass
class Truth:
    raw: str = ""  # what an agent reads without Tack: the tools' own terminal output
    tests_raw: str = ""
    failing: dict[str, tuple[str, str]] = field(default_factory=dict)  # id -> (loc, message)
    diagnostics: list[tuple[str, str]] = field(default_factory=list)  # (location, message)


def _first_party(path: str) -> bool:
    return not path.startswith(("/", "<")) and "site-packages" not in path


def _run(argv: list[str], cwd: Path, env: dict[str, str]) -> str:
    return subprocess.run(argv, cwd=cwd, env=env, capture_output=True, text=True,
                          timeout=PYTEST_TIMEOUT_S, check=False).stdout


def pytest_truth(tree: Path, pytest_cmd: list[str], env: dict[str, str], truth: Truth) -> None:
    junit = tree.parent / "truth.xml"
    truth.tests_raw = _run([*pytest_cmd, f"--junitxml={junit}"], tree, env)
    for case in ET.parse(junit).getroot().iter("testcase"):
        node = case.find("failure")
        node = node if node is not None else case.find("error")
        if node is None:
            continue
        classname, name = case.get("classname", ""), case.get("name", "")
        if classname:  # pytest's node id: the module's path, any class, the test
            parts = classname.split(".")
            cut = next((i for i in range(len(parts), 0, -1)
                        if (tree / ("/".join(parts[:i]) + ".py")).is_file()), len(parts))
            test_id = "::".join(["/".join(parts[:cut]) + ".py", *parts[cut:], name])
        else:  # a collection error names the module
            test_id = name.replace(".", "/") + ".py"
        body = node.text or ""
        frames = [f"{p}:{n}" for p, n in _TB_FRAME.findall(body) if _first_party(p)]
        message = (node.get("message") or "").split("\n", 1)[0].strip()
        if message in ("collection failure", "") or message.startswith("failed on"):
            e_lines = [x[1:].strip() for x in body.splitlines() if x.startswith("E ")]
            message = next((x for x in e_lines if re.match(r"[\w.]+(Error|Exception)\b", x)),
                           e_lines[-1] if e_lines else "")
        truth.failing[test_id] = (frames[-1] if frames else "", message)
    junit.unlink()


def lint_truth(tree: Path, mypy: list[str] | None, project: Project, env: dict[str, str],
               truth: Truth) -> None:
    ruff = [RUFF, "check", "--no-cache", "--isolated", "."]
    truth.raw += _run(ruff, tree, env)
    for d in json.loads(_run([*ruff, "--output-format=json"], tree, env)):
        loc = d["location"]
        where = f"{Path(d['filename']).relative_to(tree)}:{loc['row']}:{loc['column']}"
        truth.diagnostics.append((where, d["message"]))
    if mypy:
        out = _run([*mypy, project.package], tree, env)
        truth.raw += out
        for line in out.splitlines():
            m = _MYPY.match(line)
            if m:
                truth.diagnostics.append((f"{m.group(1)}:{m.group(2)}", m.group(4)))


# --- one case ---------------------------------------------------------------------------


def _norm(text: str) -> str:
    # Object addresses differ between the ground-truth run and Tack's run.
    return re.sub(r"0x[0-9a-f]+", "0x?", " ".join(text.split()))


def _recall(hits: list[bool]) -> float:
    return sum(hits) / len(hits) if hits else 1.0


def measure(tree: Path, project: Project, mypy: list[str] | None, budget: int,
            env: dict[str, str]) -> dict[str, float]:
    pytest_cmd = [PYTHON, "-m", "pytest", "-p", "no:cacheprovider", *project.tests]
    truth = Truth()
    pytest_truth(tree, pytest_cmd, env, truth)
    truth.raw = truth.tests_raw
    lint_truth(tree, mypy, project, env, truth)
    specs = [CheckSpec("tests", pytest_cmd),
             CheckSpec("lint", [RUFF, "check", "--no-cache", "--isolated", "."])]
    if mypy:
        specs.append(CheckSpec("types", [*mypy, project.package]))
    report = run_checks(specs, root=tree, cwd=tree, budget=budget, env=env)
    prose, full = _norm(report.prose), _norm(render_prose(report.runs, 0))
    tests_prose = render_prose(report.runs[:1], budget)
    fails = truth.failing.items()
    return {
        "failing": len(truth.failing), "diags": len(truth.diagnostics),
        "raw": count_tokens(truth.raw), "tack": count_tokens(report.prose),
        "ratio": count_tokens(report.prose) / count_tokens(truth.raw),
        "test_ratio": count_tokens(tests_prose) / count_tokens(truth.tests_raw),
        "id": _recall([i in prose for i in truth.failing]),
        "loc": _recall([loc in prose for _, (loc, _m) in fails if loc]),
        "msg": _recall([_norm(m) in prose for _, (_l, m) in fails if m]),
        "diag": _recall([loc in prose and _norm(m) in prose for loc, m in truth.diagnostics]),
        "diag_full": _recall([loc in full and _norm(m) in full for loc, m in truth.diagnostics]),
    }


def build_mutant(pristine: Path, work: Path, project: Project, seed: int,
                 env: dict[str, str]) -> list[str] | None:
    """A mutated copy that fails at least one test, or None after a few tries."""
    rng = random.Random(f"{project.name}-{seed}")
    probe = [PYTHON, "-m", "pytest", "-q", "-x", "-p", "no:cacheprovider", *project.tests]
    for _ in range(10):
        shutil.rmtree(work, ignore_errors=True)
        shutil.copytree(pristine, work)
        done = mutate(work, project, rng)
        try:
            code = subprocess.run(probe, cwd=work, env=env, capture_output=True,
                                  timeout=PYTEST_TIMEOUT_S, check=False).returncode
        except subprocess.TimeoutExpired:
            continue  # a mutant that loops forever is no use
        if code in (1, 2):  # failing tests, or a collection error
            return done
    return None


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--mutants", type=int, default=3, help="mutants per project")
    parser.add_argument("--budget", type=int, default=2000)
    parser.add_argument("--projects", default="", help="comma-separated names (default: all)")
    args = parser.parse_args()
    sys.stdout.reconfigure(line_buffering=True)  # type: ignore[union-attr]  # rows as they come
    wanted = {p for p in args.projects.split(",") if p}
    projects = [p for p in PROJECTS if not wanted or p.name in wanted]
    mypy = mypy_command()
    print(f"token counter: {counter_name()}; budget {args.budget}; "
          f"mypy {MYPY_VERSION if mypy else 'not available'}; ruff {RUFF}")
    head = (f"{'case':<18} {'fail':>4} {'diag':>4} {'raw tok':>8} {'tack tok':>8} {'ratio':>6} "
            f"{'tests':>6} {'ids':>4} {'locs':>4} {'msgs':>4} {'diag@b':>6} {'diag@0':>6}")
    print(head)
    rows = []
    with tempfile.TemporaryDirectory(prefix="tack-bench-feedback-") as tmp:
        for project in projects:
            pristine = fetch(project)
            for seed in range(args.mutants):
                work = Path(tmp) / project.dirname / f"m{seed}" / project.dirname
                env = {**os.environ, "PYTHONPATH": str(work), "PYTHONDONTWRITEBYTECODE": "1",
                       "PYTHONHASHSEED": "0"}
                done = build_mutant(pristine, work, project, seed, env)
                if done is None:
                    print(f"{project.name}#{seed}: no failing mutant in 10 tries; skipped")
                    continue
                row = measure(work, project, mypy, args.budget, env)
                rows.append(row)
                print(f"{project.name + '#' + str(seed):<18} {row['failing']:>4.0f} "
                      f"{row['diags']:>4.0f} {row['raw']:>8.0f} {row['tack']:>8.0f} "
                      f"{row['ratio']:>6.1%} {row['test_ratio']:>6.1%} {row['id']:>4.0%} "
                      f"{row['loc']:>4.0%} {row['msg']:>4.0%} {row['diag']:>6.0%} "
                      f"{row['diag_full']:>6.0%}   {'; '.join(done)}")
    if not rows:
        return
    med = statistics.median
    print(f"\n{len(rows)} cases. median tack/raw tokens: {med(r['ratio'] for r in rows):.1%} "
          f"(tests only: {med(r['test_ratio'] for r in rows):.1%}); "
          f"min recall of failing test ids {min(r['id'] for r in rows):.0%}, "
          f"locations {min(r['loc'] for r in rows):.0%}, "
          f"messages {min(r['msg'] for r in rows):.0%}; lint/type findings: "
          f"median recall {med(r['diag'] for r in rows):.0%} within the budget, "
          f"min {min(r['diag_full'] for r in rows):.0%} with no budget")


if __name__ == "__main__":
    main()
