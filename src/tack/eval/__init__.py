"""`tack eval`: compare harness variants on the same tasks through the real orchestrator.

A suite (`suite.py`) lists tasks; `runner.py` runs every (task, variant, repeat) as a fresh
repository, WORKFLOW.md and local tracker, then scores the agent's branch with hidden tests;
`store.py` keeps results in SQLite; `stats.py` and `report.py` turn them into paired
comparisons. docs/eval.md is the user's guide.
"""

from __future__ import annotations

from tack.eval.suite import EvalError, Suite, Task, load_suite

__all__ = ["EvalError", "Suite", "Task", "load_suite"]
