"""Under a budget, lint rules list a few locations and count the rest; no budget lists all."""

from __future__ import annotations

from tack.feedback.model import CheckRun, Finding
from tack.feedback.render import MAX_ITEMS_PER_RULE, render_prose


def _run() -> CheckRun:
    lint = [Finding(kind="lint", tool="ruff", rule="F401", message=f"`m{i}` imported but unused",
                    path="pkg/a.py", line=i + 1, col=1) for i in range(10)]
    tests = [Finding(kind="test", tool="pytest", rule="AssertionError", test_id=f"t.py::test_{n}",
                     message=f"AssertionError: assert {n} == 0", path="t.py", line=n * 10)
             for n in (1, 2)]
    return CheckRun("checks", "x", 1, "", findings=tests + lint)


def test_a_budget_caps_locations_per_rule_and_says_how_many_more():
    prose = render_prose([_run()], budget=2000)
    shown = [f"pkg/a.py:{i + 1}:1" for i in range(10) if f"pkg/a.py:{i + 1}:1 " in prose]
    assert len(shown) == MAX_ITEMS_PER_RULE
    assert f"… and {10 - MAX_ITEMS_PER_RULE} more F401 (ruff)" in prose
    # The generic likely cause is said once, not for every failing test.
    assert prose.count("likely cause:") == 1
    assert "t.py::test_1" in prose and "t.py::test_2" in prose


def test_no_budget_lists_every_location():
    prose = render_prose([_run()], budget=0)
    assert all(f"pkg/a.py:{i + 1}:1 `m{i}` imported but unused" in prose for i in range(10))
    assert "more F401" not in prose
