"""The orchestrator's side of the Temporal executor: start (or join) an issue's workflow,
follow its progress for the API, and cancel it when reconciliation stops the run.

Heartbeat details of the running activity carry the agent's latest event and the worker's
identity; they are copied into the orchestrator's entry and store as they change.
"""

from __future__ import annotations

import asyncio
import time
from typing import TYPE_CHECKING, Any, cast

import structlog
from temporalio.client import Client, WorkflowFailureError, WorkflowHandle
from temporalio.common import WorkflowIDConflictPolicy, WorkflowIDReusePolicy
from temporalio.exceptions import CancelledError as TemporalCancelled
from temporalio.runtime import Runtime

from tack.agents.base import AgentEvent, EventKind, TokenUsage
from tack.errors import TackError
from tack.orchestrator.grace import count_final_tokens
from tack.orchestrator.state import RunningEntry
from tack.orchestrator.temporal.client import connect
from tack.orchestrator.temporal.runtime import new_runtime
from tack.orchestrator.temporal.types import (
    TURN_ACTIVITY,
    WORKFLOW_NAME,
    Progress,
    RunInput,
    RunResult,
    Tokens,
    workflow_id,
)
from tack.orchestrator.worker import AttemptOutcome
from tack.questions.model import Asked, Question
from tack.questions.park import park, resumed, take_answer
from tack.workflow.config import ExecutorConfig

if TYPE_CHECKING:
    from tack.orchestrator.host import RunHost

log = structlog.get_logger("tack.temporal.dispatch")

# Heartbeats reach the server at most once a second (worker.py's throttle), so following
# more often than that only re-reads the same progress.
FOLLOW_INTERVAL_S = 1.0
CANCEL_WAIT_S = 60.0
# A run whose agent just handed off ends by itself within moments (last push, hand-off
# step); cancelling it then would only skip those steps.
FINISH_GRACE_S = 10.0


class TemporalExecutor:
    kind = "temporal"

    def __init__(self, config: ExecutorConfig) -> None:
        self.config = config
        self._client: Client | None = None
        # Our own runtime, dropped with the client on close: the SDK's default one keeps its
        # threads until interpreter shutdown and can abort the exit (temporal/runtime.py).
        self._runtime: Runtime | None = None
        self._lock = asyncio.Lock()

    async def client(self, orch: RunHost) -> Client:
        async with self._lock:
            if self._client is None:
                self._runtime = self._runtime or new_runtime()
                self._client = await connect(self.config, base=orch.workflow.base_dir,
                                             runtime=self._runtime)
            return self._client

    async def close(self) -> None:
        self._client = None
        self._runtime = None

    async def run(self, orch: RunHost, entry: RunningEntry) -> AttemptOutcome:
        try:
            client = await self.client(orch)
            answered = take_answer(orch.store, entry.issue.id)  # a parked question, answered
            handle = await self._start(client, orch, entry, answered)
        except TackError as exc:
            return AttemptOutcome("failed", exc.message)
        except Exception as exc:  # an RPC failure is a failed attempt, retried with backoff
            return AttemptOutcome("failed", f"temporal: could not start the workflow: {exc}")
        follower = asyncio.create_task(_Follower(orch, entry, handle, client).run())
        try:
            result = await handle.result()
        except asyncio.CancelledError:
            # A stopping orchestrator leaves the durable run alone and joins it on restart.
            if entry.cancel_reason != "shutdown":
                finished = await self._cancel(handle, entry)
                if finished is not None:
                    # Handed off while reconciliation stopped it: record where it ran, so the
                    # hand-off is published as for a run that ended by itself.
                    self._finished(orch, entry, finished)
            raise
        except WorkflowFailureError as exc:
            cause = exc.cause
            if isinstance(cause, TemporalCancelled):
                return AttemptOutcome("canceled", "temporal workflow canceled")
            return AttemptOutcome("failed", f"temporal workflow failed: {_message(cause or exc)}")
        finally:
            follower.cancel()
            await asyncio.gather(follower, return_exceptions=True)
        self._finished(orch, entry, result)
        await _reread_issue(orch, entry)
        if answered is not None:  # the resumed conversation went through
            resumed(orch.store, answered)
        if result.asked is not None:  # the agent asked a person: park, as the local runner does
            problem = await park(orch, entry, Asked(**result.asked))
            return AttemptOutcome("failed" if problem else "succeeded", problem)
        return AttemptOutcome("succeeded")

    def _finished(self, orch: RunHost, entry: RunningEntry, result: RunResult) -> None:
        entry.worker, entry.workspace = result.worker, result.workspace
        count_final_tokens(orch, entry, TokenUsage(
            result.tokens.input_tokens, result.tokens.output_tokens, result.tokens.total_tokens))
        orch.store.update_run(entry.run_id, workspace=f"{result.worker}:{result.workspace}",
                              turn_count=result.turns)
        orch.record(entry, "orchestrator",
                     f"workflow finished on worker {result.worker} after {result.turns} turn(s); "
                     f"branch {result.branch or '-'} at {result.head or '-'}")

    async def _start(self, client: Client, orch: RunHost, entry: RunningEntry,
                     answered: Question | None) -> WorkflowHandle[Any, RunResult]:
        cfg = orch.workflow.config
        inp = RunInput(
            issue_id=entry.issue.id, identifier=entry.identifier, attempt=entry.attempt,
            run_id=entry.run_id, max_turns=cfg.agent.max_turns,
            turn_timeout_ms=cfg.codex.turn_timeout_ms, stall_timeout_ms=cfg.codex.stall_timeout_ms,
            max_retry_backoff_ms=cfg.agent.max_retry_backoff_ms, hooks_timeout_ms=cfg.hooks.timeout_ms,
            resume=answered.resume if answered else None,
            answer=answered.answer if answered else None, fused_steps=True,
        )
        handle = await start_issue_run(client, self.config.task_queue, inp)
        wid = handle.id
        orch.record(entry, "orchestrator",
                     f"temporal workflow {wid} (run {handle.result_run_id}) on task queue "
                     f"{self.config.task_queue}")
        return handle

    async def _cancel(self, handle: WorkflowHandle[Any, RunResult], entry: RunningEntry
                      ) -> RunResult | None:
        """Cancel the workflow and wait until its activity has killed the agent; the
        workflow's result when it completed within the hand-off grace instead."""
        waiter = asyncio.ensure_future(handle.result())
        waiter.add_done_callback(lambda t: t.cancelled() or t.exception())
        grace = FINISH_GRACE_S if entry.cancel_reason in ("inactive", "handoff") else 0
        try:
            done, _ = await asyncio.wait({waiter}, timeout=grace)
            if done:
                return None if waiter.exception() else waiter.result()
            await handle.cancel()
            await asyncio.wait({waiter}, timeout=CANCEL_WAIT_S)
        except Exception as exc:
            log.warning("workflow cancel failed", issue_identifier=entry.identifier, error=str(exc))
        finally:
            waiter.cancel()
        return None


async def start_issue_run(client: Client, task_queue: str, inp: RunInput
                          ) -> WorkflowHandle[Any, RunResult]:
    """Start the issue's workflow, or join the one already running for it."""
    return await client.start_workflow(
        WORKFLOW_NAME, inp, id=workflow_id(inp.issue_id), task_queue=task_queue,
        result_type=RunResult,
        # One execution per issue at a time: a second dispatch joins the running one, so
        # an issue can never run twice at once, even from two orchestrators.
        id_reuse_policy=WorkflowIDReusePolicy.ALLOW_DUPLICATE,
        id_conflict_policy=WorkflowIDConflictPolicy.USE_EXISTING,
    )


class _Follower:
    """Polls the workflow's pending activity and mirrors it onto the running entry."""

    def __init__(self, orch: RunHost, entry: RunningEntry,
                 handle: WorkflowHandle[Any, RunResult], client: Client) -> None:
        self.orch, self.entry, self.handle, self.client = orch, entry, handle, client
        self.seen: tuple[int, int, int] = (0, 0, 0)  # (turn, activity attempt, event seq)
        self.tokens = Tokens()
        self.failure = ""

    async def run(self) -> None:
        while True:
            # Nothing to see before the first step has started, and a run shorter than this
            # costs no describe call (each one reads the workflow's state on the server).
            await asyncio.sleep(FOLLOW_INTERVAL_S)
            try:
                await self.poll()
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # the server may be briefly away; keep following
                log.debug("workflow describe failed", error=str(exc))

    async def poll(self) -> None:
        desc = await self.handle.describe()
        entry = self.entry
        # Temporal's heartbeat timeout is the stall detection for remote runs.
        entry.last_activity_mono = time.monotonic()
        for pending in desc.raw_description.pending_activities:
            if pending.last_failure.message and pending.last_failure.message != self.failure:
                self.failure = pending.last_failure.message
                self.orch.record(entry, "orchestrator",
                                  f"{pending.activity_type.name} attempt {pending.attempt - 1} "
                                  f"failed: {self.failure}; Temporal retries it")
            if pending.state != 2:  # PENDING_ACTIVITY_STATE_STARTED
                continue
            worker = pending.last_worker_identity or None
            if worker and worker != entry.worker:
                entry.worker = worker
                self.orch.record(entry, "orchestrator",
                                  f"{pending.activity_type.name} running on worker {worker} "
                                  f"(attempt {pending.attempt})")
                self.orch.notify()
            if pending.activity_type.name == TURN_ACTIVITY and pending.heartbeat_details.payloads:
                decoded = await self.client.data_converter.decode(
                    pending.heartbeat_details.payloads, [Progress]
                )
                await self._progress(cast(Progress, decoded[0]), pending.attempt)

    async def _progress(self, p: Progress, attempt: int) -> None:
        entry = self.entry
        if (p.turn, attempt) != self.seen[:2]:
            self.tokens = Tokens()
            if p.turn != entry.turn_count:
                entry.turn_count = p.turn
                self.orch.store.update_run(entry.run_id, turn_count=p.turn)
        if (p.turn, attempt, p.seq) == self.seen or p.seq == 0:
            self.seen = (p.turn, attempt, p.seq)
            return
        self.seen = (p.turn, attempt, p.seq)
        delta = TokenUsage(p.tokens.input_tokens - self.tokens.input_tokens,
                           p.tokens.output_tokens - self.tokens.output_tokens,
                           p.tokens.total_tokens - self.tokens.total_tokens)
        self.tokens = p.tokens
        usage = delta if delta.total_tokens > 0 or delta.input_tokens > 0 else None
        event = AgentEvent(kind=cast(EventKind, p.kind or "notification"), message=p.message,
                           usage=usage, at=p.at or time.time(),
                           data={"worker": p.worker, "session_id": p.session_id} if p.session_id else {"worker": p.worker})
        await self.orch.on_agent_event(entry, event)


async def _reread_issue(orch: RunHost, entry: RunningEntry) -> None:
    """Read the issue's state at the run's end, as the local runner does after every turn: a
    workflow that finishes before reconciliation sees the agent's hand-off must still be
    published (handoff.reached_handoff reads the entry's issue)."""
    read_at = time.monotonic()
    try:
        found = await orch.tracker.fetch_issues_by_ids([entry.issue.id])
    except TackError as exc:  # reconciliation reads it again on its next tick
        log.warning("issue re-read failed", issue_identifier=entry.identifier, error=exc.message)
        return
    if found:
        entry.issue, entry.issue_read_mono = found[0], read_at


def _message(exc: BaseException) -> str:
    seen: list[str] = []
    while exc is not None and len(seen) < 4:
        seen.append(str(getattr(exc, "message", None) or exc))
        exc = exc.__cause__  # type: ignore[assignment]
    return ": ".join(s for s in seen if s)
