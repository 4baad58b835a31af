"""The real claude CLI hands off while reconciliation polls every 100 ms: its turn is let
finish, so the final `result` usage (claude reports a turn's real output tokens only there)
is counted, and the run reads succeeded, handed off."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tack.agents.mcp_tracker import CLAUDE_TOOL_NAME
from tests.agents.test_claude import needs_claude
from tests.e2e.harness import wait_for
from tests.e2e.test_claude_e2e import claude_processes, start

pytestmark = [pytest.mark.slow, needs_claude]

STEPS = [
    {"tool_calls": [{"name": CLAUDE_TOOL_NAME,
                     "arguments": {"action": "move", "state": "Human Review"}}]},
    # The last answer comes well after the move, with the turn's largest usage.
    {"text": "Moved to Human Review; the change is ready.", "delay_ms": 2000,
     "usage": {"input_tokens": 500, "output_tokens": 640}},
]


def test_a_claude_run_that_hands_off_keeps_its_final_usage_and_reads_succeeded(
        tmp_path: Path, cleanup: list[Any]) -> None:
    _, up, home = start(tmp_path, [{"match": "Work on TACK-1", "steps": STEPS}],
                              cleanup, polling={"interval_ms": 100})
    run = wait_for(lambda: (d := up.detail("TACK-1")) and d["runs"] and d["runs"][0]["ended_at"]
                   and d["runs"][0], 90, f"the run to end\n{up.output()}")
    assert run["status"] == "succeeded" and run["error"] is None, run
    assert run["end_reason"] == "handed off: moved to 'Human Review'"
    assert run["tokens"]["output_tokens"] >= 640, run
    wait_for(lambda: not claude_processes(home), 20, "claude to exit after the run")
