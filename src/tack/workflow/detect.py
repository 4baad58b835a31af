"""What `tack init` learns about an existing repository before it writes WORKFLOW.md: the
languages, the test, lint and type-check commands (written as `feedback.checks`), and which
agent backend is installed and logged in here (through `tack doctor`'s probes).

Detection reads the project's own files (pyproject.toml, package.json, go.mod, Cargo.toml);
it never runs the project's code.
"""

from __future__ import annotations

import json
import os
import shutil
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable


@dataclass
class DetectedCheck:
    name: str
    command: str
    profiles: list[str]
    why: str


@dataclass
class Detection:
    languages: list[str] = field(default_factory=list)
    checks: list[DetectedCheck] = field(default_factory=list)
    backend: str = "builtin"
    backend_why: str = ""


def _read_toml(path: Path) -> dict[str, Any]:
    try:
        return tomllib.loads(path.read_text("utf-8"))
    except (OSError, tomllib.TOMLDecodeError, UnicodeDecodeError):
        return {}


def _read_json(path: Path) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text("utf-8"))
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def _python_checks(repo: Path) -> list[DetectedCheck]:
    pyproject = _read_toml(repo / "pyproject.toml")
    tool = pyproject.get("tool", {}) if isinstance(pyproject.get("tool"), dict) else {}
    text = "\n".join(
        p.read_text("utf-8", errors="replace")
        for p in (repo / "pyproject.toml", repo / "setup.cfg", repo / "tox.ini",
                  repo / "requirements-dev.txt", repo / "requirements.txt")
        if p.is_file()
    )
    checks: list[DetectedCheck] = []
    has_tests = any((repo / d).is_dir() for d in ("tests", "test")) or any(repo.glob("test_*.py"))
    if "pytest" in tool or "pytest" in text or (repo / "pytest.ini").is_file() or has_tests:
        checks.append(DetectedCheck("tests", "python -m pytest -q", ["fast", "ci"],
                                    "pytest (a tests/ folder or pytest configuration)"))
    if "ruff" in tool or (repo / "ruff.toml").is_file() or (repo / ".ruff.toml").is_file() \
            or "ruff" in text:
        checks.append(DetectedCheck("lint", "ruff check .", ["fast", "ci"], "ruff configuration"))
    if "mypy" in tool or (repo / "mypy.ini").is_file() or "[mypy" in text:
        checks.append(DetectedCheck("types", "mypy .", ["ci"], "mypy configuration"))
    return checks


def _node_checks(repo: Path) -> list[DetectedCheck]:
    package = _read_json(repo / "package.json")
    raw_scripts = package.get("scripts")
    scripts: dict[str, Any] = raw_scripts if isinstance(raw_scripts, dict) else {}
    deps: dict[str, Any] = {}
    for key in ("dependencies", "devDependencies"):
        if isinstance(package.get(key), dict):
            deps.update(package[key])
    checks: list[DetectedCheck] = []
    test = str(scripts.get("test", ""))
    if test and "no test specified" not in test:
        checks.append(DetectedCheck("tests", "npm test", ["fast", "ci"], f"scripts.test: {test}"))
    if "lint" in scripts:
        checks.append(DetectedCheck("lint", "npm run lint", ["fast", "ci"], "scripts.lint"))
    elif "eslint" in deps:
        checks.append(DetectedCheck("lint", "npx eslint . --format json", ["fast", "ci"],
                                    "eslint in the dependencies"))
    if (repo / "tsconfig.json").is_file() and ("typescript" in deps or "tsc" in str(scripts)):
        checks.append(DetectedCheck("types", "npx tsc --noEmit", ["ci"], "tsconfig.json"))
    return checks


def detect_checks(repo: Path) -> tuple[list[str], list[DetectedCheck]]:
    """The languages in `repo` and the checks its own configuration implies, in run order."""
    languages: list[str] = []
    checks: list[DetectedCheck] = []
    if any((repo / f).is_file() for f in ("pyproject.toml", "setup.py", "setup.cfg")):
        languages.append("python")
        checks += _python_checks(repo)
    if (repo / "package.json").is_file():
        languages.append("javascript/typescript")
        checks += _node_checks(repo)
    if (repo / "go.mod").is_file():
        languages.append("go")
        checks += [DetectedCheck("tests", "go test ./...", ["fast", "ci"], "go.mod"),
                   DetectedCheck("lint", "go vet ./...", ["ci"], "go.mod")]
    if (repo / "Cargo.toml").is_file():
        languages.append("rust")
        checks += [DetectedCheck("tests", "cargo test", ["fast", "ci"], "Cargo.toml")]
    # Two languages may both bring a `tests` check: keep each name unique.
    seen: dict[str, int] = {}
    for check in checks:
        n = seen.get(check.name, 0)
        seen[check.name] = n + 1
        if n:
            check.name = f"{check.name}-{n + 1}"
    return languages, checks


def _logged_in(backend: str, home: Path) -> bool:
    if backend == "codex":
        return bool(os.environ.get("OPENAI_API_KEY")) or (home / ".codex" / "auth.json").is_file()
    if backend == "claude":
        return bool(os.environ.get("ANTHROPIC_API_KEY")) or \
            (home / ".claude" / ".credentials.json").is_file()
    return False


# `tack doctor`'s probe of one CLI: (works, detail).
Probe = Callable[[str], tuple[bool, str]]


def pick_backend(probe: Probe, home: Path | None = None) -> tuple[str, str]:
    """codex or claude when installed and logged in (in that order), else the built-in agent."""
    home = home or Path.home()
    for backend in ("codex", "claude"):
        if not shutil.which(backend):
            continue
        ok, detail = probe(backend)
        if ok and _logged_in(backend, home):
            return backend, f"{detail}, logged in"
    return "builtin", ("no logged-in codex or claude CLI found (`tack doctor` says why); the "
                       "built-in agent needs builtin.base_url pointed at a model")


def detect(repo: Path, probe: Probe, *, home: Path | None = None) -> Detection:
    languages, checks = detect_checks(repo)
    backend, why = pick_backend(probe, home)
    return Detection(languages, checks, backend, why)


def apply_detection(workflow_text: str, found: Detection) -> str:
    """The default WORKFLOW.md with the detected backend and a `feedback:` section."""
    text = workflow_text.replace("\n  backend: builtin\n", f"\n  backend: {found.backend}\n", 1)
    if not found.checks:
        return text
    lines = ["", "# Detected by `tack init` from this repository's files; `tack check` runs these",
             "# and agents run them before they hand off (docs/feedback.md).", "feedback:",
             "  checks:"]
    for check in found.checks:
        lines += [f"    - name: {check.name}",
                  f"      command: {json.dumps(check.command)}   # {check.why}",
                  f"      profiles: [{', '.join(check.profiles)}]"]
    section = "\n".join(lines) + "\n"
    head, sep, body = text.partition("\n---\n")
    return head + "\n" + section + sep + body if sep else text
