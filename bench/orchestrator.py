"""Orchestrator benchmark: many stub agents streaming events through a real orchestrator.

Real parts in one process (git repo, WORKFLOW.md, Store, LocalTracker, Orchestrator); only the
agent is a stub. Every figure is printed next to a baseline measured in the same run.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import math
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import psutil
import yaml
from rich.console import Console
from rich.table import Table

from tack.agents import AgentEvent, EventSink, SessionContext, TokenUsage, TurnResult
from tack.logs import configure_logging
from tack.orchestrator import Orchestrator
from tack.orchestrator.state import RunningEntry
from tack.store import Store
from tack.tracker.local import LocalTracker, NewIssue
from tack.workflow import WorkflowWatcher

HANDOFF = "Human Review"
AGENT_KINDS = ("session_started", "message", "tool_call", "token_usage")
GIT_ENV = {
    "GIT_AUTHOR_NAME": "Tack Bench",
    "GIT_AUTHOR_EMAIL": "bench@tack.invalid",
    "GIT_COMMITTER_NAME": "Tack Bench",
    "GIT_COMMITTER_EMAIL": "bench@tack.invalid",
}
SAMPLE_EVERY_S = 0.1
MB = 1024 * 1024


# -- the stub agent ------------------------------------------------------------------------


@dataclass
class Probe:
    """What the stub agents saw, on the bench's clock (`time.perf_counter`)."""

    started: dict[str, float] = field(default_factory=dict)  # issue id -> session start
    finished: dict[str, float] = field(default_factory=dict)  # issue id -> turn end
    emitted: int = 0
    streaming: int = 0


def stub_event(n: int, identifier: str) -> AgentEvent:
    """The n-th event of a session: a realistic mix of messages, tool calls and usage."""
    kind = n % 3
    if kind == 0:
        return AgentEvent("message", f"Reading src/module_{n}.py to find the bug in {identifier}.")
    if kind == 1:
        return AgentEvent(
            "tool_call",
            "shell: pytest -q tests/test_module.py",
            data={"name": "shell", "arguments": {"command": "pytest -q tests/test_module.py"}},
        )
    return AgentEvent("token_usage", "", usage=TokenUsage(1200, 80, 1280))


class StreamingSession:
    """Streams events at a fixed rate for a fixed time, then hands the issue off."""

    def __init__(self, ctx: SessionContext, backend: StubBackend) -> None:
        self.ctx = ctx
        self.backend = backend
        self.session_id: str | None = f"bench-{ctx.issue.identifier}"

    async def run_turn(self, prompt: str, on_event: EventSink) -> TurnResult:
        b, probe, issue = self.backend, self.backend.probe, self.ctx.issue
        if b.hang:
            await asyncio.Event().wait()  # until the orchestrator cancels the run
        await on_event(AgentEvent("session_started", data={"session_id": self.session_id}))
        probe.emitted += 1
        total = max(1, round(b.rate * b.seconds))
        interval = 1 / b.rate
        probe.streaming += 1
        start = time.perf_counter()
        try:
            for n in range(total):
                await on_event(stub_event(n, issue.identifier))
                probe.emitted += 1
                # Drift-free schedule: a slow orchestrator shows up as a lower achieved rate.
                await asyncio.sleep(max(start + (n + 1) * interval - time.perf_counter(), 0))
        finally:
            probe.streaming -= 1
        probe.finished[issue.id] = time.perf_counter()
        await self.ctx.tracker.move(issue.id, HANDOFF)
        return TurnResult(ok=True, final_message="done")

    async def stop(self) -> None:
        return None


class StubBackend:
    name = "bench-stub"

    def __init__(self, probe: Probe, *, rate: float, seconds: float, hang: bool = False) -> None:
        self.probe = probe
        self.rate = rate
        self.seconds = seconds
        self.hang = hang

    async def start_session(self, ctx: SessionContext) -> StreamingSession:
        self.probe.started[ctx.issue.id] = time.perf_counter()
        return StreamingSession(ctx, self)


# -- project setup -------------------------------------------------------------------------


def _git(cwd: Path, *args: str) -> None:
    subprocess.run(["git", *args], cwd=cwd, env={**os.environ, **GIT_ENV}, check=True,
                   capture_output=True)


def make_project(root: Path, *, strategy: str, max_agents: int, interval_ms: int) -> Path:
    """A real git repo plus WORKFLOW.md on the local tracker; returns the WORKFLOW.md path."""
    repo = root / "repo"
    repo.mkdir(parents=True)
    _git(repo, "init", "-q", "-b", "main")
    (repo / "README.md").write_text("bench\n")
    _git(repo, "add", "-A")
    _git(repo, "commit", "-q", "-m", "init")
    cfg = {
        "tracker": {
            "kind": "local",
            "active_states": ["Todo", "In Progress"],
            "terminal_states": ["Done", "Closed", "Cancelled"],
            "handoff_state": HANDOFF,
        },
        "polling": {"interval_ms": interval_ms},
        "workspace": {"root": "./workspaces", "repo": "./repo", "strategy": strategy},
        "agent": {"backend": "builtin", "max_concurrent_agents": max_agents, "max_turns": 3},
        "codex": {"stall_timeout_ms": 300_000},
    }
    path = root / "WORKFLOW.md"
    path.write_text(f"---\n{yaml.safe_dump(cfg)}---\nWork on {{{{ issue.identifier }}}}: "
                    f"{{{{ issue.title }}}}\n")
    return path


async def until(pred: Callable[[], Any], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not pred():
        if time.monotonic() > deadline:
            raise TimeoutError(f"bench: timed out after {timeout:.0f} s waiting for {what}")
        await asyncio.sleep(0.02)


def percentile(values: list[float], p: float) -> float:
    """Nearest-rank percentile."""
    ordered = sorted(values)
    return ordered[max(math.ceil(p / 100 * len(ordered)) - 1, 0)]


# -- sampling ------------------------------------------------------------------------------


@dataclass
class Sample:
    t: float
    cpu: float
    rss: int
    events: int
    emitted: int
    streaming: int


class Sampler:
    """Samples process CPU, RSS and event counters every 100 ms on the orchestrator's loop."""

    def __init__(self, store: Store, probe: Probe) -> None:
        self.store, self.probe = store, probe
        self.proc = psutil.Process()
        self.samples: list[Sample] = []
        self._task: asyncio.Task[None] | None = None

    def take(self) -> Sample:
        s = Sample(time.perf_counter(), time.process_time(), self.proc.memory_info().rss,
                   self.store.event_count(), self.probe.emitted, self.probe.streaming)
        self.samples.append(s)
        return s

    async def _loop(self) -> None:
        while True:
            self.take()
            await asyncio.sleep(SAMPLE_EVERY_S)

    def start(self) -> None:
        self._task = asyncio.create_task(self._loop())

    async def stop(self) -> None:
        if self._task:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
        self.take()


def steady_window(samples: list[Sample]) -> tuple[Sample, Sample, int]:
    """First and last sample at peak concurrency (widened to >= 90 % of peak if too short)."""
    peak = max(s.streaming for s in samples)
    for floor in (peak, math.ceil(peak * 0.9), math.ceil(peak * 0.5), 1):
        inside = [s for s in samples if s.streaming >= floor]
        if len(inside) >= 2 and inside[-1].t - inside[0].t >= 0.3:
            return inside[0], inside[-1], peak
    return samples[0], samples[-1], peak


# -- 1-3: dispatch, ingest, CPU/RSS under load ---------------------------------------------


async def idle_usage(seconds: float) -> tuple[float, int]:
    """(CPU cores used, RSS bytes) of the process while the orchestrator idles."""
    gc.collect()
    proc = psutil.Process()
    c0, t0 = time.process_time(), time.perf_counter()
    await asyncio.sleep(seconds)
    cores = (time.process_time() - c0) / (time.perf_counter() - t0)
    return cores, proc.memory_info().rss


async def run_load(root: Path, args: argparse.Namespace, strategy: str,
                   say: Callable[[str], None]) -> dict[str, Any]:
    n = args.issues
    wf_path = make_project(root, strategy=strategy, max_agents=n, interval_ms=500)
    watcher = WorkflowWatcher(wf_path)
    store = Store(watcher.current.store_path())
    probe = Probe()
    backend = StubBackend(probe, rate=args.events_per_second, seconds=args.seconds)
    orch = Orchestrator(watcher, store, backend_factory=lambda wf: backend)
    tracker = orch.tracker
    assert isinstance(tracker, LocalTracker)
    task = asyncio.create_task(orch.run())
    try:
        await until(lambda: orch.tick_count >= 1, 30, "the first tick")
        say(f"[{strategy}] idle baseline ({args.idle_seconds:.1f} s)")
        idle_cores, idle_rss = await idle_usage(args.idle_seconds)
        sampler = Sampler(store, probe)
        sampler.start()
        say(f"[{strategy}] {n} issues, {args.seconds} s x {args.events_per_second} events/s each")
        wall0 = time.perf_counter()
        tracker.add_issues(NewIssue(f"bench issue {i}") for i in range(n))
        # No await between the insert and the refresh: the orchestrator cannot see them sooner.
        eligible_at = time.perf_counter()
        orch.request_refresh()
        budget = 60 + n * 0.2 + args.seconds * 3
        await until(lambda: len(probe.finished) >= n, budget, f"{n} agents to finish")
        await until(lambda: not orch.running, 30, "runs to end")
        wall = time.perf_counter() - wall0
        await sampler.stop()
        recorded_agent = store.db.execute(
            f"SELECT COUNT(*) FROM events WHERE kind IN ({','.join('?' * len(AGENT_KINDS))})",
            AGENT_KINDS,
        ).fetchone()[0]
        capacity = await ingest_capacity(orch, store, args.capacity_events)
    finally:
        orch.stop()
        await asyncio.wait_for(task, 60)
        store.close()

    latencies = [(probe.started[i] - eligible_at) * 1000 for i in probe.started]
    first, last, peak = steady_window(sampler.samples)
    dt = last.t - first.t
    cpu_cores = (last.cpu - first.cpu) / dt
    rss_peak = max(s.rss for s in sampler.samples if first.t <= s.t <= last.t)
    recorded_rate = (last.events - first.events) / dt
    return {
        "strategy": strategy,
        "issues": n,
        "dispatched": len(probe.started),
        "finished": len(probe.finished),
        "wall_seconds": round(wall, 3),
        "dispatch_latency_ms": {
            "p50": round(percentile(latencies, 50), 2),
            "p99": round(percentile(latencies, 99), 2),
            "max": round(max(latencies), 2),
            "min": round(min(latencies), 2),
        },
        "peak_concurrent_agents": peak,
        "steady_window_seconds": round(dt, 3),
        "events": {
            "target_per_second": round(peak * args.events_per_second, 1),
            "emitted_per_second": round((last.emitted - first.emitted) / dt, 1),
            "recorded_per_second": round(recorded_rate, 1),
            "emitted_total": probe.emitted,
            "recorded_agent_events": int(recorded_agent),
            "lost": probe.emitted - int(recorded_agent),
            # Against bare inserts measured on this same store right after the load.
            "recorded_vs_raw_insert": round(recorded_rate / capacity["raw_insert_per_second"], 4),
        },
        "ingest_capacity": capacity,
        "cpu": {
            "idle_cores": round(idle_cores, 4),
            "steady_cores": round(cpu_cores, 4),
            "per_agent_ms_per_second": round((cpu_cores - idle_cores) / max(peak, 1) * 1000, 3),
            "steady_vs_idle": round(cpu_cores / idle_cores, 1) if idle_cores > 0 else None,
        },
        "rss": {
            "idle_mb": round(idle_rss / MB, 1),
            "peak_mb": round(rss_peak / MB, 1),
            "per_agent_kb": round((rss_peak - idle_rss) / max(peak, 1) / 1024, 1),
        },
    }


async def ingest_capacity(orch: Orchestrator, store: Store, count: int,
                          reps: int = 3) -> dict[str, float]:
    """The orchestrator's per-event path (`on_agent_event`) flat out, with no agent pacing,
    interleaved with bare `Store.add_event` bursts on the same store (the baseline), so
    noise from other work on the machine hits both alike. Medians of `reps` bursts each.

    `on_agent_event` never suspends, so nothing else runs on the loop while it is timed.
    """
    tracker = orch.tracker
    assert isinstance(tracker, LocalTracker)
    issue = tracker.list_issues(None)[0]
    run_id = store.start_run(issue_id=issue.id, identifier=issue.identifier, attempt=None)
    entry = RunningEntry(issue=issue, run_id=run_id, attempt=None)
    burst = max(count // reps, 1)
    events = [stub_event(i, issue.identifier) for i in range(burst)]
    orch_rates, raw_rates = [], []
    for _ in range(reps):
        t0 = time.perf_counter()
        for ev in events:
            store.add_event(run_id=run_id, issue_id=issue.id, identifier=issue.identifier,
                            kind=ev.kind, message=ev.message, data=ev.data or None, at=ev.at)
        raw_rates.append(burst / (time.perf_counter() - t0))
        t0 = time.perf_counter()
        for ev in events:
            await orch.on_agent_event(entry, ev)
        orch_rates.append(burst / (time.perf_counter() - t0))
    store.finish_run(run_id, "succeeded")
    orch_rate, raw_rate = statistics.median(orch_rates), statistics.median(raw_rates)
    return {
        "events": burst * reps,
        "per_second": round(orch_rate, 1),
        "raw_insert_per_second": round(raw_rate, 1),
        "vs_raw_insert": round(orch_rate / raw_rate, 4),
    }


def raw_insert_rates(root: Path, count: int, batch: int = 100, reps: int = 3) -> tuple[float, float]:
    """Baselines, events/s into the events table: one commit per event (what Store.add_event
    does) and one commit per `batch` events (what a batching ingest could do). Bursts are
    interleaved and the medians kept, so both see the same machine."""
    store = Store(root / "raw" / "state.db")
    try:
        burst = max(count // reps, batch)
        events = [stub_event(i, "BENCH-1") for i in range(burst)]
        rows = [(1, "bench", "BENCH-1", ev.at, ev.kind, ev.message,
                 json.dumps(ev.data) if ev.data else None) for ev in events]
        single, batched = [], []
        for _ in range(reps):
            t0 = time.perf_counter()
            for ev in events:
                store.add_event(run_id=1, issue_id="bench", identifier="BENCH-1", kind=ev.kind,
                                message=ev.message, data=ev.data or None, at=ev.at)
            single.append(burst / (time.perf_counter() - t0))
            t0 = time.perf_counter()
            for start in range(0, burst, batch):
                store.db.execute("BEGIN")
                store.db.executemany(
                    "INSERT INTO events(run_id, issue_id, identifier, at, kind, message, data)"
                    " VALUES (?, ?, ?, ?, ?, ?, ?)", rows[start : start + batch])
                store.db.execute("COMMIT")
            batched.append(burst / (time.perf_counter() - t0))
        return statistics.median(single), statistics.median(batched)
    finally:
        store.close()


# -- 4: tick cost at a large tracker -------------------------------------------------------


@dataclass(frozen=True)
class Board:
    name: str
    total: int
    todo: int  # the rest alternate Done (terminal) and Human Review (neither active nor terminal)


async def tick_cost(root: Path, board: Board, running: int, reps: int) -> dict[str, Any]:
    wf_path = make_project(root, strategy="directory", max_agents=running, interval_ms=3_600_000)
    watcher = WorkflowWatcher(wf_path)
    store = Store(watcher.current.store_path())
    probe = Probe()
    backend = StubBackend(probe, rate=1, seconds=1, hang=True)
    orch = Orchestrator(watcher, store, backend_factory=lambda wf: backend)
    tracker = orch.tracker
    assert isinstance(tracker, LocalTracker)
    tracker.add_issues(
        NewIssue(f"issue {i}", state="Todo" if i < board.todo else ("Done" if i % 4 else HANDOFF))
        for i in range(board.total)
    )
    done_issue = tracker.list_issues(["Done"])[:1] or tracker.list_issues(["Todo"])[-1:]
    # One poll an hour: the loop dispatches the hanging agents once and then only the bench ticks.
    task = asyncio.create_task(orch.run())
    try:
        want = min(running, board.todo)
        await until(lambda: len(probe.started) >= want, 60, f"{want} hanging agents")
        warm, cold, fetch = [], [], []
        active = orch.workflow.config.tracker.active_states
        for _ in range(reps):
            t0 = time.perf_counter()
            await orch.tick()
            warm.append(time.perf_counter() - t0)
        for _ in range(reps):
            # Any tracker write invalidates its poll cache, as agents moving issues do.
            tracker.comment_sync(done_issue[0].id, "bench: invalidate the poll cache")
            t0 = time.perf_counter()
            await orch.tick()
            cold.append(time.perf_counter() - t0)
            tracker.comment_sync(done_issue[0].id, "bench: invalidate the poll cache")
            t0 = time.perf_counter()
            candidates = await tracker.fetch_issues_by_states(active)
            fetch.append(time.perf_counter() - t0)
        assert len(orch.running) == want
    finally:
        orch.stop()
        await asyncio.wait_for(task, 60)
        store.close()
    return {
        "issues": board.total,
        "todo": board.todo,
        "running": want,
        "candidates_fetched": len(candidates),
        "reps": reps,
        "warm_ms": round(statistics.median(warm) * 1000, 3),
        "after_write_ms": round(statistics.median(cold) * 1000, 3),
        "candidate_fetch_after_write_ms": round(statistics.median(fetch) * 1000, 3),
    }


# -- report --------------------------------------------------------------------------------


def ratio(a: float, b: float) -> float:
    return round(a / b, 2) if b else float("nan")


def print_report(result: dict[str, Any], console: Console) -> None:
    p = result["params"]
    raw = result["raw_store_insert_per_second"]
    load = Table(title=f"{p['issues']} stub agents x {p['seconds']} s x "
                       f"{p['events_per_second']} events/s ({result['machine']['cpus']} CPUs)")
    load.add_column("measure")
    strategies = list(result["runs"])
    for s in strategies:
        load.add_column(f"workspace: {s}", justify="right")
    rows: list[tuple[str, Callable[[dict[str, Any]], str]]] = [
        ("dispatched / finished", lambda r: f"{r['dispatched']} / {r['finished']}"),
        ("dispatch latency p50 / p99 / max (ms)",
         lambda r: "{p50:.0f} / {p99:.0f} / {max:.0f}".format(**r["dispatch_latency_ms"])),
        ("peak concurrent agents", lambda r: str(r["peak_concurrent_agents"])),
        ("steady window (s)", lambda r: f"{r['steady_window_seconds']:.2f}"),
        ("events/s target / emitted / recorded",
         lambda r: "{target_per_second:.0f} / {emitted_per_second:.0f} / "
                   "{recorded_per_second:.0f}".format(**r["events"])),
        ("events lost", lambda r: str(r["events"]["lost"])),
        ("recorded rate / raw store insert rate",
         lambda r: f"{r['events']['recorded_vs_raw_insert']:.1%}"),
        ("flat-out ingest: orchestrator / bare insert (ev/s)",
         lambda r: "{per_second:.0f} / {raw_insert_per_second:.0f} = {vs_raw_insert:.0%}".format(
             **r["ingest_capacity"])),
        ("CPU cores idle -> steady",
         lambda r: "{idle_cores:.3f} -> {steady_cores:.3f}".format(**r["cpu"])),
        ("CPU per running agent (ms/s)", lambda r: f"{r['cpu']['per_agent_ms_per_second']:.2f}"),
        ("RSS idle -> peak (MB)", lambda r: "{idle_mb:.1f} -> {peak_mb:.1f}".format(**r["rss"])),
        ("RSS per running agent (KB)", lambda r: f"{r['rss']['per_agent_kb']:.0f}"),
        ("wall time (s)", lambda r: f"{r['wall_seconds']:.1f}"),
    ]
    for label, cell in rows:
        load.add_row(label, *(cell(result["runs"][s]) for s in strategies))
    console.print(load)
    batched = result["batched_store_insert_per_second"]
    console.print(f"baseline: raw Store.add_event {raw:,.0f} events/s (one commit per event); "
                  f"100 events per commit {batched:,.0f} events/s ({batched / raw:.1f}x)")

    ticks = result["tick"]
    table = Table(title="cost of one poll tick (median); baseline = the 100-issue board; "
                        "fetch = candidate fetch alone, after a write")
    for col in ("board", "issues", "running", "candidates", "warm ms", "x base",
                "after-write ms", "x base", "fetch ms"):
        table.add_column(col, justify="right" if col != "board" else "left")
    for name, t in ticks.items():
        table.add_row(name, f"{t['issues']:,}", str(t["running"]), f"{t['candidates_fetched']:,}",
                      f"{t['warm_ms']:.2f}", f"{t.get('warm_vs_baseline', 1.0):.1f}",
                      f"{t['after_write_ms']:.2f}", f"{t.get('after_write_vs_baseline', 1.0):.1f}",
                      f"{t['candidate_fetch_after_write_ms']:.2f}")
    console.print(table)


async def bench(args: argparse.Namespace, say: Callable[[str], None]) -> dict[str, Any]:
    strategies = ["directory", "worktree"] if args.strategy == "both" else [args.strategy]
    with tempfile.TemporaryDirectory(prefix="tack-bench-") as tmp:
        root = Path(tmp)
        say("baseline: raw Store.add_event insert rate")
        raw, batched = raw_insert_rates(root, args.capacity_events)
        runs = {}
        for s in strategies:
            runs[s] = await run_load(root / f"load-{s}", args, s, say)
        boards = [
            Board("baseline", 100, 20),
            Board("board", args.tracker_issues, max(min(200, args.tracker_issues // 50), args.tick_running)),
            Board("backlog", args.tracker_issues, args.tracker_issues),
        ]
        ticks: dict[str, dict[str, Any]] = {}
        for board in boards:
            say(f"tick cost: {board.name} ({board.total:,} issues, {board.todo:,} Todo)")
            ticks[board.name] = await tick_cost(root / f"tick-{board.name}", board,
                                                args.tick_running, args.tick_reps)
        base = ticks["baseline"]
        for t in ticks.values():
            t["warm_vs_baseline"] = ratio(t["warm_ms"], base["warm_ms"])
            t["after_write_vs_baseline"] = ratio(t["after_write_ms"], base["after_write_ms"])
    return {
        "machine": {
            "cpus": os.cpu_count(),
            "python": platform.python_version(),
            "platform": platform.platform(),
            "sqlite": __import__("sqlite3").sqlite_version,
        },
        "params": {
            "issues": args.issues,
            "seconds": args.seconds,
            "events_per_second": args.events_per_second,
            "tracker_issues": args.tracker_issues,
            "tick_running": args.tick_running,
            "tick_reps": args.tick_reps,
            "strategies": strategies,
        },
        "raw_store_insert_per_second": round(raw, 1),
        "batched_store_insert_per_second": round(batched, 1),
        "runs": runs,
        "tick": ticks,
    }


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--issues", type=int, default=200, help="stub agents to run at once")
    ap.add_argument("--seconds", type=float, default=3.0, help="how long each agent streams")
    ap.add_argument("--events-per-second", type=float, default=20.0, help="per agent")
    ap.add_argument("--tracker-issues", type=int, default=10_000, help="board size for the tick")
    ap.add_argument("--strategy", choices=["directory", "worktree", "both"], default="both",
                    help="workspace.strategy for the load run(s)")
    ap.add_argument("--tick-running", type=int, default=10,
                    help="agents running (max_concurrent_agents) while ticks are timed")
    ap.add_argument("--tick-reps", type=int, default=15, help="ticks timed per board and mode")
    ap.add_argument("--idle-seconds", type=float, default=1.0, help="idle baseline duration")
    ap.add_argument("--capacity-events", type=int, default=20_000,
                    help="events for the raw-insert and flat-out ingest baselines")
    ap.add_argument("--json", action="store_true", help="print one JSON object, nothing else")
    args = ap.parse_args(argv)
    if args.issues < 1 or args.seconds <= 0 or args.events_per_second <= 0:
        ap.error("--issues, --seconds and --events-per-second must be positive")
    if args.tracker_issues < 100:
        ap.error("--tracker-issues must be at least 100 (the baseline board has 100 issues)")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    configure_logging("warning")
    err = Console(stderr=True)
    quiet = args.json or not err.is_terminal

    def say(msg: str) -> None:
        if not quiet:
            err.print(f"[dim]{msg}[/dim]")

    result = asyncio.run(bench(args, say))
    if args.json:
        sys.stdout.write(json.dumps(result, indent=2) + "\n")
    else:
        out = Console()
        print_report(result, out if out.is_terminal else Console(width=120))
    return 0


if __name__ == "__main__":
    sys.exit(main())
