"""Metrics over HTTP: `/api/v1/metrics` (JSON for the dashboard's charts) and `/metrics`
(Prometheus text exposition format 0.0.4).

Store queries run on a private read-only connection in a worker thread, so a scrape never
blocks the orchestrator's loop; results are cached briefly because scrapers and dashboards poll.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from tack.store.metrics import Metrics, collect, open_readonly

if TYPE_CHECKING:
    from tack.orchestrator import Orchestrator

CACHE_SECONDS = 5.0
PROMETHEUS_CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"


class MetricsSource:
    """Computes `Metrics` for a window, off the event loop, with a short cache."""

    def __init__(self, orch: Orchestrator, clock: Callable[[], float] = time.monotonic) -> None:
        self.orch = orch
        self.clock = clock
        self._cache: dict[tuple[float, bool], tuple[float, Metrics]] = {}

    def __len__(self) -> int:
        return len(self._cache)

    async def get(self, window_seconds: float | None, *, with_git: bool = True) -> Metrics:
        key = (window_seconds or 0.0, with_git)
        hit = self._cache.get(key)
        if hit and self.clock() - hit[0] < CACHE_SECONDS:
            return hit[1]
        wf = self.orch.workflow
        since = time.time() - window_seconds if window_seconds else 0.0
        repo = wf.repo_dir() if with_git else None
        handoff = wf.config.tracker.handoff_state
        prefix = wf.config.workspace.branch_prefix
        path = self.orch.store.path

        def compute() -> Metrics:
            db = open_readonly(path)
            try:
                return collect(db, since=since, handoff_state=handoff, repo=repo, branch_prefix=prefix)
            finally:
                db.close()

        metrics = await asyncio.to_thread(compute)
        now = self.clock()
        # The window comes from the request (`?since=`): keep only answers still fresh, not
        # one per window any client ever asked for.
        self._cache = {k: v for k, v in self._cache.items() if now - v[0] < CACHE_SECONDS}
        self._cache[key] = (now, metrics)
        return metrics


def _label(value: object) -> str:
    text = str(value).replace("\\", "\\\\").replace("\n", "\\n").replace('"', '\\"')
    return f'"{text}"'


class _Exposition:
    def __init__(self) -> None:
        self.lines: list[str] = []

    def family(self, name: str, kind: str, help_text: str, samples: list[tuple[dict[str, Any], float]]) -> None:
        # Text format 0.0.4 names a counter family with its `_total` suffix (unlike OpenMetrics).
        sample_name = f"{name}_total" if kind == "counter" else name
        self.lines.append(f"# HELP {sample_name} {help_text}")
        self.lines.append(f"# TYPE {sample_name} {kind}")
        for labels, value in samples:
            rendered = ",".join(f"{k}={_label(v)}" for k, v in labels.items())
            self.lines.append(f"{sample_name}{{{rendered}}} {float(value)!r}" if rendered
                              else f"{sample_name} {float(value)!r}")

    def text(self) -> str:
        return "\n".join(self.lines) + "\n"


def prometheus_text(snapshot: dict[str, Any], metrics: Metrics) -> str:
    """Render the live snapshot (gauges) and all-time store metrics (counters)."""
    out = _Exposition()
    totals = snapshot["codex_totals"]
    out.family("tack_running_sessions", "gauge", "Agent sessions running now.",
               [({}, snapshot["counts"]["running"])])
    out.family("tack_retry_queue_length", "gauge", "Issues waiting for a retry.",
               [({}, snapshot["counts"]["retrying"])])
    out.family("tack_max_concurrent_agents", "gauge", "Configured agent.max_concurrent_agents.",
               [({}, snapshot["limits"]["max_concurrent_agents"])])
    out.family("tack_tokens", "counter", "Model tokens used by agents, all time.",
               [({"type": "input"}, totals["input_tokens"]),
                ({"type": "output"}, totals["output_tokens"]),
                ({"type": "total"}, totals["total_tokens"])])
    out.family("tack_agent_seconds", "counter", "Wall-clock seconds agents have run, all time.",
               [({}, totals["seconds_running"])])
    out.family("tack_poll_ticks", "counter", "Orchestrator poll ticks since start.",
               [({}, snapshot["health"]["ticks"])])
    running = snapshot["running"]
    out.family("tack_session_tokens", "gauge", "Tokens used by each running session.",
               [({"issue": r["issue_identifier"]}, r["tokens"]["total_tokens"]) for r in running])
    out.family("tack_session_turns", "gauge", "Current turn of each running session.",
               [({"issue": r["issue_identifier"]}, r["turn_count"]) for r in running])
    out.family("tack_session_elapsed_seconds", "gauge", "Age of each running session.",
               [({"issue": r["issue_identifier"]}, r["elapsed_seconds"]) for r in running])
    out.family("tack_runs", "counter", "Runs recorded in the state db, by status.",
               [({"status": s}, n) for s, n in sorted(metrics.runs_by_status.items())])
    if metrics.success_rate is not None:
        out.family("tack_run_success_ratio", "gauge", "Succeeded runs / finished runs, all time.",
                   [({}, metrics.success_rate)])
    out.family("tack_retries_scheduled", "counter", "Retries scheduled, by kind.",
               [({"kind": k}, n) for k, n in sorted(metrics.retries_by_kind.items())])
    out.family("tack_handoffs", "counter", "Issues handed off to people.",
               [({}, len(metrics.handoffs))])
    if metrics.median_seconds_to_handoff is not None:
        out.family("tack_handoff_lead_time_median_seconds", "gauge",
                   "Median seconds from an issue's first run to its hand-off.",
                   [({}, metrics.median_seconds_to_handoff)])
    return out.text()
