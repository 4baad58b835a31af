"""Tack's own PRINCIPLES.md is valid and its code base scans clean (or baselined);
`tack init` gives a new repository a starter document that works."""

from __future__ import annotations

from pathlib import Path

from tests.conftest import run_tack

ROOT = Path(__file__).resolve().parents[2]


def test_tacks_own_principles_lint_clean_and_the_repo_scans_clean() -> None:
    lint = run_tack("principles", "lint", cwd=ROOT)
    assert lint.returncode == 0, lint.stdout
    assert "0 error(s)" in lint.stdout
    listed = run_tack("principles", "list", cwd=ROOT).stdout.splitlines()
    assert len(listed) >= 15
    assert sum("\tast-grep\t" in line for line in listed) >= 10
    scan = run_tack("scan", cwd=ROOT, timeout=300)
    assert scan.returncode == 0, scan.stdout + scan.stderr


def test_init_writes_a_starter_principles_document_once(git_repo: Path) -> None:
    assert run_tack("init", cwd=git_repo).returncode == 0
    doc = git_repo / "PRINCIPLES.md"
    lint = run_tack("principles", "lint", cwd=git_repo)
    assert lint.returncode == 0 and "3 principle(s), 0 error(s)" in lint.stdout
    (git_repo / "bad.py").write_text("try:\n    go()\nexcept:\n    pass\n")
    scan = run_tack("scan", cwd=git_repo)
    assert scan.returncode == 1 and scan.stdout.startswith("bad.py:3:1: P001")
    doc.write_text("# mine\n")
    assert run_tack("init", "--force", cwd=git_repo).returncode == 0
    assert doc.read_text() == "# mine\n"
