"""The orchestrator: poll → reconcile → dispatch → retry, one authority over scheduling state.

Everything runs on one asyncio loop; the loop task is the only writer of `running`, `claimed`
and `retrying`, so no issue is dispatched twice. Durable facts (runs, events, the retry queue,
agent process groups) go to the store as they happen, so a restart resumes where it stopped.
"""

from __future__ import annotations

import asyncio
import functools
import signal
import time
from typing import Any, Callable

import structlog

from tack.agents import AgentBackend, AgentEvent, build_backend
from tack.errors import TackError, TrackerError
from tack.orchestrator import grace, handoff, recheck, recovery, reload, scheduling, snapshots
from tack.orchestrator.executor import Executor, build_executor
from tack.orchestrator.host import plugin_run
from tack.orchestrator.state import CancelReason, RetryEntry, RunningEntry, Totals
from tack.orchestrator.worker import AttemptOutcome
from tack.plugins import Plugins, default_plugins
from tack.redact import service_redactor
from tack.store import RetryRow, Store
from tack.tracker import Tracker, build_tracker
from tack.tracker.base import Issue
from tack.workflow import Workflow, WorkflowWatcher
from tack.workflow.config import normalize_state
from tack.workspace import WorkspaceManager

log = structlog.get_logger("tack.orchestrator")

BackendFactory = Callable[[Workflow], AgentBackend]


class Orchestrator:
    def __init__(
        self,
        watcher: WorkflowWatcher,
        store: Store,
        *,
        backend_factory: BackendFactory = build_backend,
        tracker: Tracker | None = None,
        executor: Executor | None = None,
        plugins: Plugins | None = None,
    ) -> None:
        self.watcher = watcher
        self.store = store
        self.backend_factory = backend_factory
        # Tack's own parts and the installed plug-ins (tack.plugins.hookspecs).
        self.plugins = plugins or default_plugins()
        wf = watcher.current
        self.redactor = service_redactor(wf.config)
        self.tracker: Tracker = tracker or build_tracker(wf.config.tracker, tack_dir=wf.tack_dir)
        # Where runs execute; chosen at start (a changed `executor:` needs a restart).
        self.executor: Executor = executor or build_executor(wf.config.executor)
        self._tracker_config = wf.config.tracker.model_dump()
        self.workspaces = WorkspaceManager.for_workflow(wf)
        self.running: dict[str, RunningEntry] = {}
        self.claimed: set[str] = set()
        self.retrying: dict[str, RetryEntry] = {}
        # Operator-canceled issue id -> (identifier, state when canceled): not dispatched again
        # until its state changes or an operator retries it; kept in the store across restarts.
        self.held: dict[str, tuple[str, str]] = {}
        self.completed: set[str] = set()
        self.handed_off = recheck.HandedOff()  # re-read before another dispatch; bounded
        self.rate_limits: dict[str, Any] | None = None
        self.totals = Totals()
        self.config_error: str | None = None
        self.dispatch_error: str | None = None
        # The last failed refresh of running issues' states (None once one succeeds): the
        # runs keep going meanwhile, but people should see the tracker is unreachable.
        self.reconcile_error: str | None = None
        self.last_tick_at: float | None = None
        self.tick_count = 0
        self._wake = asyncio.Event()
        self._refresh_requested = False
        self._stopping = asyncio.Event()
        self._exits: asyncio.Queue[tuple[str, AttemptOutcome]] = asyncio.Queue()
        self._background: set[asyncio.Task[Any]] = set()
        self._next_tick = 0.0
        self.listeners: list[Callable[[], None]] = []
        # Called on every `request_refresh` (POST /api/v1/refresh), e.g. the review intake.
        self.refresh_listeners: list[Callable[[], None]] = []
        self.changes = 0  # counts _notify calls: viewers share work done per change
        self.publisher = handoff.HandoffPublisher(self, self._spawn)

    # -- public control --------------------------------------------------------------------

    @property
    def workflow(self) -> Workflow:
        return self.watcher.current

    def request_refresh(self) -> bool:
        """Queue an immediate poll + reconcile. Returns True when coalesced with a pending one."""
        coalesced = self._refresh_requested
        self._refresh_requested = True
        self._wake.set()
        for listener in self.refresh_listeners:
            listener()
        return coalesced

    def stop(self) -> None:
        self._stopping.set()
        self._wake.set()

    def install_signal_handlers(self) -> None:
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, self.stop)

    # -- lifecycle ---------------------------------------------------------------------------

    async def startup(self) -> None:
        """Recover from whatever the last process left behind (see `recovery`)."""
        plan = recovery.plan_recovery(self.store)
        self.totals, self.held = plan.totals, plan.held
        self.retrying.update({retry.issue_id: retry for retry in plan.retries})
        self.claimed.update(self.retrying)
        for run in plan.interrupted:
            if run.issue_id not in self.retrying:
                self._schedule_retry(run.issue_id, run.identifier, run.attempt, 0,
                                     "resumed after the orchestrator stopped mid-run", "recovery")
        await recovery.ready_workspaces(self.tracker, self.workspaces,
                                        self.workflow.config.tracker)

    async def run(self) -> None:
        """Run until `stop()`; then stop every agent and persist what resumes next time."""
        await self.startup()
        log.info("orchestrator started", workflow=str(self.workflow.path))
        try:
            while not self._stopping.is_set():
                await self._step()
        finally:
            await self._shutdown()

    async def _step(self) -> None:
        now = time.monotonic()
        timeout = max(self._next_tick - now, 0.0)
        if self.retrying:
            soonest = min(r.due_at for r in self.retrying.values()) - time.time()
            timeout = min(timeout, max(soonest, 0.0))
        timeout = min(timeout, 1.0)  # re-check the workflow file at least every second
        if timeout > 0 and self._exits.empty():
            try:
                await asyncio.wait_for(self._wake.wait(), timeout)
            except TimeoutError:
                pass
        self._wake.clear()
        if self._stopping.is_set():
            return
        self._reload_workflow()
        while not self._exits.empty():
            issue_id, outcome = self._exits.get_nowait()
            await self._on_worker_exit(issue_id, outcome)
        if self._refresh_requested or time.monotonic() >= self._next_tick:
            self._refresh_requested = False
            await self.tick()
            self._next_tick = time.monotonic() + self.workflow.config.polling.interval_ms / 1000
        await self._fire_due_retries()
        if not self._stopping.is_set():
            self.publisher.fire_due_publishes()

    async def _shutdown(self) -> None:
        for entry in self.running.values():
            entry.cancel_reason = "shutdown"
            if entry.task:
                entry.task.cancel()
        tasks = [e.task for e in self.running.values() if e.task]
        if tasks:
            await asyncio.wait(tasks, timeout=30)
        while not self._exits.empty():
            issue_id, outcome = self._exits.get_nowait()
            await self._on_worker_exit(issue_id, outcome)
        if self._background:
            await asyncio.wait(self._background, timeout=30)
        try:
            await self.tracker.close()
            await self.executor.close()
        except Exception:  # closing must never mask the shutdown
            log.warning("tracker close failed", exc_info=True)
        log.info("orchestrator stopped")

    # -- the tick ----------------------------------------------------------------------------

    async def tick(self) -> None:
        """SPEC §16.2: reconcile, validate, fetch candidates, dispatch while slots remain."""
        self.tick_count += 1
        self.last_tick_at = time.time()
        await self.reconcile()
        problem = self._preflight()
        self.dispatch_error = problem
        if problem:
            log.error("dispatch skipped: configuration invalid", error=problem)
            self._notify()
            return
        cfg = self.workflow.config
        if self._slots_left() <= 0:
            self._notify()  # nothing could be dispatched: skip the candidate fetch
            return
        try:
            issues = await self.tracker.fetch_issues_by_states(cfg.tracker.active_states)
        except TrackerError as exc:
            self.dispatch_error = f"tracker: {exc.message}"
            log.error("candidate fetch failed", error=exc.message)
            self._notify()
            return
        self.completed &= self.claimed | {i.id for i in issues}  # bounded: ended issues leave
        for issue in scheduling.sort_for_dispatch(issues):
            if self._slots_left() <= 0:
                break
            if self._should_dispatch(issue):
                fresh = await recheck.confirmed(self, issue)  # a listing may lag a hand-off
                if fresh is not None:
                    self._dispatch(fresh, attempt=None)
        self._notify()

    def _slots_left(self) -> int:
        cfg = self.workflow.config.agent
        return scheduling.available_slots(cfg, [e.issue.state for e in self.running.values()])

    def _should_dispatch(self, issue: Issue) -> bool:
        cfg = self.workflow.config
        if issue.id in self.running or issue.id in self.claimed:
            return False
        if issue.id in self.held:
            if normalize_state(issue.state) == self.held[issue.id][1]:
                return False
            del self.held[issue.id]  # moved since the cancel: people have acted on it
            self._save_held()
        if not scheduling.is_candidate(issue, cfg.tracker):
            return False
        if issue.trust != "trusted" and cfg.sandbox.untrusted == "refuse":
            return False  # sandbox.untrusted: refuse (docs/sandbox.md)
        return scheduling.state_has_slot(
            cfg.agent, issue.state, [e.issue.state for e in self.running.values()]
        )

    def _preflight(self) -> str | None:
        if self.config_error:
            return f"WORKFLOW.md reload failed (running on the last good config): {self.config_error}"
        try:
            self.backend_factory(self.workflow)
        except TackError as exc:
            return exc.message
        return None

    # -- reconciliation ----------------------------------------------------------------------

    async def reconcile(self) -> None:
        """SPEC §16.3: stall detection, then stop runs whose issue left the active states."""
        self._reconcile_stalls()
        if not self.running:
            self.reconcile_error = None
            return
        ids = list(self.running)
        read_at = time.monotonic()
        try:
            refreshed = await self.tracker.fetch_issues_by_ids(ids)
        except TrackerError as exc:
            log.warning("state refresh failed; keeping workers running", error=exc.message)
            self.reconcile_error = f"tracker: {exc.message}"
            return
        self.reconcile_error = None
        cfg = self.workflow.config.tracker
        seen: set[str] = set()
        for issue in refreshed:
            entry = self.running.get(issue.id)
            if entry is None:
                continue
            seen.add(issue.id)
            if entry.issue_read_mono > read_at:
                continue  # its worker read the issue since this read began: that one is newer
            if cfg.is_terminal(issue.state):
                self._terminate(entry, "terminal", issue)
            elif cfg.is_active(issue.state) and scheduling.is_routable(issue, cfg):
                entry.issue = issue
            elif grace.in_handoff(cfg, issue):
                grace.let_finish(self, entry, issue)  # handed off: its turn may end first
            else:
                self._terminate(entry, "inactive", issue)
        for issue_id in set(ids) - seen:
            entry = self.running.get(issue_id)
            if entry is not None:
                self._terminate(entry, "missing", None)

    def _reconcile_stalls(self) -> None:
        stall_ms = self.workflow.config.codex.stall_timeout_ms
        for entry in scheduling.stalled(self.running.values(), stall_ms, time.monotonic()):
            log.warning("run stalled; killing", issue_identifier=entry.identifier)
            self._record(entry, "orchestrator", f"stalled: no agent activity for {stall_ms} ms")
            self._terminate(entry, "stalled", None)

    def _terminate(self, entry: RunningEntry, reason: CancelReason, issue: Issue | None) -> None:
        if entry.cancel_reason:
            return
        entry.cancel_reason = reason
        if issue is not None:
            entry.issue = issue
        if reason in ("terminal", "inactive", "missing"):
            state = issue.state if issue else "not visible"
            self._record(entry, "orchestrator", f"stopping run: issue is now {state!r}")
        if entry.task:
            entry.task.cancel()

    def cancel_run(self, identifier: str) -> bool:
        """Operator cancel: stop the run and release the issue without a retry."""
        for entry in self.running.values():
            if entry.identifier.lower() == identifier.lower():
                self._record(entry, "orchestrator", "canceled by operator")
                self._terminate(entry, "operator", None)
                self._wake.set()
                return True
        return False

    # -- dispatch ----------------------------------------------------------------------------

    def _dispatch(self, issue: Issue, attempt: int | None) -> None:
        run_id = self.store.start_run(
            issue_id=issue.id,
            identifier=issue.identifier,
            attempt=attempt,
            issue_state=issue.state,
            issue_url=issue.url,
        )
        entry = RunningEntry(issue=issue, run_id=run_id, attempt=attempt)
        self.running[issue.id] = entry
        self.claimed.add(issue.id)
        self.retrying.pop(issue.id, None)
        self.store.delete_retry(issue.id)
        entry.task = asyncio.create_task(
            self.executor.run(self, entry), name=f"run:{issue.identifier}"
        )
        entry.task.add_done_callback(functools.partial(self._collect, issue.id))
        log.info("dispatched", issue_id=issue.id, issue_identifier=issue.identifier, attempt=attempt)
        self._record(entry, "orchestrator", f"dispatched (attempt {attempt or 'first'})")

    def _collect(self, issue_id: str, task: asyncio.Task[AttemptOutcome]) -> None:
        if task.cancelled():
            outcome = AttemptOutcome(status="canceled", error="canceled")
        elif task.exception() is not None:
            exc = task.exception()
            outcome = AttemptOutcome(status="failed", error=f"worker crashed: {exc!r}")
        else:
            outcome = task.result()
        self._exits.put_nowait((issue_id, outcome))
        self._wake.set()

    async def _on_worker_exit(self, issue_id: str, outcome: AttemptOutcome) -> None:
        """SPEC §16.6, plus durable bookkeeping."""
        entry = self.running.pop(issue_id, None)
        if entry is None:
            return
        elapsed = time.time() - entry.started_at
        self.totals.ended_seconds += elapsed
        reason = entry.cancel_reason
        status, error = outcome.status, outcome.error
        if reason == "inactive" and status == "succeeded":
            pass  # the run finished its hand-off before the stop reached it: it succeeded
        elif reason == "handoff":
            status, error = "succeeded", None  # handed off, then stopped after the grace
        elif reason in ("terminal", "inactive", "missing", "operator"):
            status, error = "canceled", f"canceled: {reason}"
        elif reason == "stalled":
            status, error = "stalled", "stalled: no agent activity"
        elif reason == "shutdown":
            status, error = "interrupted", "interrupted: orchestrator shut down"
        self.store.finish_run(entry.run_id, status, error,
                              reason=grace.end_reason(self.workflow.config, entry, status, error))
        self._record(entry, "orchestrator", f"run ended: {status}" + (f" ({error})" if error else ""))
        ident = entry.identifier

        if reason == "shutdown":
            # Resume promptly on the next start.
            self._schedule_retry(
                issue_id, ident, (entry.attempt or 0) + 1, 0, "resumed after shutdown", "recovery"
            )
        elif reason in ("terminal", "inactive", "missing", "operator", "handoff"):
            self.claimed.discard(issue_id)
            self.store.delete_retry(issue_id)
            if reason == "operator":
                self.held[issue_id] = (ident, normalize_state(entry.issue.state))
                self._save_held()
            if reason == "terminal":
                self._spawn(self.workspaces.remove(ident))
        elif status == "succeeded":
            self.completed.add(issue_id)
            self._schedule_retry(
                issue_id, ident, 1, scheduling.CONTINUATION_DELAY_MS, None, "continuation",
                url=entry.issue.url,
            )
        else:
            attempt = (entry.attempt or 0) + 1
            delay = scheduling.failure_backoff_ms(
                attempt, self.workflow.config.agent.max_retry_backoff_ms
            )
            self._schedule_retry(issue_id, ident, attempt, delay, error, "failure", url=entry.issue.url)
        recheck.note_exit(self, entry)
        self.plugins.run_ended(plugin_run(self, entry), status, error)
        if handoff.reached_handoff(self.workflow.config, entry):
            self.publisher.start(entry)
        self._notify()

    def _schedule_retry(
        self,
        issue_id: str,
        identifier: str,
        attempt: int,
        delay_ms: int,
        error: str | None,
        kind: str,
        *,
        url: str | None = None,
    ) -> None:
        entry = RetryEntry(issue_id, identifier, attempt, time.time() + delay_ms / 1000, error, kind, url)
        self.retrying[issue_id] = entry
        self.claimed.add(issue_id)
        self.store.save_retry(
            RetryRow(issue_id, identifier, attempt, entry.due_at, error, kind)
        )
        self.store.add_event(
            run_id=None,
            issue_id=issue_id,
            identifier=identifier,
            kind="retry_scheduled",
            message=f"retry #{attempt} in {delay_ms} ms ({kind})" + (f": {error}" if error else ""),
        )
        self._wake.set()

    async def _fire_due_retries(self) -> None:
        now = time.time()
        due = sorted((r for r in self.retrying.values() if r.due_at <= now), key=lambda r: r.due_at)
        for entry in due:
            if self._stopping.is_set():
                return
            await self._on_retry_timer(entry)

    async def _on_retry_timer(self, retry: RetryEntry) -> None:
        """SPEC §16.6 on_retry_timer."""
        self.retrying.pop(retry.issue_id, None)
        cfg = self.workflow.config
        try:
            refreshed = await self.tracker.fetch_issues_by_ids([retry.issue_id])
        except TrackerError as exc:
            self._schedule_retry(
                retry.issue_id, retry.identifier, retry.attempt + 1,
                scheduling.failure_backoff_ms(retry.attempt + 1, cfg.agent.max_retry_backoff_ms),
                f"retry refresh failed: {exc.message}",
                "failure",
            )
            return
        issue = next((i for i in refreshed if i.id == retry.issue_id), None)
        if issue is None:
            self._release(retry.issue_id)
            return
        if cfg.tracker.is_terminal(issue.state):
            self._release(retry.issue_id)
            self._spawn(self.workspaces.remove(issue.identifier))
            return
        if not scheduling.is_candidate(issue, cfg.tracker):
            self._release(retry.issue_id)
            return
        running_states = [e.issue.state for e in self.running.values()]
        if self._slots_left() <= 0 or not scheduling.state_has_slot(
            cfg.agent, issue.state, running_states
        ):
            self._schedule_retry(
                issue.id,
                issue.identifier,
                retry.attempt + 1,
                scheduling.failure_backoff_ms(retry.attempt + 1, cfg.agent.max_retry_backoff_ms),
                "no available orchestrator slots",
                "slots",
                url=issue.url,
            )
            return
        self._dispatch(issue, attempt=retry.attempt)

    def _save_held(self) -> None:
        # Durable, so a restarted `tack up` keeps an operator's cancel.
        self.store.set_meta("held", {k: list(v) for k, v in self.held.items()})

    def _release(self, issue_id: str) -> None:
        self.claimed.discard(issue_id)
        self.retrying.pop(issue_id, None)
        self.store.delete_retry(issue_id)

    def retry_now(self, identifier: str) -> bool:
        """Operator: make a queued retry due now, or release an issue held by a cancel."""
        for issue_id, (held_ident, _) in list(self.held.items()):
            if held_ident.lower() == identifier.lower():
                del self.held[issue_id]
                self._save_held()
                self._notify()  # open dashboards drop it from "Held" now, not at the next tick
                self._wake.set()
                return True
        for entry in self.retrying.values():
            if entry.identifier.lower() == identifier.lower():
                entry.due_at = time.time()
                self._wake.set()
                return True
        return False

    # -- events from workers -----------------------------------------------------------------

    async def on_agent_event(self, entry: RunningEntry, event: AgentEvent) -> None:
        message = self.redactor.text(event.message)
        data = self.redactor.data(event.data) if event.data else None
        self.store.buffer_event(
            run_id=entry.run_id,
            issue_id=entry.issue.id,
            identifier=entry.identifier,
            kind=event.kind,
            message=message,
            data=data,
            at=event.at,
        )
        entry.last_event = event.kind
        entry.last_event_at = event.at
        entry.last_activity_mono = time.monotonic()
        if message:
            entry.last_message = message[:500]
        if event.kind == "session_started":
            entry.session_id = str(event.data.get("session_id") or "") or entry.session_id
            self.store.update_run(entry.run_id, session_id=entry.session_id)
        if event.kind == "rate_limits":
            self.rate_limits = data
        if self.plugins.implemented("turn_event"):
            self.plugins.turn_event(plugin_run(self, entry), event)
        if event.usage is not None:
            entry.tokens = entry.tokens + event.usage
            self.totals.input_tokens += event.usage.input_tokens
            self.totals.output_tokens += event.usage.output_tokens
            self.totals.total_tokens += event.usage.total_tokens
            self.store.buffer_run_update(
                entry.run_id,
                input_tokens=entry.tokens.input_tokens,
                output_tokens=entry.tokens.output_tokens,
                total_tokens=entry.tokens.total_tokens,
                last_event=event.kind,
                last_event_at=event.at,
            )
        self._notify()

    def _record(self, entry: RunningEntry, kind: str, message: str) -> None:
        self.store.add_event(
            run_id=entry.run_id,
            issue_id=entry.issue.id,
            identifier=entry.identifier,
            kind=kind,
            message=message,
        )
        self._notify()  # the timeline changed: open dashboards show the line now

    def _reload_workflow(self) -> None:
        result = reload.reload_workflow(self.watcher, self.workspaces, config_error=self.config_error,
                                        tracker_config=self._tracker_config)
        self.config_error = result.config_error
        if result.tracker is not None:
            self._spawn(self.tracker.close())
            self.tracker, self._tracker_config = result.tracker, result.tracker_config or {}
        if result.changed:
            interval_s = self.workflow.config.polling.interval_ms / 1000
            self._next_tick = min(self._next_tick, time.monotonic() + interval_s)

    # -- helpers -----------------------------------------------------------------------------

    def _spawn(self, coro: Any) -> None:
        task = asyncio.ensure_future(coro)
        self._background.add(task)
        task.add_done_callback(self._background_done)

    def _background_done(self, task: asyncio.Task[Any]) -> None:
        self._background.discard(task)
        if not task.cancelled() and task.exception() is not None:
            log.warning("background task failed",
                        error=self.redactor.text(repr(task.exception())))

    def _notify(self) -> None:
        self.changes += 1
        for listener in list(self.listeners):
            try:
                listener()
            except Exception:  # observers never break scheduling
                log.warning("state listener failed", exc_info=True)

    # What collaborators call (tack.orchestrator.host); the core keeps its private names.
    record, notify, preflight, terminate = _record, _notify, _preflight, _terminate

    # -- snapshots for the API ---------------------------------------------------------------

    def snapshot(self) -> dict[str, Any]:
        return snapshots.state_snapshot(self, self.publisher.pending_publishes())

    def issue_detail(self, identifier: str) -> dict[str, Any] | None:
        return snapshots.issue_detail(self, identifier)
