"""`tack eval` benchmark: throughput and Tack's own overhead per task on the starter suite.

The built-in agent runs on the stub model replaying each task's reference fix (the oracle
script). With `--latency-ms` every model answer waits that long first, as a hosted model's
turn does, so parallel trials have waiting to overlap; without it the agent's own time is
near zero. What is not the model's waiting is Tack: building the trial (clone, WORKFLOW.md,
tracker), the orchestrator (dispatch, polling, hand-off detection), and the hidden tests in
a clean checkout. Every trial goes through the real runner. The baseline is the first
--jobs value, measured in the same run. Needs the starter sdists in the cache (one download).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import os
import resource
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

from tack.eval import load_suite
from tack.eval.runner import RunPlan, run_plan
from tack.eval.starter import oracle_script, write_suite
from tack.eval.variants import BaseWorkflow, Variant
from tack.logs import configure_logging
from tack.testing import StubModelServer

GOAL_OVERHEAD_S = 2.0


def _cpu() -> float:
    own, kids = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(
        resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + kids.ru_utime + kids.ru_stime


def with_latency(script: dict[str, Any], latency_ms: int) -> dict[str, Any]:
    """Every scripted answer waits `latency_ms` first, as a hosted model's turn does: the agent's
    own time is then mostly waiting, which parallel trials should overlap."""
    for conversation in script["conversations"]:
        for step in conversation["steps"]:
            step["delay_ms"] = latency_ms
    return script


def measure(root: Path, suite_dir: Path, stub: StubModelServer, jobs: int,
            tasks: int | None = None, latency_ms: int = 0) -> dict[str, float]:
    suite = load_suite(suite_dir)
    suite.tasks = suite.tasks[:tasks] if tasks else suite.tasks
    out = root / f"run-j{jobs}"
    # One variant, one repeat: each trial's set-up includes building its task's base
    # repository (unpacking the sdist, seeding the bug), the worst case per task.
    plan = RunPlan(suite, [Variant("oracle")], out, jobs=jobs, timeout_s=180,
                   base=BaseWorkflow.load(None), common={"builtin": {"base_url": stub.url}})
    asked = len(stub.requests)
    cpu0, wall0 = _cpu(), time.monotonic()
    store = asyncio.run(run_plan(plan))
    wall, cpu = time.monotonic() - wall0, _cpu() - cpu0
    results = store.results()
    store.close()
    n = len(results)
    model_s = (len(stub.requests) - asked) / n * latency_ms / 1000
    agent_s = statistics.fmean(r.agent_s for r in results)
    overhead_s = statistics.fmean(r.setup_s + r.verify_s for r in results)
    return {
        "jobs": jobs, "tasks": n, "resolved": sum(r.resolved for r in results),
        "wall_s": wall, "tasks_per_hour": n / wall * 3600,
        "setup_s": statistics.fmean(r.setup_s for r in results),
        "verify_s": statistics.fmean(r.verify_s for r in results),
        "agent_s": agent_s, "model_wait_s": model_s,
        "overhead_s": overhead_s,
        # Tack's whole share of a trial: set-up, hidden tests, and the agent phase minus the
        # model's scripted waiting (dispatch, polling, tools, hand-off detection).
        "tack_s": overhead_s + agent_s - model_s,
        "cpu_s_per_task": cpu / n,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--jobs", default="1,2,4", help="comma-separated --jobs values")
    parser.add_argument("--latency-ms", type=int, default=0,
                        help="the stub model's delay before each answer (a real model's turn)")
    parser.add_argument("--tasks", type=int, default=None,
                        help="run only the suite's first N tasks (a quicker measurement)")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    configure_logging("error")
    # The stub's SSE writes to agents that already hung up are logged by asyncio; noise here.
    logging.getLogger("asyncio").setLevel(logging.ERROR)
    rows = []
    with tempfile.TemporaryDirectory(prefix="tack-bench-eval-") as tmp:
        root = Path(tmp)
        write_suite(root / "suite")
        with StubModelServer(with_latency(oracle_script(), args.latency_ms)) as stub:
            for jobs in (int(j) for j in args.jobs.split(",")):
                rows.append(measure(root, root / "suite", stub, jobs, args.tasks,
                                    args.latency_ms))
    load = os.getloadavg()[0]
    if args.json:
        print(json.dumps({"rows": rows, "load_avg_1m": load, "cpus": os.cpu_count()}, indent=2))
        return
    base = rows[0]["tasks_per_hour"]
    print(f"starter suite, oracle stub model ({args.latency_ms} ms per answer), "
          f"{os.cpu_count()} CPUs, load average {load:.1f}")
    print(f"{'jobs':>4} {'resolved':>9} {'tasks/h':>8} {'vs first':>8} {'setup s':>8} "
          f"{'verify s':>8} {'overhead s':>10} {'goal':>5} {'agent s':>8} {'model s':>8} "
          f"{'tack s':>7} {'CPU s/task':>10}")
    for r in rows:
        print(f"{r['jobs']:>4} {int(r['resolved']):>5}/{int(r['tasks']):<3} "
              f"{r['tasks_per_hour']:>8.0f} {r['tasks_per_hour'] / base:>7.2f}x "
              f"{r['setup_s']:>8.2f} {r['verify_s']:>8.2f} {r['overhead_s']:>10.2f} "
              f"{'ok' if r['overhead_s'] <= GOAL_OVERHEAD_S else 'over':>5} "
              f"{r['agent_s']:>8.2f} {r['model_wait_s']:>8.2f} {r['tack_s']:>7.2f} "
              f"{r['cpu_s_per_task']:>10.2f}")


if __name__ == "__main__":
    main()
