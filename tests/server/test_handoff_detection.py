"""A hand-off counts once per run, whether the worker saw the move or reconciliation did."""

from __future__ import annotations

from pathlib import Path

from tack.store import Store
from tack.store.metrics import handoffs_since, recent_handoffs


def test_handoffs_come_from_the_worker_or_reconciliation_once_per_run(tmp_path: Path) -> None:
    store = Store(tmp_path / "state.db")
    try:
        notes = {
            "TACK-1": ["issue moved to 'Human Review'; ending the session"],
            "TACK-2": ["stopping run: issue is now 'Human Review'"],
            "TACK-3": ["issue moved to 'Human Review'; ending the session",
                       "stopping run: issue is now 'Human Review'"],
            "TACK-4": ["stopping run: issue is now 'Backlog'"],
        }
        for ident, messages in notes.items():
            run_id = store.start_run(issue_id=ident, identifier=ident, attempt=None,
                                     issue_state="Todo", issue_url=None)
            for message in messages:
                store.add_event(run_id=run_id, issue_id=ident, identifier=ident,
                                kind="orchestrator", message=message)
        recent = recent_handoffs(store.db, "Human Review")
        since = handoffs_since(store.db, 0, "human review")
    finally:
        store.close()
    assert sorted(h.identifier for h in recent) == ["TACK-1", "TACK-2", "TACK-3"]
    assert sorted(h.identifier for h in since) == ["TACK-1", "TACK-2", "TACK-3"]
