"""A long-running orchestrator's per-issue bookkeeping does not grow with issues that ended:
`completed` (SPEC §4.1.8) keeps only issues still claimed or listed as active, the issues
to re-read after a hand-off (`recheck`) only for as long as a listing might lag, and the
question desk the `/answer` comments of open questions only."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tack.orchestrator import recheck
from tack.orchestrator.state import RunningEntry
from tack.questions.model import Asked
from tack.questions.park import QuestionDesk, park
from tack.questions.store import QuestionStore
from tack.store import Store
from tack.tracker import build_tracker
from tests.conformance.test_17_4_orchestrator_dispatch_reconciliation_retry import (
    HANDOFF,
    rig_factory,
)
from tests.e2e.harness import await_until as until
from tests.tracker_remote.conftest import write_workflow
from tests.tracker_remote.test_question_labels import Host

__all__ = ["rig_factory"]


async def test_completed_forgets_issues_that_left_the_active_states(rig_factory: Any) -> None:
    rig = await rig_factory([{"text": "nothing to do"}], agent={"max_turns": 1},
                            polling={"interval_ms": 50})
    for batch in range(3):
        issues = [rig.add(f"issue {batch}.{n}") for n in range(4)]
        # Each run succeeds and waits for its continuation check; then a person closes it.
        await until(lambda: all(i.id in rig.orch.completed for i in issues),
                    what="every run to succeed")
        for i in issues:
            rig.tracker.move_sync(i.id, "Done")
        await until(lambda: not rig.orch.claimed and not rig.orch.completed,
                    what="the closed issues to leave the orchestrator's bookkeeping")


async def test_handed_off_forgets_issues_once_no_listing_can_still_lag(
        rig_factory: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    # No listing lags at all: each hand-off makes the ones before it too old to re-read.
    monkeypatch.setattr(recheck, "LISTING_LAG_S", 0.0)
    rig = await rig_factory(HANDOFF, agent={"max_turns": 1}, polling={"interval_ms": 50})

    def ended(issue: Any) -> bool:
        runs = rig.store.runs_for(issue.identifier)
        return issue.id not in rig.orch.running and any(r["status"] != "running" for r in runs)

    for batch in range(3):
        issues = [rig.add(f"issue {batch}.{n}") for n in range(4)]
        await until(lambda: all(ended(i) for i in issues), what="every run to hand off")
        # One remembered: the latest hand-off, not every one since the start.
        assert len(rig.orch.handed_off) == 1, "handed-off issues pile up in the orchestrator"
        assert any(i.id in rig.orch.handed_off for i in issues)
        for i in issues:  # a person closes them; no listing shows them as active again
            rig.tracker.move_sync(i.id, "Done")


async def test_the_question_desk_forgets_answer_comments_of_questions_no_longer_open(
        tmp_path: Path) -> None:
    cfg = write_workflow(tmp_path, "tracker: {kind: local}")
    tracker = build_tracker(cfg.tracker, tack_dir=tmp_path / ".tack")
    host = Host(cfg, tracker, Store(tmp_path / "state.db"))
    desk = QuestionDesk(host)
    try:
        for n in range(3):
            issue = tracker.add_issue(f"issue {n}")
            entry = RunningEntry(issue=issue, run_id=n + 1, attempt=None)
            assert await park(host, entry, Asked("Which database?", ["a", "b"], 1)) is None
            tracker.comment_sync(issue.id, "/answer 2", author="ana")
            await desk.sweep()  # reads the answer
            assert not QuestionStore(host.store.db).where(status="open")
        await desk.sweep()
        assert not desk.seen_answers, "answered questions' comments are remembered forever"
    finally:
        await tracker.close()
        host.store.close()
