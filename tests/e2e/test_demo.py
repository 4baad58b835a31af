"""`tack demo` end to end, as a new user runs it."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.conftest import git, run_tack

pytestmark = pytest.mark.slow


def test_demo_hands_off_every_issue_with_passing_tests_on_its_branch(tmp_path: Path) -> None:
    demo_dir = tmp_path / "demo"
    result = run_tack("demo", "--dir", str(demo_dir), "--keep", timeout=120)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "Demo passed" in result.stderr
    assert "Traceback" not in result.stderr
    repo = demo_dir / "repo"
    branches = git(repo, "branch", "--format=%(refname:short)").split()
    assert {"tack/tack-1", "tack/tack-2", "tack/tack-3"} <= set(branches)
    for n in (1, 2, 3):
        log = git(repo, "log", "-1", "--format=%s", f"tack/tack-{n}")
        assert log.startswith(f"Fix TACK-{n}:")
    issues = run_tack("issue", "list", "--json", "--workflow", str(demo_dir / "WORKFLOW.md"))
    assert issues.returncode == 0, issues.stderr
    assert issues.stdout.count('"Human Review"') == 3
