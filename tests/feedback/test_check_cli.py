"""`tack check` end to end: a real git repo, a real failing pytest suite, real ruff."""

from __future__ import annotations

import json
import shutil
import sqlite3
import sys
from pathlib import Path

import pytest

from tests.conftest import git, run_tack

RUFF = shutil.which("ruff", path=str(Path(sys.executable).parent)) or shutil.which("ruff")
PYTEST = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider"]

CALC = '''import os


def add(a, b):
    return a - b


def div(a, b):
    return a / b
'''
TESTS = '''import pytest

from calc import add, div


@pytest.mark.parametrize("n", [1, 2, 3])
def test_add(n):
    assert add(n, n) == 2 * n


def test_div():
    assert div(1, 0) == 0


def test_ok():
    assert div(4, 2) == 2
'''
RUNBOOK = '''---
title: Arithmetic goes wrong
covers:
  rules: [AssertionError]
---
# Arithmetic
Check the operator.
'''


@pytest.fixture
def project(git_repo: Path) -> Path:
    (git_repo / "calc.py").write_text(CALC)
    (git_repo / "test_calc.py").write_text(TESTS)
    (git_repo / "runbooks").mkdir()
    (git_repo / "runbooks" / "arith.md").write_text(RUNBOOK)
    git(git_repo, "add", "-A")
    git(git_repo, "commit", "-q", "-m", "calc")
    return git_repo


def test_failing_pytest_suite_becomes_prose_with_every_id_and_the_exit_code(project: Path):
    result = run_tack("check", "--no-history", "--", *PYTEST, cwd=project)
    assert result.returncode == 1, result.stderr
    out = result.stdout
    assert "4 of 4 test(s) failed" not in out and "4 of 5 test(s) failed" in out
    assert "3 tests fail the same way:\n" + "\n".join(
        f"   - test_calc.py::test_add[{n}]: AssertionError: assert 0 == (2 * {n})"
        for n in (1, 2, 3)) in out
    assert "at test_calc.py:8 → calc.py:5" not in out  # the assert is in the test itself
    assert "at test_calc.py:8" in out
    assert "test_calc.py::test_div" in out and "ZeroDivisionError: division by zero" in out
    assert "test_calc.py:12 → calc.py:9" in out
    assert "runbook: runbooks/arith.md (Arithmetic goes wrong)" in out
    assert "site-packages" not in out and "/usr/lib" not in out


def test_a_passing_command_exits_zero(project: Path):
    result = run_tack("check", "--no-history", "--", *PYTEST, "-k", "test_ok", cwd=project)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "pytest passed" in result.stdout


def test_the_exit_code_mirrors_the_command(project: Path):
    result = run_tack("check", "--no-history", "--", "bash", "-c", "echo broken; exit 3",
                      cwd=project)
    assert result.returncode == 3
    assert "exited with code 3" in result.stdout and "broken" in result.stdout


# A hook implementation asking for an argument the installed pytest's hookspec lacks: pytest
# dies registering the conftest (pluggy's PluginValidationError) before it collects anything.
BROKEN_CONFTEST = '''
def pytest_collection_modifyitems(items, an_argument_this_pytest_does_not_have_whose_long_name_makes_the_error_line_wider_than_a_detail_line):
    pass
'''


def test_an_unparsable_failure_shows_the_final_exception_whole(project: Path):
    (project / "conftest.py").write_text(BROKEN_CONFTEST)
    result = run_tack("check", "--no-history", "--", *PYTEST, cwd=project)
    assert result.returncode != 0, result.stdout
    out = result.stdout
    assert "found no findings it could parse; its output ends with:" in out
    arg = "an_argument_this_pytest_does_not_have_whose_long_name_makes_the_error_line_wider_than_a_detail_line"
    conftest = project / "conftest.py"
    for line in (
        f"   pluggy._manager.PluginValidationError: Plugin '{conftest}' for hook "
        "'pytest_collection_modifyitems'\n",
        f"   hookimpl definition: pytest_collection_modifyitems(items, {arg})\n",
        f"   Argument(s) {{'{arg}'}} are declared in the hookimpl but can not be found in the "
        "hookspec\n",
    ):
        assert line in out, out
    # The traceback before it is elided in the middle, keeping its first and last lines.
    assert "   earlier output:\n   Traceback (most recent call last):\n   … (" in out, out
    assert "raise PluginValidationError(" in out
    assert "more lines)" not in out, out


@pytest.mark.skipif(RUFF is None, reason="ruff is a dev dependency")
def test_real_ruff_findings_group_by_rule_with_fix_hints(project: Path):
    assert RUFF is not None
    result = run_tack("check", "--no-history", "--", RUFF, "check", "--no-cache",
                      "--isolated", ".", cwd=project)
    assert result.returncode == 1, result.stderr
    assert "F401 (ruff)" in result.stdout
    assert "calc.py:1:8 `os` imported but unused" in result.stdout
    assert "ruff check --fix" in result.stdout


def test_json_and_sarif_outputs(project: Path):
    result = run_tack("check", "--no-history", "--json", "--", *PYTEST, cwd=project)
    data = json.loads(result.stdout)
    assert data["exit_code"] == 1
    (check,) = data["checks"]
    assert check["format"] == "junit" and check["tests_total"] == 5
    ids = [f["test_id"] for f in check["findings"]]
    assert ids == [f"test_calc.py::test_add[{n}]" for n in (1, 2, 3)] + ["test_calc.py::test_div"]
    assert check["findings"][0]["runbook"]["path"] == "runbooks/arith.md"

    sarif = json.loads(run_tack("check", "--no-history", "--sarif", "--", *PYTEST,
                                cwd=project).stdout)
    assert sarif["version"] == "2.1.0"
    results = sarif["runs"][0]["results"]
    assert len(results) == 4
    loc = results[3]["locations"][0]["physicalLocation"]
    assert loc["artifactLocation"]["uri"] == "test_calc.py" and loc["region"]["startLine"] == 12


def test_workflow_profiles_and_history_say_where_a_finding_was_fixed(project: Path):
    (project / "WORKFLOW.md").write_text(
        "---\ntracker:\n  kind: local\nfeedback:\n  checks:\n"
        f"    - name: tests\n      command: {json.dumps(' '.join(PYTEST))}\n"
        "      profiles: [fast]\n"
        "    - name: echo\n      command: echo fine\n---\nprompt\n")
    first = run_tack("check", "--profile", "fast", cwd=project)
    assert first.returncode == 1, first.stdout + first.stderr
    assert "seen" not in first.stdout

    git(project, "checkout", "-q", "-b", "fix-div")
    (project / "calc.py").write_text(CALC.replace("a / b", "a / b if b else 0"))
    second = run_tack("check", "--profile", "fast", cwd=project)
    assert "test_div" not in second.stdout
    assert "seen 1 time before" in second.stdout  # test_add is still broken

    git(project, "checkout", "-q", "main")
    git(project, "checkout", "-q", "--", "calc.py")
    third = run_tack("check", "-p", "tests", cwd=project)
    assert "test_calc.py::test_div" in third.stdout
    assert "last fixed on branch fix-div" in third.stdout
    assert "seen 1 time before, last fixed on branch fix-div" in third.stdout

    db = sqlite3.connect(project / ".tack" / "state.db")
    assert db.execute("SELECT COUNT(*) FROM feedback_runs").fetchone() == (3,)
    db.close()

    both = run_tack("check", cwd=project)
    assert "echo passed" in both.stdout and both.returncode == 1


def test_unknown_profile_and_missing_checks_are_clear_errors(project: Path):
    none = run_tack("check", cwd=project)
    assert none.returncode == 2
    assert "no checks configured" in none.stderr and "Traceback" not in none.stderr
    (project / "WORKFLOW.md").write_text(
        "---\nfeedback:\n  checks:\n    - name: lint\n      command: echo hi\n---\nx\n")
    bad = run_tack("check", "--profile", "nope", cwd=project)
    assert bad.returncode == 2
    assert "no check or profile named 'nope'" in bad.stderr and "lint" in bad.stderr


def test_budget_never_drops_a_failing_test(project: Path):
    lines = "\n".join(f"x{i} = {i}  # noqa" for i in range(3))
    many = "\n\n".join(f"def test_t{i}():\n    assert {i} == -1" for i in range(40))
    (project / "test_many.py").write_text(lines + "\n\n" + many + "\n")
    result = run_tack("check", "--no-history", "--budget", "300", "--", *PYTEST, cwd=project)
    for i in range(40):
        assert f"test_many.py::test_t{i}" in result.stdout
    for n in (1, 2, 3):
        assert f"test_calc.py::test_add[{n}]" in result.stdout
    assert "explanations trimmed" in result.stdout
