"""The issue-run workflow: prepare the workspace, run agent turns, hand off (one attempt).

Deterministic by construction: it only schedules activities by name and reads its input.
Every activity carries Symphony's failure backoff as its retry policy, so a worker that dies
mid-turn (its heartbeats stop) is retried on another worker from the last completed step.
"""

from __future__ import annotations

from datetime import timedelta

from temporalio import workflow
from temporalio.common import RetryPolicy
from temporalio.workflow import ActivityCancellationType

with workflow.unsafe.imports_passed_through():
    from tack.orchestrator.temporal.types import (
        HANDOFF_ACTIVITY,
        NON_RETRYABLE,
        PREPARE_ACTIVITY,
        TURN_ACTIVITY,
        WORKFLOW_NAME,
        HandOffOutcome,
        PrepareOutcome,
        RunInput,
        RunResult,
        Tokens,
        TurnInput,
        TurnOutcome,
    )

FAILURE_BASE_MS = 10_000  # scheduling.FAILURE_BASE_MS; kept literal so replay never shifts
# Heartbeat timeout when `codex.stall_timeout_ms` disables stall detection: a dead worker
# must still be noticed.
DEFAULT_HEARTBEAT_MS = 60_000
_SLACK = timedelta(minutes=2)
# Workflows started since this marker skip the separate prepare step (every turn prepares
# its workspace anyway) and, when the last turn pushed the branch, the hand-off step (the
# turn already knows the pushed head): two activities and two workflow tasks less per run,
# about a second each on a busy machine. Histories without the marker replay the old way.
FUSED_STEPS = "tack-fused-steps"


def symphony_backoff(max_retry_backoff_ms: int) -> RetryPolicy:
    """min(10 s · 2^(n-1), agent.max_retry_backoff_ms), retried for as long as it takes."""
    cap = max(max_retry_backoff_ms, 1)
    return RetryPolicy(
        initial_interval=timedelta(milliseconds=min(FAILURE_BASE_MS, cap)),
        backoff_coefficient=2.0,
        maximum_interval=timedelta(milliseconds=cap),
        non_retryable_error_types=NON_RETRYABLE,
    )


def heartbeat_timeout(stall_timeout_ms: int) -> timedelta:
    return timedelta(milliseconds=stall_timeout_ms if stall_timeout_ms > 0 else DEFAULT_HEARTBEAT_MS)


@workflow.defn(name=WORKFLOW_NAME)
class IssueRunWorkflow:
    @workflow.run
    async def run(self, inp: RunInput) -> RunResult:
        retry = symphony_backoff(inp.max_retry_backoff_ms)
        hooks = timedelta(milliseconds=inp.hooks_timeout_ms)
        # Histories recorded with the patch marker replay through `patched`; new runs say so
        # in their input and write no marker.
        fused = inp.fused_steps or workflow.patched(FUSED_STEPS)
        worker = workspace = ""
        if not fused:
            prepared = await workflow.execute_activity(
                PREPARE_ACTIVITY, inp, result_type=PrepareOutcome,
                start_to_close_timeout=hooks + _SLACK, retry_policy=retry,
            )
            worker, workspace = prepared.worker, prepared.workspace
        tokens = Tokens()
        turn = 1
        while True:
            outcome = await workflow.execute_activity(
                TURN_ACTIVITY, TurnInput(run=inp, turn=turn), result_type=TurnOutcome,
                start_to_close_timeout=timedelta(milliseconds=inp.turn_timeout_ms) + 2 * hooks + _SLACK,
                heartbeat_timeout=heartbeat_timeout(inp.stall_timeout_ms),
                retry_policy=retry,
                # The workflow ends only once the agent's processes are gone.
                cancellation_type=ActivityCancellationType.WAIT_CANCELLATION_COMPLETED,
            )
            worker, workspace = outcome.worker, outcome.workspace
            tokens = tokens.plus(outcome.tokens)
            if outcome.asked is not None:  # parked on a question: no hand-off
                return RunResult(status="parked", turns=turn, worker=worker,
                                 workspace=workspace, tokens=tokens, asked=outcome.asked)
            if not outcome.active or turn >= inp.max_turns:
                break
            turn += 1
        if fused and outcome.pushed_branch:
            return RunResult(
                status="succeeded", turns=turn, worker=worker, workspace=workspace,
                tokens=tokens, branch=outcome.pushed_branch, head=outcome.head,
            )
        handed = await workflow.execute_activity(
            HANDOFF_ACTIVITY, inp, result_type=HandOffOutcome,
            start_to_close_timeout=_SLACK, retry_policy=retry,
        )
        return RunResult(
            status="succeeded", turns=turn, worker=worker, workspace=workspace, tokens=tokens,
            branch=handed.branch, head=handed.head,
        )
