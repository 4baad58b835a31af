"""The steps a `tack worker` runs for the issue-run workflow: prepare the workspace, run one
agent turn, hand off.

Every step works from the shared git remote, so any worker can run any step; a turn pushes
the issue branch when it completes. Agent turns heartbeat on every agent event and every
couple of seconds: that is how Temporal notices a dead worker and how cancellation arrives.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from dataclasses import asdict
from typing import Any, cast
from pathlib import Path

import structlog
from temporalio import activity
from temporalio.exceptions import ApplicationError

from tack.agents import AgentBackend, AgentEvent, AgentSession, SessionContext, TurnResult
from tack.errors import TackError
from tack.orchestrator import scheduling
from tack.orchestrator.temporal import branches
from tack.orchestrator.temporal.processes import ProcessRegistry
from tack.orchestrator.temporal.types import (
    HANDOFF_ACTIVITY,
    PREPARE_ACTIVITY,
    TURN_ACTIVITY,
    HandOffOutcome,
    PrepareOutcome,
    Progress,
    RunInput,
    Tokens,
    TurnInput,
    TurnOutcome,
)
from tack.orchestrator.temporal.workflows import DEFAULT_HEARTBEAT_MS
from tack.sandbox.policy import agent_policy, hook_policy
from tack.orchestrator.worker import _agent_env, continuation_prompt
from tack.plugins import Plugins, Run, default_plugins
from tack.questions.park import Resumable
from tack.redact import Redactor, service_redactor
from tack.review.plan_gate import approved_plan, with_approved_plan
from tack.tracker import Tracker, build_tracker
from tack.tracker.base import Issue
from tack.tracker.credentials import withheld_env
from tack.skills.lock import SkillsHome
from tack.skills.materialise import materialise_skills
from tack.workflow import Workflow, WorkflowWatcher
from tack.workspace import WorkspaceManager
from tack.workspace.manager import Workspace

log = structlog.get_logger("tack.temporal.activities")

BackendFactory = Callable[[Workflow], AgentBackend]
# Heartbeats at least this often while an agent is quiet (cancellation rides on them).
MAX_BEAT_PERIOD_S = 2.0
# A stopped turn gets executor.step_timeout_ms to save the agent's work (commit, push); then
# it is cancelled again, which kills the git or hook process it waits on, and after this
# long it is abandoned.
STOP_GRACE_S = 30.0
# Strategies whose workspace is a git worktree on the issue's branch, synced with the remote.
GIT_BACKED = ("worktree", "overlay")


def config_error(message: str) -> ApplicationError:
    return ApplicationError(message, type="TackConfigError", non_retryable=True)


class _Beat:
    """Heartbeats with the latest agent event; `watch` returns when the agent stalls."""

    def __init__(self, worker: str, turn: int, stall_ms: int, redactor: Redactor,
                 step_limit_ms: int) -> None:
        self.progress = Progress(worker=worker, turn=turn, at=time.time())
        self.step_limit_s = step_limit_ms / 1000
        self.redactor = redactor
        self.last = time.monotonic()
        self.stall_s = stall_ms / 1000 if stall_ms > 0 else None
        self.period = min(MAX_BEAT_PERIOD_S, (stall_ms or DEFAULT_HEARTBEAT_MS) / 3000)
        self.in_turn = False  # the agent's turn: `watch` judges stalls from its events
        self.turn_started = False
        self.step_at = time.monotonic()

    def turn(self, running: bool) -> None:
        self.in_turn, self.step_at = running, time.monotonic()
        self.turn_started = self.turn_started or running

    async def on_event(self, event: AgentEvent) -> None:
        p = self.progress
        p.seq += 1
        p.kind, p.at = event.kind, event.at
        p.message = self.redactor.text(event.message)[:300]
        if event.kind == "session_started":
            p.session_id = str(event.data.get("session_id") or "") or p.session_id
        if event.usage is not None:
            u = event.usage
            p.tokens = p.tokens.plus(Tokens(u.input_tokens, u.output_tokens, u.total_tokens))
        self.last = time.monotonic()
        activity.heartbeat(p)

    async def watch(self) -> None:
        while True:
            await asyncio.sleep(self.period)
            if self.stall_s is not None and time.monotonic() - self.last > self.stall_s:
                return

    async def pump(self) -> None:
        """Heartbeat every period, whatever happens (while a stopped turn winds down)."""
        while True:
            activity.heartbeat(self.progress)
            await asyncio.sleep(self.period)

    async def keep_alive(self) -> None:
        """Heartbeat while the activity runs, git steps included: the heartbeat timeout tells
        Temporal the worker died, and a slow fetch or push is not that. Returns when the work
        before or after the agent's turn has taken longer than `executor.step_timeout_ms`."""
        while True:
            await asyncio.sleep(self.period)
            if not self.in_turn and time.monotonic() - self.step_at > self.step_limit_s:
                return
            activity.heartbeat(self.progress)


async def _stop(work: asyncio.Future[Any], beat: _Beat, save_s: float) -> None:
    """Cancel `work`, whose cancel path saves the agent's work (commit, push), and give it
    `save_s`; if it is still there, cancel it again (which kills the git or hook process it
    waits on) and give it STOP_GRACE_S more before abandoning it. Heartbeats all along."""
    pump = asyncio.ensure_future(beat.pump())
    try:
        for wait_s in (save_s, STOP_GRACE_S):
            work.cancel()
            await asyncio.wait({work}, timeout=wait_s)
            if work.done():
                if not work.cancelled() and work.exception() is not None:
                    log.warning("stopping the turn failed", error=repr(work.exception()))
                return
        log.warning("a stopped turn did not end; abandoned")
    finally:
        pump.cancel()
        await asyncio.gather(pump, return_exceptions=True)


class IssueActivities:
    """Activity implementations bound to one worker's workflow file, repo and workspace root."""

    def __init__(
        self,
        watcher: WorkflowWatcher,
        *,
        worker: str,
        workspace_root: Path,
        repo: Path | None,
        registry: ProcessRegistry,
        backend_factory: BackendFactory,
        plugins: Plugins | None = None,
    ) -> None:
        self.watcher = watcher
        self.plugins = plugins or default_plugins()
        self.worker = worker
        self.registry = registry
        self.backend_factory = backend_factory
        self.backend_name = ""
        self._root, self._repo = workspace_root, repo
        wf = watcher.current
        self.tracker: Tracker = build_tracker(wf.config.tracker, tack_dir=wf.tack_dir)
        self.workspaces = WorkspaceManager.for_workflow(wf, root=workspace_root, repo=repo)
        self.redactor = service_redactor(wf.config)

    @property
    def workflow(self) -> Workflow:
        if self.watcher.check():
            wf = self.watcher.current
            self.workspaces.update(root=self._root, repo=self._repo or wf.repo_dir(),
                                   workspace=wf.config.workspace, hooks=wf.config.hooks,
                                   withheld_env=withheld_env(wf),
                                   sandbox=hook_policy(wf, self._root))
        return self.watcher.current

    @property
    def remote(self) -> str:
        return self.workflow.config.executor.push_remote

    async def close(self) -> None:
        await self.tracker.close()

    # -- steps -----------------------------------------------------------------------------

    @activity.defn(name=PREPARE_ACTIVITY)
    async def prepare_workspace(self, run: RunInput) -> PrepareOutcome:
        issue = await self._issue(run)
        if issue is None:
            raise config_error(f"issue {run.identifier} is no longer visible in the tracker")
        ws = await self._workspace(issue)
        return PrepareOutcome(self.worker, str(ws.path), ws.created_now, ws.branch)

    @activity.defn(name=TURN_ACTIVITY)
    async def run_turn(self, inp: TurnInput) -> TurnOutcome:
        limit_ms = self.workflow.config.executor.step_timeout_ms
        beat = _Beat(self.worker, inp.turn, inp.run.stall_timeout_ms, self.redactor, limit_ms)
        activity.heartbeat(beat.progress)
        work = asyncio.ensure_future(self._run_turn(inp, beat))
        alive = asyncio.ensure_future(beat.keep_alive())
        try:
            await asyncio.wait({work, alive}, return_when=asyncio.FIRST_COMPLETED)
            if work.done():
                return work.result()
        finally:
            alive.cancel()
            if not work.done():
                # Cancelled by Temporal, or a step hung: the work saves what the agent did,
                # heartbeating all along so no retry elsewhere starts while it is still here.
                await _stop(work, beat, limit_ms / 1000)
            await asyncio.gather(alive, return_exceptions=True)
        error = None if alive.cancelled() else alive.exception()
        if error is not None:  # heartbeating itself failed
            raise error
        # A git fetch or push, a hook, or the session's start or stop hung, and was stopped.
        where = "after" if beat.turn_started else "before"
        log.warning("step hung", issue_identifier=inp.run.identifier, turn=inp.turn,
                    where=where, step_timeout_ms=limit_ms)
        raise ApplicationError(
            f"the work {where} the agent's turn (git, hooks, session start or stop) took "
            f"longer than executor.step_timeout_ms ({limit_ms} ms) and was stopped",
            type="TackStepHung")

    async def _run_turn(self, inp: TurnInput, beat: _Beat) -> TurnOutcome:
        run, wf = inp.run, self.workflow
        issue = await self._issue(run)
        if issue is None or not self._active(issue):
            return TurnOutcome(self.worker, "", False, issue.state if issue else None)
        ws = await self._workspace(issue)
        try:
            await self.workspaces.before_run(ws)
        except TackError as exc:
            raise ApplicationError(f"before_run hook error: {exc.message}") from None
        plugged = Run(workflow=wf, issue=issue, attempt=run.attempt, workspace=ws.path,
                      redact=self.redactor.text)
        self.plugins.workspace_prepared(plugged)
        prompt = self._prompt(wf, issue, inp)
        started: set[int] = set()

        def on_process(pgid: int, alive: bool) -> None:
            self.registry.record(pgid, alive)
            (started.add if alive else started.discard)(pgid)

        try:
            ctx = SessionContext(workspace=ws.path, issue=issue, tracker=self.tracker,
                                 env=self.plugins.session_environment(
                                     plugged, _agent_env(ws.path, issue, wf)),
                                 on_process=on_process, tools=self.plugins.session_tools(plugged),
                                 sandbox=agent_policy(wf, self._root, trust=issue.trust),
                                 can_park=True)
        except TackError as exc:
            raise config_error(f"agent session startup error: {exc.message}") from None
        session: AgentSession | None = None
        try:
            try:
                try:
                    backend = self.backend_factory(wf)
                    self.backend_name = backend.name  # which saved conversations it resumes
                    session = await backend.start_session(ctx)
                except TackError as exc:
                    raise ApplicationError(f"agent session startup error: {exc.message}") from None
                beat.turn(running=True)
                result = await self._turn(session, prompt, beat, inp)
            finally:
                beat.turn(running=False)
                # Kill first, synchronously: a cancelled activity must leave no agent behind.
                self.registry.kill(set(started))
                await self._stop(session, ws)
        except asyncio.CancelledError:
            # Stopped by the orchestrator (the issue moved on): keep what the agent did.
            await self._save(ws, f"tack: {issue.identifier} turn {inp.turn} (stopped)")
            raise
        if not result.ok:
            raise ApplicationError(f"agent turn error: {result.error}")
        head, pushed = await self._save(ws, f"tack: {issue.identifier} turn {inp.turn}")
        if result.asked is not None:  # the orchestrator parks the run on the question
            return TurnOutcome(worker=self.worker, workspace=str(ws.path), active=False,
                               state=issue.state, session_id=session.session_id if session
                               else None, tokens=beat.progress.tokens, head=head,
                               asked=asdict(result.asked))
        refreshed = await self._issue(run)
        return TurnOutcome(
            worker=self.worker, workspace=str(ws.path),
            active=refreshed is not None and self._active(refreshed),
            state=refreshed.state if refreshed else None,
            session_id=session.session_id if session else None,
            tokens=beat.progress.tokens, head=head, pushed_branch=pushed,
        )

    @activity.defn(name=HANDOFF_ACTIVITY)
    async def hand_off(self, run: RunInput) -> HandOffOutcome:
        """Confirm the run's branch is on the shared remote, where reviewers and PRs find it."""
        issue = await self._issue(run)
        if issue is None or await self.workspaces.strategy() not in GIT_BACKED:
            return HandOffOutcome(self.worker, None, None, False)
        branch = self.workspaces.branch_for(issue)
        head = await branches.remote_head(self.workspaces.repo, self.remote, branch)
        log.info("run handed off", issue_identifier=run.identifier, branch=branch, head=head)
        return HandOffOutcome(self.worker, branch, head, head is not None)

    # -- helpers ---------------------------------------------------------------------------

    async def _issue(self, run: RunInput) -> Issue | None:
        try:
            found = await self.tracker.fetch_issues_by_ids([run.issue_id])
        except TackError as exc:
            raise ApplicationError(f"tracker: {exc.message}") from None
        return next((i for i in found if i.id == run.issue_id), None)

    def _active(self, issue: Issue) -> bool:
        cfg = self.workflow.config.tracker
        return cfg.is_active(issue.state) and scheduling.is_routable(issue, cfg)

    async def _workspace(self, issue: Issue) -> Workspace:
        try:
            synced = await self.workspaces.strategy() in GIT_BACKED
            path = self.workspaces.path_for(issue.identifier)
            branch = self.workspaces.branch_for(issue)
            if synced and not path.is_dir():  # the new workspace starts at the remote's head
                await branches.pull_branch(self.workspaces.repo, path, self.remote, branch)
            # Prepared before an existing one is fast-forwarded: an overlay a reboot
            # unmounted is mounted again here, and git must not run in its empty directory.
            ws = await self.workspaces.prepare(issue)
            if synced and not ws.created_now:
                await branches.pull_branch(self.workspaces.repo, path, self.remote, branch)
            # skills: this worker's installed copies (`tack skills install --frozen` on it)
            await asyncio.to_thread(materialise_skills, ws.path, SkillsHome(
                self.workflow.base_dir), self.workflow.config.skills, issue)
            return ws
        except TackError as exc:
            raise ApplicationError(f"workspace error: {exc.message}") from None

    def _prompt(self, wf: Workflow, issue: Issue, inp: TurnInput) -> str:
        run, tries = inp.run, activity.info().attempt
        if inp.turn > 1:
            return continuation_prompt(issue, inp.turn, run.max_turns,
                                       wf.config.tracker.handoff_state)
        # A turn Temporal retries is a retry attempt for the prompt, as in Symphony.
        attempt = run.attempt if tries == 1 else (run.attempt or 0) + tries - 1
        try:
            return with_approved_plan(wf.render_prompt(
                issue, attempt, extra=self.plugins.prompt_context(
                    Run(workflow=wf, issue=issue, attempt=attempt, redact=self.redactor.text))),
                approved_plan(issue))
        except TackError as exc:
            raise config_error(f"prompt error: {exc.message}") from None

    async def _turn(self, session: AgentSession, prompt: str, beat: _Beat, inp: TurnInput
                    ) -> TurnResult:
        saved, answer = inp.run.resume, inp.run.answer
        if inp.turn == 1 and saved is not None and answer is not None and hasattr(
                session, "resume") and saved.get("backend") == self.backend_name:
            turn = asyncio.ensure_future(
                cast(Resumable, session).resume(saved, answer, beat.on_event))
        else:
            turn = asyncio.ensure_future(session.run_turn(prompt, beat.on_event))
        watch = asyncio.ensure_future(beat.watch())
        timeout_ms = inp.run.turn_timeout_ms
        try:
            done, _ = await asyncio.wait({turn, watch}, timeout=timeout_ms / 1000,
                                         return_when=asyncio.FIRST_COMPLETED)
            if turn in done:
                return turn.result()
            if watch in done:
                raise ApplicationError(
                    f"stalled: no agent activity for {inp.run.stall_timeout_ms} ms", type="TackStalled"
                )
            raise ApplicationError(f"turn {inp.turn} timed out after {timeout_ms} ms",
                                   type="TackTurnTimeout")
        finally:
            for task in (turn, watch):
                task.cancel()
            await asyncio.gather(turn, watch, return_exceptions=True)

    async def _save(self, ws: Workspace, message: str) -> tuple[str | None, str | None]:
        """Commit the agent's work and push the issue branch to the shared remote; HEAD and
        the branch it was pushed to (None when there is no branch or no remote)."""
        try:
            head = await branches.checkpoint(ws.path, message)
            pushed = bool(ws.branch) and await branches.push_branch(
                self.workspaces.repo, ws.path, self.remote, ws.branch or "")
        except TackError as exc:
            raise ApplicationError(f"could not save the branch: {exc.message}") from None
        return head, ws.branch if pushed and head else None

    async def _stop(self, session: AgentSession | None, ws: Workspace) -> None:
        if session is not None:
            try:
                await asyncio.shield(session.stop())
            except Exception:
                log.warning("session stop failed", workspace=str(ws.path), exc_info=True)
        try:
            await asyncio.shield(self.workspaces.after_run(ws))
        except Exception:
            log.warning("after_run failed", workspace=str(ws.path), exc_info=True)
