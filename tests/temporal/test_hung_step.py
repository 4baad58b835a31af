"""A worker's turn activity, run by the Temporal SDK's ActivityEnvironment (no server needed):
a step before the agent's turn that hangs is stopped after `executor.step_timeout_ms`, its
process killed, and the attempt fails as `TackStepHung` for Temporal to retry; heartbeats
keep coming while it waits."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest
from temporalio.exceptions import ApplicationError
from temporalio.testing import ActivityEnvironment

from tack.orchestrator.temporal.activities import IssueActivities
from tack.orchestrator.temporal.processes import ProcessRegistry
from tack.orchestrator.temporal.types import RunInput, TurnInput
from tack.workflow import Workflow, WorkflowWatcher
from tests.e2e.harness import await_until
from tests.temporal.workers import temporal_project
from tests.workspace.test_git_cancel import running


def no_agent(wf: Workflow) -> Any:
    raise AssertionError("the agent must not start while before_run hangs")


def hanging_turn(tmp_path: Path, step_timeout_ms: int
                 ) -> tuple[IssueActivities, ActivityEnvironment, TurnInput, list[Any]]:
    project = temporal_project(tmp_path, "http://127.0.0.1:9/v1", "127.0.0.1:9", {
        "executor": {"step_timeout_ms": step_timeout_ms},
        # The hook's own timeout is far away: only the step timeout can end it.
        "hooks": {"before_run": "echo $$ > ../hung.pid; exec sleep 617", "timeout_ms": 600_000},
    })
    ident = project.add_issue("Hang before the turn")
    root = tmp_path / "worker-ws"
    acts = IssueActivities(WorkflowWatcher(project.workflow), worker="w1", workspace_root=root,
                           repo=None, registry=ProcessRegistry(root), backend_factory=no_agent)
    run = RunInput(issue_id=project.issue(ident)["id"], identifier=ident, attempt=None, run_id=1,
                   max_turns=1, turn_timeout_ms=600_000, stall_timeout_ms=3000,
                   max_retry_backoff_ms=1000, hooks_timeout_ms=600_000)
    env = ActivityEnvironment()
    beats: list[Any] = []
    env.on_heartbeat = lambda *details: beats.append(details)
    return acts, env, TurnInput(run=run, turn=1), beats


async def hook_pid(tmp_path: Path) -> int:
    pid_file = tmp_path / "worker-ws" / "hung.pid"
    await await_until(lambda: pid_file.is_file() and pid_file.read_text().strip(), 60,
                      "the before_run hook to start")
    return int(pid_file.read_text())


async def test_a_hung_before_run_hook_is_stopped_and_the_attempt_fails(tmp_path: Path) -> None:
    acts, env, inp, beats = hanging_turn(tmp_path, 5000)
    turn = asyncio.ensure_future(env.run(acts.run_turn, inp))
    hook = await hook_pid(tmp_path)
    try:
        with pytest.raises(ApplicationError) as failed:
            await asyncio.wait_for(turn, 120)
        assert failed.value.type == "TackStepHung"
        assert "before the agent's turn" in str(failed.value)
        assert "executor.step_timeout_ms (5000 ms)" in str(failed.value)
        assert not failed.value.non_retryable
        assert not running(hook)
        assert len(beats) >= 3  # the start, then the keep-alive (every second) while it hung
    finally:
        turn.cancel()
        await asyncio.gather(turn, return_exceptions=True)
        await acts.close()


async def test_cancelling_the_activity_during_a_hung_step_kills_it(tmp_path: Path) -> None:
    acts, env, inp, _ = hanging_turn(tmp_path, 600_000)
    turn = asyncio.ensure_future(env.run(acts.run_turn, inp))
    hook = await hook_pid(tmp_path)
    try:
        env.cancel()  # what Temporal does when the orchestrator stops the run
        with pytest.raises(asyncio.CancelledError):
            await asyncio.wait_for(turn, 60)
        assert not running(hook)
    finally:
        turn.cancel()
        await asyncio.gather(turn, return_exceptions=True)
        await acts.close()
