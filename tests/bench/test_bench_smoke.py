"""The orchestrator benchmark runs end to end with tiny parameters and reports sane figures.

No timing assertions: performance numbers live in the bench's own output (docs/benchmarks.md).
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

BENCH = Path(__file__).resolve().parents[2] / "bench" / "orchestrator.py"


@pytest.mark.slow  # two load runs and three boards, each a real repo and store: ~5 s
def test_orchestrator_bench_dispatches_every_issue_and_records_events(tmp_path: Path) -> None:
    proc = subprocess.run(
        [sys.executable, str(BENCH), "--issues", "5", "--seconds", "0.5",
         "--tracker-issues", "200", "--tick-reps", "2", "--idle-seconds", "0.2",
         "--capacity-events", "300", "--json"],
        cwd=tmp_path, capture_output=True, text=True, timeout=120,
    )
    assert proc.returncode == 0, proc.stderr
    result = json.loads(proc.stdout)

    assert set(result) >= {"machine", "params", "raw_store_insert_per_second",
                           "batched_store_insert_per_second", "runs", "tick"}
    assert result["raw_store_insert_per_second"] > 0
    assert set(result["runs"]) == {"directory", "worktree"}
    for strategy, run in result["runs"].items():
        assert run["strategy"] == strategy
        assert run["dispatched"] == 5 and run["finished"] == 5
        latency = run["dispatch_latency_ms"]
        assert 0 <= latency["min"] <= latency["p50"] <= latency["p99"] <= latency["max"]
        assert 1 <= run["peak_concurrent_agents"] <= 5
        events = run["events"]
        # 5 agents x (1 session_started + 0.5 s x 20 events/s), every one stored.
        assert events["emitted_total"] == 5 * 11
        assert events["recorded_agent_events"] == events["emitted_total"]
        assert events["lost"] == 0 and events["recorded_per_second"] > 0
        assert run["ingest_capacity"]["per_second"] > 0
        assert run["cpu"]["steady_cores"] >= 0 and run["rss"]["peak_mb"] > 0

    ticks = result["tick"]
    assert set(ticks) == {"baseline", "board", "backlog"}
    assert ticks["baseline"]["issues"] == 100
    assert ticks["backlog"]["issues"] == 200 and ticks["backlog"]["candidates_fetched"] == 200
    for tick in ticks.values():
        assert tick["running"] == 10
        assert tick["warm_ms"] > 0 and tick["after_write_ms"] > 0
        assert tick["warm_vs_baseline"] > 0
