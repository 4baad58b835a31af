"""Grounded judging: the original's tests against the re-implementation, and API diffs.

Nothing here asks a model. Tests run in a scratch directory that holds the re-implementation
with the original's tests copied beside it; public surfaces (Python names and signatures,
`--help` of entry points, Starlette/FastAPI routes) are read with `ast` and compared.
"""

from __future__ import annotations

import ast
import os
import re
import shutil
import signal
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

from tack.distill.source import SourceLayout, is_test, list_tree

TEST_TIMEOUT_S = 600
HELP_TIMEOUT_S = 20
JUNIT_FILE = ".distill-junit.xml"
_SUMMARY = re.compile(r"(\d+) (passed|failed|errors?)\b")
_HTTP_VERBS = {"get", "post", "put", "patch", "delete", "head", "options"}


def _run(argv: list[str], cwd: Path, env: dict[str, str], timeout: float
         ) -> tuple[int | None, str]:
    """Exit code (None on timeout) and combined output; the whole process group ends."""
    proc = subprocess.Popen(argv, cwd=cwd, env=env, stdin=subprocess.DEVNULL,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            start_new_session=True, text=True, errors="replace")
    try:
        out, _ = proc.communicate(timeout=timeout)
        return proc.returncode, out
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        out, _ = proc.communicate()
        return None, out + f"\n(killed after {timeout:g} s)"


def _python_env(path: Path) -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = str(path)
    env["PYTHONDONTWRITEBYTECODE"] = "1"
    return env


# --- tests -------------------------------------------------------------------------------


def _junit_counts(path: Path) -> dict[str, int] | None:
    try:
        root = ET.parse(path).getroot()
    except (OSError, ET.ParseError):
        return None
    suites = [root] if root.tag == "testsuite" else root.findall("testsuite")
    total = sum(int(s.get("tests", 0)) for s in suites)
    failed = sum(int(s.get("failures", 0)) for s in suites)
    errors = sum(int(s.get("errors", 0)) for s in suites)
    skipped = sum(int(s.get("skipped", 0)) for s in suites)
    return {"total": total - skipped, "failed": failed, "errors": errors,
            "passed": total - skipped - failed - errors}


def _summary_counts(output: str, code: int | None) -> dict[str, int]:
    counts = {"passed": 0, "failed": 0, "errors": 0}
    for number, word in _SUMMARY.findall(output):
        counts["errors" if word.startswith("error") else word] = int(number)
    if not any(counts.values()):  # not pytest-shaped output: the exit code is one result
        counts["passed" if code == 0 else "failed"] = 1
    return {**counts, "total": sum(counts.values())}


def run_tests(layout: SourceLayout, implementation: Path, scratch: Path,
              command: str | None) -> dict[str, Any]:
    """Run the original's tests (or `command`) against the re-implementation in `scratch`."""
    if scratch.exists():
        shutil.rmtree(scratch)
    shutil.copytree(implementation, scratch,
                    ignore=shutil.ignore_patterns(".git", "SPEC.md", "__pycache__"))
    layout.copy_tests(scratch)
    if command is None and not layout.tests:
        return {"ran": False, "command": None, "passed": 0, "failed": 0, "errors": 0,
                "total": 0, "pass_rate": None, "exit_code": None,
                "output": "no tests found beside SOURCE and no --tests command given"}
    env = _python_env(scratch)
    if command is None:
        argv = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider",
                "--rootdir", str(scratch), f"--junitxml={JUNIT_FILE}",
                *[str(t) for t in layout.tests if t.name != "conftest.py"]]
        shown = "python -m pytest -q " + " ".join(str(t) for t in layout.tests
                                                   if t.name != "conftest.py")
    else:
        argv, shown = ["bash", "-c", command], command
    code, output = _run(argv, scratch, env, TEST_TIMEOUT_S)
    counts = (_junit_counts(scratch / JUNIT_FILE) if command is None else None) \
        or _summary_counts(output, code)
    total = counts["total"]
    return {"ran": True, "command": shown, **counts,
            "pass_rate": round(counts["passed"] / total, 3) if total else 0.0,
            "exit_code": code, "output": output[-3000:]}


# --- public surface ----------------------------------------------------------------------


def _module_name(rel: Path) -> str:
    parts = list(rel.with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts) or rel.stem


def _signature(node: ast.FunctionDef | ast.AsyncFunctionDef) -> str:
    prefix = "async def" if isinstance(node, ast.AsyncFunctionDef) else "def"
    returns = f" -> {ast.unparse(node.returns)}" if node.returns else ""
    return f"{prefix} {node.name}({ast.unparse(node.args)}){returns}"


def _exported(tree: ast.Module) -> set[str] | None:
    for node in tree.body:
        if isinstance(node, ast.Assign) and any(
                isinstance(t, ast.Name) and t.id == "__all__" for t in node.targets):
            try:
                return set(ast.literal_eval(node.value))
            except ValueError:
                return None
    return None


def _python_names(module: str, tree: ast.Module) -> dict[str, str]:
    exported = _exported(tree)

    def public(name: str) -> bool:
        return name in exported if exported is not None else not name.startswith("_")

    names: dict[str, str] = {}
    for node in tree.body:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) and public(node.name):
            names[f"{module}.{node.name}"] = _signature(node)
        elif isinstance(node, ast.ClassDef) and public(node.name):
            bases = ", ".join(ast.unparse(b) for b in node.bases)
            names[f"{module}.{node.name}"] = f"class {node.name}({bases})"
            for item in node.body:
                if isinstance(item, (ast.FunctionDef, ast.AsyncFunctionDef)) and (
                        not item.name.startswith("_") or item.name == "__init__"):
                    names[f"{module}.{node.name}.{item.name}"] = _signature(item)
        elif isinstance(node, (ast.Assign, ast.AnnAssign)):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            for target in targets:
                if isinstance(target, ast.Name) and public(target.id) \
                        and target.id != "__all__" and node.value is not None:
                    value = ast.unparse(node.value)
                    names[f"{module}.{target.id}"] = f"{target.id} = " + (
                        value if len(value) <= 60 else "<expression>")
    return names


def _routes(tree: ast.Module) -> set[str]:
    """`METHOD /path` for Starlette `Route(...)` and FastAPI-style `@app.get(...)` routes."""
    found: set[str] = set()
    for node in ast.walk(tree):
        if not isinstance(node, ast.Call) or not node.args:
            continue
        path = node.args[0]
        if not (isinstance(path, ast.Constant) and isinstance(path.value, str)):
            continue
        func = node.func
        name = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", "")
        methods = ["GET"]
        for kw in node.keywords:
            if kw.arg == "methods":
                try:
                    methods = [str(m).upper() for m in ast.literal_eval(kw.value)]
                except ValueError:
                    methods = ["?"]
        if name in ("Route", "add_route", "add_api_route", "route", "api_route"):
            found.update(f"{m} {path.value}" for m in methods)
        elif name in _HTTP_VERBS and isinstance(func, ast.Attribute):
            found.add(f"{name.upper()} {path.value}")
    return found


def _cli_help(root: Path, module: str) -> str:
    code, output = _run([sys.executable, "-m", module, "--help"], root, _python_env(root),
                        HELP_TIMEOUT_S)
    return f"exit {code}\n{output.strip()}"


def api_surface(root: Path, files: list[Path], *, with_cli: bool = True) -> dict[str, str]:
    """Public names with signatures, entry points' `--help`, and HTTP routes under `root`."""
    surface: dict[str, str] = {}
    for rel in sorted(files):
        try:
            source = (root / rel).read_text(encoding="utf-8")
            tree = ast.parse(source)
        except (OSError, SyntaxError, UnicodeDecodeError) as exc:
            surface[f"{_module_name(rel)} (unparseable)"] = type(exc).__name__
            continue
        module = _module_name(rel)
        surface.update(_python_names(module, tree))
        if "starlette" in source or "fastapi" in source:
            surface.update({f"route {r}": r for r in _routes(tree)})
        entry = rel.name == "__main__.py" or "__name__ == \"__main__\"" in source \
            or "__name__ == '__main__'" in source
        if with_cli and entry:
            cli_module = module.removesuffix(".__main__")
            surface[f"cli python -m {cli_module} --help"] = _cli_help(root, cli_module)
    return surface


def implementation_files(directory: Path) -> list[Path]:
    """Python files a re-implementation holds, its own tests left out."""
    return [Path(p) for p in list_tree(directory)
            if p.endswith(".py") and not is_test(Path(p))]


def diff_surfaces(original: dict[str, str], reimplementation: dict[str, str]
                  ) -> dict[str, Any]:
    """Per original item: same, differs or missing; extras listed; a 0-1 match ratio."""
    items: list[dict[str, Any]] = []
    credit = 0.0
    for key in sorted(original):
        if key not in reimplementation:
            items.append({"name": key, "status": "missing", "original": original[key]})
        elif reimplementation[key] == original[key]:
            credit += 1
            items.append({"name": key, "status": "same", "original": original[key]})
        else:
            credit += 0.5
            items.append({"name": key, "status": "differs", "original": original[key],
                          "reimplementation": reimplementation[key]})
    extra = sorted(set(reimplementation) - set(original))
    return {"match": round(credit / len(original), 3) if original else None,
            "items": items, "extra": extra}


def ground(layout: SourceLayout, implementation: Path, scratch: Path,
           tests_command: str | None) -> tuple[dict[str, Any], dict[str, Any]]:
    """(test results, API diff) of one re-implementation."""
    tests = run_tests(layout, implementation, scratch, tests_command)
    original = api_surface(layout.root, layout.python_members())
    rebuilt = api_surface(implementation, implementation_files(implementation))
    return tests, diff_surfaces(original, rebuilt)
