"""Soak benchmark: `tack up` with 50 concurrent stub agents for a long while, fed new issues
all along; does Tack's process leak memory or file descriptors, lose events, or slow down?

Everything is real and out of process except the model: `tack up` on the local tracker with
the built-in agent, plain directory workspaces, and a StubModelServer in a thread of this
process whose scripted agents read a file a few times (each step delayed) and then move
their issue to Done. A feeder keeps the board full: whenever fewer than `--agents` issues
are Todo or running, it adds more. Figures compare the first and the last window of the run
(5 minutes, or a sixth of a shorter run); see docs/benchmarks.md.

    .venv/bin/python -m bench.soak [--minutes 30] [--agents 50] [--json] [--out FILE]
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import platform
import sqlite3
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from bench.scaleout import IDENT, MB, Proc, percentile, wait_until
from tack.testing import StubModelServer
from tack.tracker.local import LocalTracker, NewIssue

PROMPT = "Work on {{ issue.identifier }}: {{ issue.title }}"
DONE = "Done"
READS = 4  # tool steps per agent before it moves its issue
SAMPLE_S = 5.0
# The agent events every run emits, from the built-in agent's loop (agents/builtin.py): a
# session start, then per model reply a token count and either a tool call and its result or
# the closing message and the turn's end. ("model is responding" notifications depend on
# timing, so they are not counted.) The agent sends its next model request only after it
# has emitted the events of the previous reply, so an issue whose agent made k requests
# provably emitted 1 + 3 (k - 1) of them; the last reply's may be cut when the run is
# stopped because the issue reached Done.
AGENT_KINDS = ("session_started", "token_usage", "message", "tool_call", "tool_result",
               "turn_completed")


def script(step_ms: int) -> dict[str, Any]:
    read = {"delay_ms": step_ms,
            "tool_calls": [{"name": "read_file", "arguments": {"path": "notes.txt"}}]}
    return {"conversations": [{"steps": [
        *([read] * READS),
        {"delay_ms": step_ms,
         "tool_calls": [{"name": "tracker", "arguments": {"action": "move", "state": DONE}}]},
        {"text": "done"},
    ]}]}


def make_project(root: Path, stub_url: str, agents: int) -> Path:
    """A project without git (plain directory workspaces) and a `WORKFLOW.md`."""
    cfg: dict[str, Any] = {
        "tracker": {"kind": "local"},
        "polling": {"interval_ms": 1000},
        "workspace": {"root": "./workspaces"},
        "hooks": {"after_create": "echo soak > notes.txt"},
        "agent": {"backend": "builtin", "max_concurrent_agents": agents, "max_turns": 1},
        "builtin": {"model": "stub", "api": "chat", "base_url": stub_url},
        "codex": {"stall_timeout_ms": 120_000},
    }
    workflow = root / "WORKFLOW.md"
    workflow.write_text(f"---\n{yaml.safe_dump(cfg)}---\n{PROMPT}\n")
    return workflow


@dataclass
class Sample:
    at: float
    rss_mb: float
    fds: int
    threads: int
    load1: float  # the machine's 1-minute load average: how busy the cores were


@dataclass
class Feeder:
    """Adds issues so that about `agents` are always Todo or running."""

    db: Path
    agents: int
    created: dict[str, float] = field(default_factory=dict)  # identifier -> wall time

    def top_up(self) -> int:
        with LocalTracker(self.db) as tracker:
            with sqlite3.connect(self.db, timeout=30) as conn:
                open_ = int(conn.execute("SELECT COUNT(*) FROM issues WHERE state != ?",
                                         (DONE,)).fetchone()[0])
            missing = self.agents - open_
            if missing <= 0:
                return 0
            now = time.time()
            added = tracker.add_issues(NewIssue(f"soak issue {len(self.created) + i}")
                                       for i in range(missing))
            for identifier in added:
                self.created[identifier] = now
            return len(added)


def window_of(at: float, t0: float, t_end: float, width: float) -> str | None:
    if at < t0 + width:
        return "first"
    if at >= t_end - width:
        return "last"
    return None


def analyse(state_db: Path, stub: StubModelServer, feeder: Feeder, samples: list[Sample],
            t0: float, t_end: float, width: float) -> dict[str, Any]:
    first_req: dict[str, float] = {}
    steps: Counter[str] = Counter()
    for req in list(stub.requests):
        match = IDENT.search(json.dumps(req.body))
        if match:
            ident = match.group(1)
            first_req[ident] = min(first_req.get(ident, req.at), req.at)
            steps[ident] += 1
    with sqlite3.connect(f"file:{state_db}?mode=ro", uri=True, timeout=30) as conn:
        marks = ",".join("?" * len(AGENT_KINDS))
        written = dict(conn.execute(
            f"SELECT identifier, COUNT(*) FROM events WHERE kind IN ({marks}) "
            "GROUP BY identifier", AGENT_KINDS).fetchall())
        gaps = int(conn.execute("SELECT COUNT(*) FROM events WHERE kind = 'gap'").fetchone()[0])
        statuses = dict(conn.execute("SELECT status, COUNT(*) FROM runs GROUP BY status"))
        started = dict(conn.execute("SELECT identifier, MIN(started_at) FROM runs "
                                    "GROUP BY identifier").fetchall())
    emitted = {i: 1 + 3 * (k - 1) for i, k in steps.items()}
    lost = {i: n - written.get(i, 0) for i, n in emitted.items() if written.get(i, 0) < n}
    latency: dict[str, list[float]] = {"first": [], "last": []}
    to_agent: dict[str, list[float]] = {"first": [], "last": []}
    for ident, created in feeder.created.items():
        win = window_of(created, t0, t_end, width)
        if win is None or ident not in first_req:
            continue
        latency[win].append((first_req[ident] - created) * 1000)
        if ident in started:
            to_agent[win].append((first_req[ident] - started[ident]) * 1000)
    by_win: dict[str, list[Sample]] = {"first": [], "last": []}
    for s in samples:
        win = window_of(s.at, t0, t_end, width)
        if win:
            by_win[win].append(s)

    def stats(values: list[float]) -> dict[str, float]:
        return {"n": len(values), "p50": round(percentile(values, 50), 1),
                "p99": round(percentile(values, 99), 1)}

    rss = {w: round(max((s.rss_mb for s in v), default=float("nan")), 1)
           for w, v in by_win.items()}
    fds = {w: max((s.fds for s in v), default=0) for w, v in by_win.items()}
    dispatch = {w: stats(v) for w, v in latency.items()}
    return {
        # Runs stopped once their issue reached Done may skip the closing request.
        "runs_all_requests": sum(k >= READS + 2 for k in steps.values()),
        "run_statuses": statuses, "gap_markers": gaps,
        "events": {"emitted": sum(emitted.values()),
                   "written": sum(written.get(i, 0) for i in emitted),
                   "lost": sum(lost.values()), "issues_short": sorted(lost)[:20]},
        "rss_mb": rss, "rss_growth": round(rss["last"] / rss["first"] - 1, 3),
        "fds": fds, "fd_growth": fds["last"] - fds["first"],
        "threads": {w: max((s.threads for s in v), default=0) for w, v in by_win.items()},
        "eligible_to_first_request_ms": dispatch,
        "dispatch_p99_ratio": round(dispatch["last"]["p99"] / dispatch["first"]["p99"], 2),
        "run_start_to_first_request_ms": {w: stats(v) for w, v in to_agent.items()},
    }


def soak(args: argparse.Namespace, say: Callable[[str], None]) -> dict[str, Any]:
    duration = args.minutes * 60
    width = min(300.0, duration / 6)
    stub = StubModelServer(script(args.step_ms))
    stub.start_in_thread()
    with tempfile.TemporaryDirectory(prefix="tack-soak-") as tmp:
        root = Path(tmp)
        workflow = make_project(root, stub.url, args.agents)
        (root / ".tack").mkdir()
        feeder = Feeder(root / ".tack" / "issues.db", args.agents)
        feeder.top_up()
        up = Proc("tack up", [sys.executable, "-m", "tack", "up", "--workflow", str(workflow),
                              "--log-level", "warning"], root, root / "up.log")
        samples: list[Sample] = []
        try:
            t0 = time.time()
            t_end = t0 + duration
            next_sample = 0.0
            last_say = t0
            while time.time() < t_end:
                up.alive()
                feeder.top_up()
                if time.time() >= next_sample:
                    next_sample = time.time() + SAMPLE_S
                    with up.ps.oneshot():
                        samples.append(Sample(time.time(), up.ps.memory_info().rss / MB,
                                              up.ps.num_fds(), up.ps.num_threads(),
                                              os.getloadavg()[0]))
                if time.time() - last_say > 60:
                    last_say = time.time()
                    s = samples[-1]
                    say(f"{(time.time() - t0) / 60:5.1f} min: {len(feeder.created)} issues fed, "
                        f"rss {s.rss_mb:.1f} MB, {s.fds} fds")
                time.sleep(0.25)
            say("feeding stopped; waiting for the running agents to finish")
            state_db = root / ".tack" / "state.db"
            open_sql = f"SELECT COUNT(*) FROM issues WHERE state != '{DONE}'"

            def drained() -> bool:
                up.alive()
                with sqlite3.connect(feeder.db, timeout=30) as conn:
                    return int(conn.execute(open_sql).fetchone()[0]) == 0

            wait_until(drained, 600, "the last agents to finish")
            wait_until(lambda: up.alive() and _running(state_db) == 0, 120, "the last runs to end")
            usage = up.usage()
            up.stop()  # the final event flush lands on shutdown
            result = analyse(state_db, stub, feeder, samples, t0, t_end, width)
            result["issues_fed"] = len(feeder.created)
            result["orchestrator"] = usage
            result["samples"] = [s.__dict__ for s in samples]
            if args.keep:
                subprocess.run(["cp", "-a", tmp, f"{tmp}-kept"], check=False)
                say(f"kept the project in {tmp}-kept")
        finally:
            up.stop()
            stub.stop_thread()
    return {"machine": {"cpus": os.cpu_count(), "python": platform.python_version(),
                        "load_average_at_end": [round(x, 2) for x in os.getloadavg()]},
            "params": {"minutes": args.minutes, "agents": args.agents, "step_ms": args.step_ms,
                       "window_s": width},
            **result}


def _running(state_db: Path) -> int:
    with sqlite3.connect(f"file:{state_db}?mode=ro", uri=True, timeout=30) as conn:
        return int(conn.execute("SELECT COUNT(*) FROM runs WHERE ended_at IS NULL")
                   .fetchone()[0])


def verdict(r: dict[str, Any]) -> list[tuple[str, str, bool]]:
    ev = r["events"]
    return [
        ("RSS growth (first → last window peak)",
         f"{r['rss_mb']['first']} → {r['rss_mb']['last']} MB ({r['rss_growth']:+.1%})",
         r["rss_growth"] <= 0.10),
        ("open fds (first → last window peak)", f"{r['fds']['first']} → {r['fds']['last']}",
         r["fd_growth"] <= 0),
        ("agent events provably emitted / written / lost",
         f"{ev['emitted']} / {ev['written']} / {ev['lost']}", ev["lost"] == 0),
        ("eligible → first model request p99, first / last window (ms)",
         (f"{r['eligible_to_first_request_ms']['first']['p99']:.0f} / "
          f"{r['eligible_to_first_request_ms']['last']['p99']:.0f} "
          f"({r['dispatch_p99_ratio']:.2f}×)"), r["dispatch_p99_ratio"] <= 2.0),
    ]


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--minutes", type=float, default=30.0, help="how long to feed issues")
    ap.add_argument("--agents", type=int, default=50, help="agent.max_concurrent_agents")
    ap.add_argument("--step-ms", type=int, default=3000,
                    help="the stub model's delay per step (an agent run takes ~5 steps)")
    ap.add_argument("--keep", action="store_true", help="keep the temp project")
    ap.add_argument("--json", action="store_true", help="print one JSON object, nothing else")
    ap.add_argument("--out", type=Path, help="also write the JSON result to this file")
    args = ap.parse_args(argv)
    if args.minutes <= 0 or args.agents < 1:
        ap.error("--minutes and --agents must be positive")
    logging.getLogger("asyncio").setLevel(logging.ERROR)

    def say(msg: str) -> None:
        if not args.json:
            print(f"{time.strftime('%H:%M:%S')} {msg}", file=sys.stderr, flush=True)

    result = soak(args, say)
    if args.out:
        args.out.write_text(json.dumps(result, indent=2) + "\n")
    if args.json:
        print(json.dumps(result, indent=2))
        return 0
    print(f"soak: {args.minutes:g} min, {args.agents} agents, {result['issues_fed']} issues, "
          f"{result['runs_all_requests']} agents made every model request, runs "
          f"{result['run_statuses']}, "
          f"gap markers {result['gap_markers']}")
    ok = True
    for label, value, good in verdict(result):
        ok &= good
        print(f"  {'ok  ' if good else 'FAIL'} {label}: {value}")
    for key, label in (("eligible_to_first_request_ms", "eligible → first model request"),
                       ("run_start_to_first_request_ms", "run start → first model request")):
        first, last = result[key]["first"], result[key]["last"]
        print(f"  {label} p50 / p99, first window: {first['p50']:.0f} / {first['p99']:.0f} ms "
              f"(n={first['n']}); last: {last['p50']:.0f} / {last['p99']:.0f} ms (n={last['n']})")
    print(f"  load average at the end: {result['machine']['load_average_at_end']}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
