"""Workspace benchmark: what a workspace costs on a real-sized repository, and how soon each
agent starts when many issues become eligible at once.

A temporary git repository holds `--files` files copied from this interpreter's standard
library. Part 1 runs the real orchestrator loop (`bench/orchestrator.py`'s stub agent, the
real Store, LocalTracker and WorkspaceManager) on `--issues` issues with plain-directory
workspaces and then with git worktrees, in the same run: the directory figures are the
baseline. Part 2 times a few workspaces one at a time per way of making them and measures
the disk each adds, against the size of a checkout. Overlay workspaces are measured too when
this process may mount overlayfs (root or CAP_SYS_ADMIN).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import subprocess
import sys
import sysconfig
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, Callable

import yaml
from rich.console import Console
from rich.table import Table

from bench.orchestrator import GIT_ENV, HANDOFF, Probe, StubBackend, percentile, until
from tack.logs import configure_logging
from tack.orchestrator import Orchestrator
from tack.workspace.overlay import can_mount, is_checked_out
from tack.store import Store
from tack.tracker.local import LocalTracker, NewIssue
from tack.tracker.base import Issue
from tack.workflow import WorkflowWatcher
from tack.workflow.config import HooksConfig, WorkspaceConfig
from tack.workspace import WorkspaceManager

MAX_FILE_BYTES = 16 * 1024  # keeps 5,000 files near the issue's 21 MB repository
KB = 1024


def git(cwd: Path, *args: str) -> str:
    return subprocess.run(["git", *args], cwd=cwd, env={**os.environ, **GIT_ENV}, check=True,
                          capture_output=True, text=True).stdout


def make_repo(repo: Path, files: int) -> dict[str, int]:
    """`files` files of the standard library (each at most 16 KB), committed: the first
    copy at the top, then as many more copies as it takes under `more-<n>/` (the standard
    library has ~7,000 such files, a 50,000-file repository needs several)."""
    source = Path(sysconfig.get_paths()["stdlib"])
    repo.mkdir(parents=True)
    copied = size = 0
    for copy in range(files):
        dest_root = repo / f"more-{copy}" if copy else repo
        before = copied
        for dirpath, dirnames, filenames in os.walk(source):
            dirnames[:] = sorted(d for d in dirnames if d != "__pycache__")
            for name in sorted(filenames):
                src = Path(dirpath) / name
                if copied >= files or src.is_symlink() or not src.is_file():
                    continue
                if src.stat().st_size > MAX_FILE_BYTES:
                    continue
                dest = dest_root / src.relative_to(source)
                dest.parent.mkdir(parents=True, exist_ok=True)
                shutil.copyfile(src, dest)
                copied += 1
                size += src.stat().st_size
            if copied >= files:
                break
        if copied >= files or copied == before:
            break
    git(repo, "init", "-q", "-b", "main")
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", "standard library")
    return {"files": copied, "bytes": size, "checkout_kb": disk_kb(repo, skip=".git")}


def disk_kb_together(*paths: Path) -> int:
    """KiB the paths hold together, a file hard-linked from several of them counted once."""
    out = subprocess.run(["du", "-sck", *map(str, paths)], capture_output=True, text=True,
                         check=True).stdout
    return int(out.splitlines()[-1].split()[0])


def disk_kb(path: Path, skip: str | None = None) -> int:
    """Allocated size of a tree in KiB (what `du -sk` says), optionally without one entry."""
    args = ["du", "-sk", *([f"--exclude={skip}"] if skip else []), str(path)]
    out = subprocess.run(args, capture_output=True, text=True, check=True).stdout
    return int(out.split()[0])


# -- part 1: dispatch through the orchestrator ---------------------------------------------


def make_project(root: Path, base: Path, strategy: str, issues: int) -> Path:
    """A project whose repo is a local clone of `base` (objects hard-linked: no copy)."""
    root.mkdir(parents=True)
    git(root, "clone", "-q", "--local", str(base), "repo")
    cfg = {
        "tracker": {"kind": "local", "handoff_state": HANDOFF,
                    "active_states": ["Todo", "In Progress"]},
        "polling": {"interval_ms": 500},
        "workspace": {"root": "./workspaces", "repo": "./repo", "strategy": strategy},
        "agent": {"backend": "builtin", "max_concurrent_agents": issues, "max_turns": 1},
        "codex": {"stall_timeout_ms": 600_000},
    }
    path = root / "WORKFLOW.md"
    path.write_text(f"---\n{yaml.safe_dump(cfg)}---\nWork on {{{{ issue.identifier }}}}\n")
    return path


async def dispatch(root: Path, base: Path, strategy: str, n: int,
                   say: Callable[[str], None], warm: bool = True) -> dict[str, Any]:
    """Eligible -> agent started for `n` issues made eligible at once (one refresh).
    `warm`: with overlay, the burst comes once the shared checkout `tack up` starts at
    start-up is there; else right after the first tick, and waits for it."""
    watcher = WorkflowWatcher(make_project(root, base, strategy, n))
    store = Store(watcher.current.store_path())
    probe = Probe()
    backend = StubBackend(probe, rate=1, seconds=1, hang=True)  # started agents just wait
    orch = Orchestrator(watcher, store, backend_factory=lambda wf: backend)
    tracker = orch.tracker
    assert isinstance(tracker, LocalTracker)
    started_at = time.perf_counter()
    task = asyncio.create_task(orch.run())
    shared_s = 0.0
    try:
        await until(lambda: orch.tick_count >= 1, 60, "the first tick")
        if strategy == "overlay" and warm:
            # `tack up` checks the base out when it starts; a burst that comes later (any
            # burst but one right at start-up) finds it there.
            await until(lambda: any(map(is_checked_out, (root / "workspaces.bases").glob("*"))),
                        600, "the shared checkout")
            shared_s = time.perf_counter() - started_at
        say(f"[{strategy}] {n} issues eligible at once")
        tracker.add_issues(NewIssue(f"bench issue {i}") for i in range(n))
        eligible_at = time.perf_counter()
        orch.request_refresh()
        await until(lambda: len(probe.started) >= n, 60 + n * 10, f"{n} agents to start")
        wall = time.perf_counter() - eligible_at
    finally:
        orch.stop()
        await asyncio.wait_for(task, 300)
        store.close()
        if strategy == "overlay":  # else the temporary directory cannot be deleted
            # Lazily: with 50,000 files the runs' host-side commits (`git add --all`) can
            # outlast the orchestrator's 30 s shutdown and keep a mount busy.
            for path in (root / "workspaces").iterdir():
                subprocess.run(["umount", "--lazy", str(path)], capture_output=True)
    latencies = sorted((t - eligible_at) * 1000 for t in probe.started.values())
    ws_root, admin = root / "workspaces", root / "repo" / ".git" / "worktrees"
    shared_kb = 0
    if strategy == "overlay":
        # Per issue: its upper layer and admin files; the shared checkout is counted once,
        # apart (with the indexes hard-linked to its own).
        shared_kb = disk_kb(root / "workspaces.bases")
        extra_kb = disk_kb_together(root / "workspaces.bases", root / "workspaces.layers",
                                    admin) - shared_kb
    else:
        extra_kb = disk_kb(ws_root) + (disk_kb(admin) if admin.exists() else 0)
    return {
        "strategy": strategy + ("" if strategy != "overlay" else
                                " (base checked out)" if warm else " (right at start-up)"),
        "shared_checkout_s": round(shared_s, 2),
        "eligible_after_start_s": round(eligible_at - started_at, 2),
        "started": len(latencies),
        "p50_ms": round(percentile(latencies, 50), 1),
        "p99_ms": round(percentile(latencies, 99), 1),
        "first_ms": round(latencies[0], 1),
        "all_started_s": round(wall, 2),
        "disk_per_workspace_kb": round(extra_kb / n),
        "shared_kb": shared_kb,
    }


# -- part 2: one workspace at a time, per way of making it ---------------------------------


def timed(make: Callable[[int], None], i: int) -> float:
    t0 = time.perf_counter()
    make(i)
    return (time.perf_counter() - t0) * 1000


def one_at_a_time(root: Path, base: Path, samples: int) -> list[dict[str, Any]]:
    """Mean ms and extra KiB per workspace for each way, `samples` workspaces each."""
    root.mkdir(parents=True)
    repo = root / "repo"
    git(root, "clone", "-q", "--local", str(base), "repo")
    admin = repo / ".git" / "worktrees"

    def full(i: int) -> None:  # before: `git worktree add` checks out under the lock
        git(repo, "worktree", "add", "-q", "-b", f"full-{i}", str(root / f"full-{i}"), "HEAD")

    def split(i: int) -> None:  # now: register (locked), then check out (unlocked)
        path = root / f"split-{i}"
        git(repo, "worktree", "add", "-q", "--no-checkout", "-b", f"split-{i}", str(path),
            "HEAD")
        git(path, "checkout", "-q", "--force")

    def register(i: int) -> None:  # the part that holds the repository lock
        git(repo, "worktree", "add", "-q", "--no-checkout", "-b", f"reg-{i}",
            str(root / f"reg-{i}"), "HEAD")

    def directory(i: int) -> None:
        (root / f"dir-{i}").mkdir()

    rows = []
    for name, make, prefix in (("directory (mkdir)", directory, "dir"),
                               ("worktree add (before)", full, "full"),
                               ("worktree add --no-checkout + checkout (now)", split, "split"),
                               ("of which: register under the lock", register, "reg")):
        before = disk_kb(admin) if admin.exists() else 0
        ms = [timed(make, i) for i in range(samples)]
        after = disk_kb(admin) if admin.exists() else 0
        trees = sum(disk_kb(root / f"{prefix}-{i}") for i in range(samples))
        rows.append({"way": name, "ms": round(sum(ms) / len(ms), 1),
                     "extra_kb": round((trees + after - before) / samples)})
    rows.append(overlay_row(root, repo, samples))
    return rows




def overlay_row(root: Path, repo: Path, samples: int) -> dict[str, Any]:
    """Overlay workspaces made by `WorkspaceManager` (`workspace.strategy: overlay`) one at a
    time, if this process may mount overlayfs (root, or CAP_SYS_ADMIN); the shared checkout
    is made first and not counted."""
    row: dict[str, Any] = {"way": "overlay on a shared checkout (strategy: overlay)"}
    if not can_mount(root / "probe"):
        row["error"] = "cannot mount overlayfs here"
        return row
    manager = WorkspaceManager(root=root / "ov", repo=repo, hooks=HooksConfig(),
                               workspace=WorkspaceConfig(strategy="overlay"))
    ms: list[float] = []

    async def make() -> None:
        t0 = time.perf_counter()
        await manager.warm()
        row["shared_checkout_ms"] = round((time.perf_counter() - t0) * 1000)
        for i in range(samples):
            t0 = time.perf_counter()
            ws = await manager.prepare(Issue(id=f"ov-{i}", identifier=f"OV-{i}", title="t",
                                             state="Todo"))
            ms.append((time.perf_counter() - t0) * 1000)
            if git(ws.path, "status", "--porcelain"):
                row["error"] = "git status is not clean in the overlay"

    # Part 2 runs inside the bench's event loop, synchronously: the manager gets its own.
    with ThreadPoolExecutor(1) as pool:
        pool.submit(asyncio.run, make()).result()
    bases, layers = root / "ov.bases", root / "ov.layers"
    # The shared checkout and its index (hard-linked into each workspace) are not counted.
    admin = repo / ".git" / "worktrees"
    shared = [bases, *(admin / lower.name for lower in bases.iterdir())]
    kb = disk_kb_together(*shared, layers, *(admin / f"OV-{i}" for i in range(samples))) \
        - disk_kb_together(*shared)
    for path in (root / "ov").iterdir():
        subprocess.run(["umount", "--lazy", str(path)], capture_output=True)
    row.update(ms=round(sum(ms) / len(ms), 1), extra_kb=round(kb / samples))
    return row


# -- report ---------------------------------------------------------------------------------


async def bench(args: argparse.Namespace, say: Callable[[str], None]) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="tack-bench-ws-", ignore_cleanup_errors=True) as tmp:
        root = Path(tmp)
        result: dict[str, Any] = {"machine": {"cpus": os.cpu_count(),
                                              "load": [round(x, 2) for x in os.getloadavg()]},
                                  "repos": []}
        for files in args.files:
            say(f"repository of {files} files")
            base = root / f"base-{files}"
            repo_info = make_repo(base, files)
            entry: dict[str, Any] = {"repo": repo_info}
            if files == args.files[0] and args.issues:
                strategies = ["directory", *(s for s in args.strategies if s != "directory")]
                if "overlay" in strategies and not can_mount(root / "probe"):
                    strategies.remove("overlay")
                runs = [await dispatch(root / f"d-{files}-{s}", base, s, args.issues, say)
                        for s in strategies]
                if "overlay" in strategies:
                    runs.append(await dispatch(root / f"d-{files}-overlay-cold", base,
                                               "overlay", args.issues, say, warm=False))
                plain = runs[0]
                for r in runs:
                    r["p50_vs_directory"] = round(r["p50_ms"] / max(plain["p50_ms"], 0.1), 2)
                    r["p99_vs_directory"] = round(r["p99_ms"] / max(plain["p99_ms"], 0.1), 2)
                entry["dispatch"] = runs
            if not args.samples:
                result["repos"].append(entry)
                continue
            say(f"{args.samples} workspaces one at a time per way")
            ways = one_at_a_time(root / f"w-{files}", base, args.samples)
            for way in ways:
                if "extra_kb" in way:
                    way["disk_vs_checkout"] = round(way["extra_kb"] / repo_info["checkout_kb"], 4)
            entry["one_at_a_time"] = ways
            result["repos"].append(entry)
        return result


def print_report(result: dict[str, Any], console: Console) -> None:
    console.print(f"machine: {result['machine']}")
    for entry in result["repos"]:
        repo = entry["repo"]
        console.print(f"\nrepository: {repo['files']} files, {repo['bytes'] / KB / KB:.1f} MB, "
                      f"checkout {repo['checkout_kb'] / KB:.1f} MB on disk")
        if "dispatch" in entry:
            t = Table(title="eligible -> agent started, all issues at once")
            for col in ("strategy", "started", "p50 ms", "p99 ms", "p99 × directory",
                        "all started s", "disk per workspace"):
                t.add_column(col, justify="right")
            for r in entry["dispatch"]:
                t.add_row(r["strategy"], str(r["started"]), f"{r['p50_ms']:,.0f}",
                          f"{r['p99_ms']:,.0f}", f"{r['p99_vs_directory']}×",
                          f"{r['all_started_s']}", f"{r['disk_per_workspace_kb']:,} KB"
                          + (f" (+{r['shared_kb']:,} KB shared)" if r["shared_kb"] else ""))
            console.print(t)
            for r in entry["dispatch"]:
                if r["strategy"].startswith("overlay"):
                    console.print(f"{r['strategy']}: issues eligible "
                                  f"{r['eligible_after_start_s']} s after start-up"
                                  + (f", the shared checkout ready after "
                                     f"{r['shared_checkout_s']} s" if r["shared_checkout_s"]
                                     else ""))
        if "one_at_a_time" not in entry:
            continue
        t = Table(title="one workspace at a time")
        for col in ("way", "ms", "extra disk", "× checkout"):
            t.add_column(col, justify="right")
        for w in entry["one_at_a_time"]:
            if "error" in w:
                t.add_row(w["way"], w["error"], "", "")
            else:
                t.add_row(w["way"], f"{w['ms']:,.1f}", f"{w['extra_kb']:,} KB",
                          f"{w['disk_vs_checkout']:.3f}")
        console.print(t)
        for w in entry["one_at_a_time"]:
            if "shared_checkout_ms" in w:
                console.print(f"overlay: the shared checkout took {w['shared_checkout_ms']:,} ms")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--issues", type=int, default=200, help="issues eligible at once (0: skip)")
    ap.add_argument("--files", type=int, nargs="+", default=[5000],
                    help="repository sizes; the dispatch runs on the first")
    ap.add_argument("--samples", type=int, default=5, help="workspaces per way in part 2 (0: skip it)")
    ap.add_argument("--strategies", nargs="+", choices=["worktree", "overlay"],
                    default=["worktree", "overlay"],
                    help="dispatched after the directory baseline (overlay only if mountable)")
    ap.add_argument("--json", action="store_true", help="print one JSON object, nothing else")
    args = ap.parse_args(argv)
    configure_logging("warning")
    err = Console(stderr=True)

    def say(msg: str) -> None:
        if not args.json:
            err.print(f"[dim]{msg}[/dim]")

    result = asyncio.run(bench(args, say))
    if args.json:
        sys.stdout.write(json.dumps(result, indent=2) + "\n")
    else:
        print_report(result, Console(width=120))
    return 0


if __name__ == "__main__":
    sys.exit(main())
