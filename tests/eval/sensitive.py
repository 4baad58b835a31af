"""A task family and a "sensitive" stub model for `tack eval` tests.

Every task is the same small repository with an off-by-one bug; the stub model fixes it
correctly only when the prompt carries the principle's runbook, and otherwise makes a
plausible wrong fix. So a variant with the principle resolves every task and one without
resolves none, through the real orchestrator, built-in agent and hidden tests.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from tests.conftest import git

RUNBOOK = "Compare the upper bound with <= so both range bounds stay inclusive."

PRINCIPLES = f"""# Golden principles

## P101: Range bounds are inclusive
Why: Callers pass closed ranges; a value on the upper range bound belongs to the range.
Runbook: {RUNBOOK}
Severity: warning
"""

BOUNDS = '''def in_range(x, lo, hi):
    """True when lo <= x <= hi: both range bounds are inclusive."""
    return lo <= x < hi
'''

HIDDEN_TEST = '''from bounds import in_range


def test_upper_bound_is_inclusive():
    assert in_range(10, 0, 10)


def test_inside_and_outside():
    assert in_range(5, 0, 10)
    assert in_range(0, 0, 10)
    assert not in_range(11, 0, 10)
'''


def _steps(old: str, new: str) -> list[dict[str, Any]]:
    return [
        {"tool_calls": [{"name": "edit_file",
                         "arguments": {"path": "bounds.py", "old": old, "new": new}}]},
        {"tool_calls": [{"name": "shell", "arguments": {
            "command": "git add -A && git commit -q -m 'Fix the range check'"}}]},
        {"tool_calls": [{"name": "tracker",
                         "arguments": {"action": "move", "state": "Human Review"}}]},
        {"text": "Fixed and handed off."},
    ]


def stub_script() -> dict[str, Any]:
    return {"conversations": [
        # With the runbook in the prompt: the right fix.
        {"match": "Runbook: Compare the upper bound", "steps": _steps("x < hi", "x <= hi")},
        # Without it: a wrong fix that still hands off.
        {"steps": _steps("lo <= x < hi", "lo < x < hi")},
    ]}


def make_suite(root: Path, tasks: int) -> Path:
    """A directory suite of `tasks` tasks over one local repository, plus PRINCIPLES.md."""
    repo = root / "bounds-repo"
    repo.mkdir(parents=True)
    (repo / "bounds.py").write_text(BOUNDS)
    git(repo, "init", "-q", "-b", "main")
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", "bounds")
    suite = root / "suite"
    suite.mkdir()
    for n in range(tasks):
        (suite / f"task-{n:02d}.json").write_text(json.dumps({
            "id": f"bounds-{n:02d}",
            "repo": {"path": "../bounds-repo"},
            "issue": {"title": f"in_range rejects the upper range bound (report {n})",
                      "description": "in_range(10, 0, 10) is False; range bounds should be "
                                     "inclusive. See bounds.py.",
                      "labels": ["bug"]},
            "verify": {"fail_to_pass": ["test_hidden.py::test_upper_bound_is_inclusive"],
                       "pass_to_pass": ["test_hidden.py::test_inside_and_outside"],
                       "files": {"test_hidden.py": HIDDEN_TEST}},
        }))
    (root / "PRINCIPLES.md").write_text(PRINCIPLES)
    (root / "stub.json").write_text(json.dumps(stub_script()))
    return suite
