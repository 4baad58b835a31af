"""Sandbox overhead: a `shell` tool call of the built-in agent with and without the sandbox
(goal: at most 20 ms more at p50), the same with the network proxy on, the sandboxed calls
again back to back (no pause between calls, unlike an agent waiting for its model), and a
real project's `pytest` run in and out of the sandbox (goal: at most 5 % slower).

The project is a pinned sdist from PyPI, cached by bench/feedback.py. Runs alternate between
the two modes so a busy machine slows both alike; ratios are against the unsandboxed
baseline measured in the same run.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from tack.agents.base import SessionContext
from tack.agents.tools import run_tool
from tack.sandbox import SandboxPolicy, close_proxies, policy_from_config, prepare
from tack.tracker.local import LocalTracker
from tack.workflow.config import SandboxConfig

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from bench.feedback import PROJECTS, fetch  # noqa: E402


def _ms(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] * 1000


async def shell_calls(calls: int, workspace: Path, tracker: LocalTracker,
                      modes: dict[str, SandboxPolicy | None]) -> dict[str, list[float]]:
    issue = tracker.add_issue("bench")
    times: dict[str, list[float]] = {name: [] for name in modes}
    for _ in range(calls):
        for name, policy in modes.items():
            ctx = SessionContext(workspace=workspace, issue=issue, tracker=tracker,
                                 env=dict(os.environ), sandbox=policy)
            started = time.perf_counter()
            outcome = await run_tool("shell", {"command": "true"}, ctx)
            times[name].append(time.perf_counter() - started)
            assert outcome.ok, outcome.output
    # The same session's calls with no pause at all: the next command's process (spawned
    # ahead and moved into its cgroup, tack.sandbox.session) has no time to get ready.
    policy = modes["sandboxed"]
    times["sandboxed, back to back"] = []
    for _ in range(calls):
        ctx = SessionContext(workspace=workspace, issue=issue, tracker=tracker,
                             env=dict(os.environ), sandbox=policy)
        started = time.perf_counter()
        outcome = await run_tool("shell", {"command": "true"}, ctx)
        times["sandboxed, back to back"].append(time.perf_counter() - started)
    await close_proxies()
    return times


async def _pytest(tree: Path, tests: str, policy: SandboxPolicy | None) -> float:
    argv = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", tests]
    env = dict(os.environ)
    boxed = None
    if policy is not None:
        boxed = await prepare(argv, policy, tree, env)
        argv, env = boxed.argv, boxed.env
    started = time.perf_counter()
    proc = await asyncio.create_subprocess_exec(*argv, cwd=tree, env=env,
                                                stdout=subprocess.DEVNULL,
                                                stderr=subprocess.DEVNULL)
    code = await proc.wait()
    elapsed = time.perf_counter() - started
    if boxed is not None:
        boxed.close()
    if code != 0:
        raise SystemExit(f"pytest failed with exit code {code} "
                         f"({'sandboxed' if policy else 'plain'}) in {tree}")
    return elapsed


async def pytest_runs(runs: int, project_name: str, policy: SandboxPolicy
                      ) -> tuple[list[float], list[float]]:
    project = next(p for p in PROJECTS if p.name == project_name)
    source = fetch(project)
    plain: list[float] = []
    boxed: list[float] = []
    with tempfile.TemporaryDirectory(prefix="tack-bench-sandbox-") as tmp:
        tree = Path(tmp) / project.dirname
        shutil.copytree(source, tree)
        await _pytest(tree, project.tests[0], None)  # warm the page cache and .pyc files
        for run in range(runs):  # alternate which goes first, so neither rides on the other
            pair = [(plain, None), (boxed, policy)]
            for times, mode in pair if run % 2 else reversed(pair):
                times.append(await _pytest(tree, project.tests[0], mode))
    return plain, boxed


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--calls", type=int, default=100)
    parser.add_argument("--pytest-runs", type=int, default=5)
    parser.add_argument("--project", default="more-itertools")
    args = parser.parse_args()
    policy = policy_from_config(SandboxConfig())
    online = policy_from_config(SandboxConfig(allow_hosts=["pypi.org"]))
    with tempfile.TemporaryDirectory(prefix="tack-bench-sandbox-") as tmp:
        workspace = Path(tmp) / "ws"
        workspace.mkdir()
        with LocalTracker(Path(tmp) / "issues.db") as tracker:
            times = await shell_calls(args.calls, workspace, tracker,
                                      {"plain": None, "sandboxed": policy,
                                       "sandboxed+proxy": online})
    base = _ms(times["plain"], 0.5)
    print(f"shell tool call `true`, {args.calls} calls each (ms)")
    print(f"{'mode':<24}{'p50':>8}{'p95':>8}{'p50 overhead':>14}")
    for name, values in times.items():
        print(f"{name:<24}{_ms(values, 0.5):>8.1f}{_ms(values, 0.95):>8.1f}"
              f"{_ms(values, 0.5) - base:>+14.1f}")
    if args.pytest_runs <= 0:
        return
    plain, boxed = await pytest_runs(args.pytest_runs, args.project, policy)
    print(f"\npytest of {args.project}, {args.pytest_runs} runs each (median s)")
    p, b = statistics.median(plain), statistics.median(boxed)
    print(f"plain {p:.2f}  sandboxed {b:.2f}  ratio {b / p:.3f} ({(b / p - 1) * 100:+.1f} %)")


if __name__ == "__main__":
    asyncio.run(main())
