"""Hidden verification: the task's tests in a clean checkout of the agent's branch.

Only what the agent committed counts. Hidden test files and patches are added after the
checkout; pytest's JUnit XML tells which test ids passed, and a command without a report
falls back to its exit code for every id.
"""

from __future__ import annotations

import os
import shlex
import subprocess
import sys
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from pathlib import Path

from tack.eval.sources import git
from tack.eval.suite import Task


@dataclass
class Verdict:
    passed: dict[str, bool] = field(default_factory=dict)
    output: str = ""

    def count(self, ids: list[str]) -> int:
        return sum(1 for i in ids if self.passed.get(i))


def node_key(test_id: str) -> tuple[str, str]:
    """pytest's node id `a/b_test.py::Cls::name[p]` as JUnit's (classname, name)."""
    parts = test_id.split("::")
    module = parts[0].removesuffix(".py").replace("/", ".").replace("\\", ".")
    return ".".join([module, *parts[1:-1]]), parts[-1]


def _read_junit(report: Path) -> dict[tuple[str, str], bool]:
    outcomes: dict[tuple[str, str], bool] = {}
    for case in ET.parse(report).getroot().iter("testcase"):
        bad = any(child.tag in ("failure", "error", "skipped") for child in case)
        outcomes[(case.get("classname", ""), case.get("name", ""))] = not bad
    return outcomes


def _passed(outcomes: dict[tuple[str, str], bool], test_id: str) -> bool:
    """A parametrized test named without its parameters passes when every case passes."""
    key = node_key(test_id)
    if key in outcomes:
        return outcomes[key]
    cases = [ok for (cls, name), ok in outcomes.items()
             if cls == key[0] and name.startswith(key[1] + "[")]
    return bool(cases) and all(cases)


def _patched_files(patch: str | None) -> set[str]:
    return {line[6:].strip() for line in (patch or "").splitlines() if line.startswith("+++ b/")}


def checkout_branch(repo: Path, branch: str, dest: Path) -> bool:
    """A fresh clone of `repo` at `branch` in `dest`; False when the branch does not exist."""
    if git(repo, "rev-parse", "-q", "--verify", f"refs/heads/{branch}", check=False).returncode:
        return False
    git(repo.parent, "clone", "-q", "--branch", branch, str(repo), str(dest))
    return True


def run_hidden_tests(task: Task, checkout: Path) -> Verdict:
    spec = task.verify
    for rel, text in spec.files.items():
        target = checkout / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(text, "utf-8")
    env = {**os.environ, "PYTHONDONTWRITEBYTECODE": "1",
           # Plug-ins installed next to Tack are not the task's; loading them all costs ~1 s.
           **({} if spec.plugin_autoload else {"PYTEST_DISABLE_PLUGIN_AUTOLOAD": "1"}),
           "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}"}
    if spec.patch:
        done = subprocess.run(["git", "apply", "-"], cwd=checkout, input=spec.patch, text=True,
                              capture_output=True, check=False)
        if done.returncode != 0:
            return Verdict(output=f"hidden test patch does not apply: {done.stderr[-500:]}")
    if task.setup:
        # The suite's setup line is a shell command line, like a workspace hook.
        done = subprocess.run(["sh", "-c", task.setup], cwd=checkout, env=env, text=True,
                              capture_output=True, timeout=spec.timeout_s, check=False)
        if done.returncode != 0:
            return Verdict(output=f"setup failed: {(done.stderr or done.stdout)[-500:]}")
    ids = list(dict.fromkeys(spec.fail_to_pass + spec.pass_to_pass))
    report = checkout.parent / f"{checkout.name}-junit.xml"
    argv = shlex.split(spec.command)
    pytest = "pytest" in spec.command
    if argv and argv[0] == "python":
        argv[0] = sys.executable
    if pytest:
        # A hidden test module that cannot import yet must not stop the other tests.
        argv += [f"--junit-xml={report}", "-o", "junit_family=xunit1",
                 "--continue-on-collection-errors"]
    # pytest refuses every node id once one of their modules fails to import, which a hidden
    # test of a feature not built yet does: hidden files run whole (with
    # --continue-on-collection-errors), the repository's own tests by node id (much faster).
    hidden = set(spec.files) | _patched_files(spec.patch)
    targets = list(dict.fromkeys(
        i.split("::")[0] if i.split("::")[0] in hidden else i for i in ids)) if pytest else ids
    try:
        done = subprocess.run([*argv, *targets], cwd=checkout, env=env, text=True,
                              capture_output=True, timeout=spec.timeout_s, check=False)
    except subprocess.TimeoutExpired:
        return Verdict(output=f"hidden tests timed out after {spec.timeout_s:.0f} s")
    output = (done.stdout + done.stderr)[-4000:]
    if pytest and report.is_file():
        outcomes = _read_junit(report)
        return Verdict({i: _passed(outcomes, i) for i in ids}, output)
    return Verdict({i: done.returncode == 0 for i in ids}, output)
