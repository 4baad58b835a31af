"""Run every (task, variant, repeat) through the real orchestrator and score it.

Each trial is a fresh directory: a clone of the task's base repository, a WORKFLOW.md with
the variant's overrides, a local tracker holding the one issue. The orchestrator runs
in-process until the issue reaches the hand-off state (or the timeout), then the hidden
tests run in a clean checkout of the agent's branch.
"""

from __future__ import annotations

import asyncio
import shutil
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import structlog

from tack.errors import TackError
from tack.eval.sources import build_base, git
from tack.eval.store import RESULTS_FILE, EvalStore, TrialResult
from tack.eval.suite import EvalError, IssueSpec, Suite, Task
from tack.eval.variants import BaseWorkflow, Variant
from tack.eval.verify import checkout_branch, run_hidden_tests

log = structlog.get_logger("tack.eval")


@dataclass
class RunPlan:
    suite: Suite
    variants: list[Variant]
    out: Path
    repeat: int = 1
    jobs: int = 1
    timeout_s: float = 600.0
    max_runs: int = 3
    base: BaseWorkflow = field(default_factory=lambda: BaseWorkflow.load(None))
    common: dict[str, Any] = field(default_factory=dict)
    keep: bool = False

    def trials(self) -> list[tuple[Task, Variant, int]]:
        return [(t, v, r) for r in range(self.repeat) for t in self.suite.tasks
                for v in self.variants]


ProgressFn = Callable[[TrialResult], None]


def check_variants(plan: RunPlan) -> None:
    """Every variant's WORKFLOW.md must load before any trial starts: a typo fails now, with
    the loader's message naming the key, not forty trials later."""
    from tack.workflow import load_workflow

    names = [v.name for v in plan.variants]
    if not names:
        raise EvalError("name at least one --variant, e.g. `--variant base=`.")
    if len(set(names)) != len(names):
        raise EvalError(f"variant names must be unique; got {', '.join(names)}.")
    with tempfile.TemporaryDirectory(prefix="tack-eval-check-") as tmp:
        for variant in plan.variants:
            path = Path(tmp) / "WORKFLOW.md"
            path.write_text(plan.base.render(variant, plan.common, None), "utf-8")
            try:
                load_workflow(path)
            except TackError as exc:
                raise EvalError(f"variant `{variant.name}` ({variant.describe()}): "
                                f"{exc.message}") from None


async def run_plan(plan: RunPlan, progress: ProgressFn | None = None) -> EvalStore:
    """Run the trials not yet scored in `plan.out`; returns the run's store."""
    check_variants(plan)
    store = EvalStore(plan.out / RESULTS_FILE)
    store.set_meta("suite", str(plan.suite.origin))
    store.set_meta("variants", {v.name: v.describe() for v in plan.variants})
    store.set_meta("tasks", {t.id: {"kind": t.kind, "title": t.issue.title}
                             for t in plan.suite.tasks})
    done = store.done()
    todo = [(t, v, r) for t, v, r in plan.trials() if (t.id, v.name, r) not in done]
    bases: dict[str, asyncio.Task[Path]] = {}
    gate = asyncio.Semaphore(max(1, plan.jobs))

    async def base_for(task: Task) -> Path:
        if task.id not in bases:
            bases[task.id] = asyncio.ensure_future(asyncio.to_thread(
                build_base, task, plan.out / "bases" / task.id, base_dir=plan.suite.base_dir()))
        return await bases[task.id]

    async def one(task: Task, variant: Variant, repeat: int) -> None:
        async with gate:
            result = await run_trial(plan, task, variant, repeat, base_for)
        store.record(result)
        if progress:
            progress(result)

    await asyncio.gather(*(one(t, v, r) for t, v, r in todo))
    return store


async def run_trial(plan: RunPlan, task: Task, variant: Variant, repeat: int,
                    base_for: Callable[[Task], Any]) -> TrialResult:
    result = TrialResult(task.id, variant.name, repeat, status="error")
    root = plan.out / "trials" / task.id / f"{variant.name}-{repeat}"
    started = time.monotonic()
    try:
        try:
            base = await base_for(task)
        except TackError as exc:
            result.error = f"task source: {exc.message}"
            return result
        result.setup_s = time.monotonic() - started  # shared base build counts once
        await asyncio.to_thread(_prepare_trial, plan, task, variant, base, root)
        result.setup_s = time.monotonic() - started
        agent_started = time.monotonic()
        handed_off, error = await drive(root / "WORKFLOW.md", plan.timeout_s, plan.max_runs)
        result.agent_s = time.monotonic() - agent_started
        result.handed_off, result.error = handed_off, error
        read_usage(root / "WORKFLOW.md", result)
        verify_started = time.monotonic()
        await asyncio.to_thread(_score, task, root, result)
        result.verify_s = time.monotonic() - verify_started
        result.status = "scored"
    except TackError as exc:
        result.error = exc.message
    except Exception as exc:  # noqa: BLE001 - one broken trial must not end the whole run
        log.warning("eval trial failed", task=task.id, variant=variant.name, error=repr(exc))
        result.error = f"{type(exc).__name__}: {exc}"
    finally:
        result.wall_s = time.monotonic() - started
        if not plan.keep:
            await asyncio.to_thread(shutil.rmtree, root, True)
    return result


def _prepare_trial(plan: RunPlan, task: Task, variant: Variant, base: Path, root: Path) -> None:
    prepare_attempt(plan.base, plan.common, variant, task.issue, task.setup, base, root)


def prepare_attempt(base_wf: BaseWorkflow, common: dict[str, Any], variant: Variant,
                    issue: IssueSpec, setup: str | None, base: Path, root: Path) -> None:
    """A fresh attempt directory: a clone of `base`, the variant's WORKFLOW.md, and a local
    tracker holding `issue` (as TACK-1)."""
    from tack.tracker.local import LocalTracker
    from tack.workflow import load_workflow

    shutil.rmtree(root, ignore_errors=True)
    root.mkdir(parents=True)
    git(root, "clone", "-q", str(base), "repo")
    (root / "repo" / ".git" / "info" / "exclude").write_text("__pycache__/\n*.pyc\n")
    # Agents commit in worktrees of this clone; a machine without a git identity must not
    # turn every trial into "the agent committed nothing".
    git(root / "repo", "config", "user.name", "Tack Eval Agent")
    git(root / "repo", "config", "user.email", "agent@tack.invalid")
    wf_path = root / "WORKFLOW.md"
    wf_path.write_text(base_wf.render(variant, common, setup), "utf-8")
    wf = load_workflow(wf_path)
    tracker = LocalTracker.from_config(wf.config.tracker, tack_dir=wf.tack_dir)
    tracker.add_issue(issue.title, description=issue.description or None, labels=issue.labels)


async def drive(wf_path: Path, timeout_s: float, max_runs: int = 3) -> tuple[bool, str | None]:
    """Run the orchestrator until the issue is handed off and no run is active, or until
    `max_runs` runs ended without a hand-off: the orchestrator would go on continuing an
    agent that stopped short, and a trial should not wait for its timeout for that."""
    from tack.orchestrator import Orchestrator
    from tack.orchestrator.service import run_service
    from tack.tracker.local import LocalTracker
    from tack.workflow import load_workflow

    wf = load_workflow(wf_path)
    handoff = wf.config.tracker.handoff_state.strip().lower()
    terminal = {s.strip().lower() for s in wf.config.tracker.terminal_states}
    tracker = LocalTracker.from_config(wf.config.tracker, tack_dir=wf.tack_dir)
    holder: dict[str, Orchestrator] = {}
    service = asyncio.create_task(run_service(
        wf_path, port=None, install_signals=False,
        on_started=lambda orch, _url: holder.__setitem__("orch", orch)))
    deadline = time.monotonic() + timeout_s
    state = ""
    gave_up = False
    try:
        while time.monotonic() < deadline and not service.done():
            await asyncio.sleep(0.05)
            orch = holder.get("orch")
            if orch is None:
                continue
            state = next((i.state for i in tracker.list_issues()), "").strip().lower()
            if (state == handoff or state in terminal) and not orch.running:
                break
            if not orch.running and _ended_runs(orch) >= max_runs:
                gave_up = True
                break
    finally:
        if "orch" in holder:
            holder["orch"].stop()
        try:
            await asyncio.wait_for(service, timeout=30)
        except TackError as exc:
            return False, exc.message
        except TimeoutError:
            return state == handoff, "the orchestrator did not stop within 30 s"
    if gave_up:
        return False, f"not handed off after {max_runs} runs (issue state: {state or 'unknown'})"
    if state != handoff:
        return False, (f"not handed off within {timeout_s:.0f} s (issue state: "
                       f"{state or 'unknown'})")
    return True, None


def _ended_runs(orch: Any) -> int:
    row = orch.store.db.execute("SELECT COUNT(*) FROM runs WHERE status != 'running'").fetchone()
    return int(row[0])


def read_usage(wf_path: Path, result: TrialResult) -> None:
    from tack.store import Store
    from tack.workflow import load_workflow

    wf = load_workflow(wf_path)
    store = Store(wf.store_path())
    try:
        for run in store.runs_for("TACK-1", limit=100):
            result.input_tokens += int(run["input_tokens"])
            result.output_tokens += int(run["output_tokens"])
            result.turns += int(run["turn_count"])
    finally:
        store.close()


def _score(task: Task, root: Path, result: TrialResult) -> None:
    from tack.tracker.local import LocalTracker
    from tack.workflow import load_workflow
    from tack.workspace import WorkspaceManager

    wf = load_workflow(root / "WORKFLOW.md")
    tracker = LocalTracker.from_config(wf.config.tracker, tack_dir=wf.tack_dir)
    issue = tracker.list_issues()[0]
    manager = WorkspaceManager(root=wf.workspace_root(), repo=wf.repo_dir(),
                               workspace=wf.config.workspace, hooks=wf.config.hooks)
    branch = manager.branch_for(issue)
    checkout = root / "verify"
    result.detail["branch"] = branch
    if not checkout_branch(root / "repo", branch, checkout):
        result.detail["verify_output"] = f"no branch {branch}: the agent committed nothing"
        result.fail_to_pass_total = len(task.verify.fail_to_pass)
        result.pass_to_pass_total = len(task.verify.pass_to_pass)
        return
    verdict = run_hidden_tests(task, checkout)
    spec = task.verify
    result.fail_to_pass_passed = verdict.count(spec.fail_to_pass)
    result.fail_to_pass_total = len(spec.fail_to_pass)
    result.pass_to_pass_passed = verdict.count(spec.pass_to_pass)
    result.pass_to_pass_total = len(spec.pass_to_pass)
    result.detail["verify_output"] = verdict.output[-1500:]
    result.detail["failed"] = [i for i, ok in verdict.passed.items() if not ok][:20]
    result.resolved = (result.handed_off
                       and result.fail_to_pass_passed == result.fail_to_pass_total
                       and result.pass_to_pass_passed == result.pass_to_pass_total)
