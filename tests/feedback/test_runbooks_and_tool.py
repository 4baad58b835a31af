"""Runbook matching and errors, the token counter, and the built-in agent's `check` tool."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from tack.agents.base import SessionContext
from tack.agents.tools import TOOL_NAMES, run_tool
from tack.feedback import Finding, RunbookError, count_tokens, load_runbooks
from tack.tracker.base import Issue

REPO = Path(__file__).resolve().parents[2]


def test_the_repositorys_runbooks_cover_the_common_findings():
    books = load_runbooks(REPO / "runbooks", REPO)
    unused = Finding(kind="lint", tool="ruff", rule="F401", message="`os` imported but unused",
                     path="src/x.py", line=1)
    mypy = Finding(kind="type", tool="mypy", rule="assignment", message="Incompatible types")
    pyright = Finding(kind="type", tool="pyright", rule="reportAssignmentType", message="x")
    failed = Finding(kind="test", tool="pytest", rule="AssertionError", message="assert 1 == 2")
    other = Finding(kind="lint", tool="ruff", rule="E501", message="Line too long")
    matched = {f.rule: next((b.path for b in books if b.matches(f)), None)
               for f in (unused, mypy, pyright, failed, other)}
    assert matched == {"F401": "runbooks/ruff-unused-import.md",
                       "assignment": "runbooks/mypy-type-errors.md",
                       "reportAssignmentType": "runbooks/mypy-type-errors.md",
                       "AssertionError": "runbooks/pytest-assertion.md", "E501": None}


def test_path_globs_narrow_a_runbook(tmp_path: Path):
    (tmp_path / "rb").mkdir()
    (tmp_path / "rb" / "api.md").write_text(
        "---\ncovers:\n  messages: ['timeout']\n  paths: ['src/api/**']\n---\n# API timeouts\n")
    (book,) = load_runbooks(tmp_path / "rb", tmp_path)
    assert book.title == "API timeouts" and book.path == "rb/api.md"
    assert book.matches(Finding(kind="lint", tool="x", message="timeout", path="src/api/a.py"))
    assert not book.matches(Finding(kind="lint", tool="x", message="timeout", path="src/b.py"))


@pytest.mark.parametrize("front,needle", [
    ("---\ntitle: x\n---\n", "needs a `covers:` map"),
    ("---\ncovers: {messages: ['(']}\n---\n", "not a valid regular expression"),
    ("---\ncovers: [\n---\n", "not valid YAML"),
])
def test_a_broken_runbook_is_an_error_naming_the_file(tmp_path: Path, front: str, needle: str):
    (tmp_path / "bad.md").write_text(front + "# body\n")
    with pytest.raises(RunbookError) as info:
        load_runbooks(tmp_path, tmp_path)
    assert str(tmp_path / "bad.md") in info.value.message and needle in info.value.message


def test_token_counter_works_offline():
    assert count_tokens("") == 0
    assert 0 < count_tokens("def f(a, b):\n    return a + b\n") <= 30


async def test_builtin_agent_check_tool_runs_the_feedback_engine(git_repo: Path):
    assert "check" in TOOL_NAMES
    (git_repo / "test_a.py").write_text("def test_a():\n    assert 1 + 1 == 3\n")
    issue = Issue(id="1", identifier="T-1", title="t", state="Todo")
    # The check tool never touches the tracker; the others are tested in tests/agents.
    ctx = SessionContext(workspace=git_repo, issue=issue, tracker=None)  # type: ignore[arg-type]
    outcome = await run_tool(
        "check", {"command": f"{sys.executable} -m pytest -q -p no:cacheprovider"}, ctx)
    assert not outcome.ok
    assert outcome.output.startswith("exit code: 1")
    assert "test_a.py::test_a" in outcome.output and "assert (1 + 1) == 3" in outcome.output
    none = await run_tool("check", {}, ctx)
    assert not none.ok and "no checks configured" in none.output
