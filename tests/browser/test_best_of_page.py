"""A best-of-N race on the issue page in a real browser: the attempts' table (the PR body's)
shows each attempt's backend and model, visible tests, findings, judge score, tokens, time,
and which won and why; the page passes axe-core with no serious or critical violation."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from tack.eval.bestof import Attempt, BestOfResult, JudgeVerdict, winner_reason
from tests.browser.conftest import shot
from tests.server.served import ServedOrchestrator


def _race() -> dict[str, Any]:
    """A record as the race writes it (the real dataclasses, not a hand-written dict)."""
    won = Attempt(1, "guided", backend="claude", model="sonnet", branch="tack/tack-1",
                  handed_off=True, checks_passed=True, principle_findings=1, changed_lines=2,
                  tokens=12_345, seconds=41.5, judge_pick=False, judge_score=4)
    lost = Attempt(0, "plain", backend="builtin", model="gpt-4.1", branch="tack/tack-1",
                   handed_off=True, checks_passed=False, check_findings=2, changed_lines=2,
                   tokens=9_876, seconds=38.0, judge_pick=True, judge_score=7,
                   judge_reason="the tidier patch")
    broken = Attempt(2, "plain", backend="builtin", model="gpt-4.1", tokens=10,
                     error="not handed off within 60 s")
    won.winner = True
    result = BestOfResult("TACK-1", "tack/tack-1", won, [lost, won, broken],
                          why=winner_reason(won, [won, lost]), run_id=3,
                          judge=JudgeVerdict("stub", '{"best": 0, "why": "the tidier patch"}'))
    return result.to_dict()


def test_the_issue_page_shows_a_best_of_races_attempts(tmp_path: Path, page: Any) -> None:
    from axe_playwright_python.sync_playwright import Axe

    with ServedOrchestrator(tmp_path) as served:
        served.orch.tracker.add_issue("Fix the range check", labels=["best-of:3"])
        record = served.orch.workflow.tack_dir / "best-of" / "TACK-1.json"
        record.parent.mkdir(parents=True, exist_ok=True)
        record.write_text(json.dumps(_race()))
        page.goto(served.url + "/issues/TACK-1")
        table = page.locator("#best-of table")
        table.wait_for()
        assert page.inner_text("#best-of-h") == "Best of 3 (run 3)"
        head = [c.strip() for c in table.locator("thead th").all_inner_texts()]
        assert head == ["Attempt", "Backend / model", "Visible tests", "Principle findings",
                        "Judge", "Tokens", "Wall time", "Outcome"]
        rows = [[c.strip() for c in row.locator("td").all_inner_texts()]
                for row in table.locator("tbody tr").all()]
        assert rows[0] == ["0", "builtin / gpt-4.1 (plain)", "fail (2 findings)", "0",
                           "7/10, picked", "9,876", "38.0 s", "lost"]
        assert rows[1][:7] == ["1", "claude / sonnet (guided)", "pass", "1", "4/10", "12,345",
                               "41.5 s"]
        assert rows[1][7].startswith("winner: its visible tests pass")
        assert rows[2] == ["2", "builtin / gpt-4.1 (plain)", "not run", "not run", "not asked",
                           "10", "0.0 s", "not handed off within 60 s"]
        violations = [v["id"] for v in Axe().run(page).response["violations"]
                      if v.get("impact") in ("serious", "critical")]
        assert not violations, violations
        shot(page, "issue-best-of")
        assert not page.errors, page.errors
