"""Helpers for workflow tests: write a WORKFLOW.md from front matter and a body."""

from __future__ import annotations

import textwrap
from pathlib import Path

FIXTURES = Path(__file__).parent / "fixtures"
SYMPHONY_WORKFLOW = FIXTURES / "symphony_elixir_WORKFLOW.md"


def write_workflow(directory: Path, front: str | None, body: str = "Work on {{ issue.identifier }}.",
                   name: str = "WORKFLOW.md") -> Path:
    path = directory / name
    text = body if front is None else f"---\n{textwrap.dedent(front).strip()}\n---\n{body}\n"
    path.write_text(text)
    return path
