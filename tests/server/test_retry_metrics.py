"""Retries and continuations are different things: the re-check after a clean exit is not a
retry, so three runs that all succeeded at their first attempt show 0 retries."""

from __future__ import annotations

import time
from pathlib import Path

from tack.store import Store
from tack.store.metrics import collect


def _scheduled(store: Store, n: int, kind: str, error: str | None = None) -> None:
    store.add_event(run_id=None, issue_id=f"id-{n}", identifier=f"TACK-{n}", kind="retry_scheduled",
                    message=f"retry #1 in 1000 ms ({kind})" + (f": {error}" if error else ""))


def test_continuations_after_clean_exits_are_not_counted_as_retries(tmp_path: Path) -> None:
    store = Store(tmp_path / "state.db")
    for n in (1, 2, 3):
        run = store.start_run(issue_id=f"id-{n}", identifier=f"TACK-{n}", attempt=None)
        store.finish_run(run, "succeeded")
        _scheduled(store, n, "continuation")
    m = collect(store.db, since=time.time() - 3600, handoff_state="Human Review")
    assert m.retries_total == 0 and m.continuations_total == 3
    _scheduled(store, 4, "failure", "agent turn error: boom")
    m = collect(store.db, since=time.time() - 3600, handoff_state="Human Review")
    assert (m.retries_total, m.continuations_total) == (1, 3)
    assert m.to_dict()["retries_by_kind"] == {"continuation": 3, "failure": 1}
    store.close()


def test_the_live_counters_show_continuation_checks_apart_from_retries() -> None:
    from rich.console import Console

    from tack.cli.status import render_state
    from tack.server.fragments import totals

    snapshot = {
        "counts": {"running": 0, "retrying": 3},
        "codex_totals": {"total_tokens": 0, "seconds_running": 0},
        "retrying": [{"issue_identifier": f"TACK-{n}", "kind": kind, "attempt": 1, "due_in_ms": 0}
                     for n, kind in ((1, "continuation"), (2, "continuation"), (3, "failure"))],
        "running": [], "recent_handoffs": [], "recent_runs": [],
    }
    html = str(totals(snapshot))
    assert '<strong id="n-retrying">1</strong>' in html
    assert '<strong id="n-continuing">2</strong>' in html
    console = Console(width=200, record=True)
    console.print(render_state(snapshot, "http://127.0.0.1:1"))
    assert "retrying 1  continuing 2" in console.export_text()
