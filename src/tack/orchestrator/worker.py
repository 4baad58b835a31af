"""One run attempt: workspace → before_run → agent session → turns → after_run (SPEC §16.5).

The runner reports events to the orchestrator as they happen and returns an `AttemptOutcome`;
the orchestrator alone decides what happens next (continuation, retry, release).
"""

from __future__ import annotations

import asyncio
import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, cast

import structlog

from tack.agents import AgentEvent, AgentSession, SessionContext, TurnResult
from tack.app import run as app_run
from tack.context.notes import SessionNotes
from tack.context.wiring import session_notes
from tack.errors import TackError
from tack.orchestrator import scheduling
from tack.orchestrator.host import plugin_run
from tack.orchestrator.state import RunningEntry
from tack.questions.park import Resumable, park, resume_prompt, resumed, take_answer
from tack.review.plan_gate import approved_plan_for, hold_for_plan, with_approved_plan
from tack.skills.provenance import prepare_run_skills
from tack.sandbox.policy import agent_policy
from tack.tracker.base import Issue
from tack.tracker.credentials import DEFAULT_CREDENTIAL_ENV, environ_without, withheld_env
from tack.workspace.commit import commit_leftover_work
from tack.workflow.config import normalize_state

if TYPE_CHECKING:
    from tack.orchestrator.host import RunHost
    from tack.questions.model import Question
    from tack.workflow.loader import Workflow

log = structlog.get_logger("tack.worker")


@dataclass
class AttemptOutcome:
    status: str  # succeeded | failed | timed_out
    error: str | None = None


def continuation_prompt(issue: Issue, turn: int, max_turns: int, handoff_state: str) -> str:
    return (
        f"Continue working on {issue.identifier}: {issue.title}. This is turn {turn} of at most "
        f"{max_turns}; the issue is still in state {issue.state!r}. Pick up where you left off "
        f"in this workspace without redoing finished work. When the change is complete and "
        f"verified, move the issue to {handoff_state!r} with the tracker tool and leave a short "
        f"comment summarising what you did."
    )


class AttemptRunner:
    def __init__(self, orchestrator: RunHost, entry: RunningEntry) -> None:
        self.orch = orchestrator
        self.entry = entry
        self.notes: SessionNotes | None = None

    async def _emit(self, event: AgentEvent) -> None:
        if self.notes is not None:
            self.notes.record(event)
        await self.orch.on_agent_event(self.entry, event)

    def _note(self, message: str) -> None:
        self.orch.record(self.entry, "orchestrator", message)

    async def run(self) -> AttemptOutcome:
        wf = self.orch.workflow
        cfg = wf.config
        issue = self.entry.issue
        workspaces = self.orch.workspaces
        try:
            ws = await workspaces.prepare(issue)
        except TackError as exc:
            return AttemptOutcome("failed", f"workspace error: {exc.message}")
        self.entry.workspace = str(ws.path)
        self.orch.store.update_run(self.entry.run_id, workspace=str(ws.path))
        self._note(f"workspace ready at {ws.path}" + (" (new)" if ws.created_now else ""))
        try:  # skills: copied into the workspace, recorded as the run's provenance
            await prepare_run_skills(wf, self.orch.store, self.entry.run_id, issue, ws.path)
        except TackError as exc:
            return AttemptOutcome("failed", f"skills error: {exc.message}")
        session: AgentSession | None = None
        try:
            try:
                await workspaces.before_run(ws)
            except TackError as exc:
                return AttemptOutcome("failed", f"before_run hook error: {exc.message}")
            run = plugin_run(self.orch, self.entry)
            self.orch.plugins.workspace_prepared(run)
            try:
                if await hold_for_plan(cfg, self.orch.tracker, issue):
                    self._note(f"plan written; {issue.identifier} waits in "
                               f"{cfg.review.plan_review_state!r} for a person to approve it")
                    return AttemptOutcome("succeeded")
            except TackError as exc:
                return AttemptOutcome("failed", f"plan gate error: {exc.message}")
            racing = self.orch.plugins.run_attempt(run)  # best-of-N (docs/eval.md)
            if racing is not None:
                error = await racing
                if error:
                    return AttemptOutcome("failed", error)
                # The race moved the issue (to the hand-off state): read it back, so the run
                # ends as handed off and the winner's branch is published like any run's.
                try:
                    refreshed = await self.orch.tracker.fetch_issues_by_ids([issue.id])
                except TackError as exc:
                    return AttemptOutcome("failed", f"issue state refresh error: {exc.message}")
                if refreshed:
                    self.entry.issue, self.entry.issue_read_mono = refreshed[0], time.monotonic()
                return AttemptOutcome("succeeded")
            try:
                prompt = wf.render_prompt(issue, self.entry.attempt,
                                          extra=self.orch.plugins.prompt_context(run))
                prompt = with_approved_plan(prompt, await approved_plan_for(
                    cfg, self.orch.tracker, issue))
            except TackError as exc:
                return AttemptOutcome("failed", f"prompt error: {exc.message}")
            self.notes = session_notes(wf, issue)  # `context:` configured: the issue's notes
            if self.notes is not None:
                prompt += self.notes.start_attempt()
            if os.path.realpath(ws.path) != os.path.realpath(workspaces.path_for(issue.identifier)):
                return AttemptOutcome("failed", "workspace path is outside the workspace root")
            backend = self.orch.backend_factory(wf)
            env = _agent_env(ws.path, issue, wf)
            env.update(await asyncio.to_thread(app_run.session_environment, ws.path, cfg.app,
                                               env))
            ctx = SessionContext(
                workspace=ws.path,
                issue=issue,
                tracker=self.orch.tracker,
                env=env,
                on_process=self._on_process,
                sandbox=agent_policy(wf, trust=issue.trust),
                can_park=True,
            )
            try:
                ctx.env = self.orch.plugins.session_environment(run, ctx.env)
                ctx.tools = self.orch.plugins.session_tools(run)
            except TackError as exc:
                return AttemptOutcome("failed", f"agent session startup error: {exc.message}")
            try:
                session = await backend.start_session(ctx)
            except TackError as exc:
                return AttemptOutcome("failed", f"agent session startup error: {exc.message}")
            answered = take_answer(self.orch.store, issue.id)  # a parked question, answered
            if answered is not None and answered.resume.get("backend") != backend.name:
                prompt = resume_prompt(prompt, answered)
            turn = 1
            while True:
                self.entry.turn_count = turn
                self.orch.store.update_run(self.entry.run_id, turn_count=turn)
                if turn > 1:
                    prompt = continuation_prompt(
                        issue, turn, cfg.agent.max_turns, cfg.tracker.handoff_state
                    ) + (self.notes.for_prompt() if self.notes is not None else "")
                try:
                    result = await asyncio.wait_for(
                        self._resume(session, answered) if turn == 1 and answered and
                        answered.resume.get("backend") == backend.name
                        else session.run_turn(prompt, self._emit), cfg.codex.turn_timeout_ms / 1000
                    )
                except TimeoutError:
                    return AttemptOutcome(
                        "timed_out", f"turn {turn} timed out after {cfg.codex.turn_timeout_ms} ms"
                    )
                await self._record_leftover_work(ws.path, turn)
                if not result.ok:
                    return AttemptOutcome("failed", f"agent turn error: {result.error}")
                if answered is not None and turn == 1:
                    resumed(self.orch.store, answered)
                if result.asked is not None:  # the agent asked a person: park, free the slot
                    problem = await park(self.orch, self.entry, result.asked)
                    return AttemptOutcome("failed" if problem else "succeeded", problem)
                read_at = time.monotonic()
                try:
                    refreshed = await self.orch.tracker.fetch_issues_by_ids([issue.id])
                except TackError as exc:
                    return AttemptOutcome("failed", f"issue state refresh error: {exc.message}")
                if not refreshed:
                    break
                issue = refreshed[0]
                self.entry.issue, self.entry.issue_read_mono = issue, read_at
                tracker_cfg = self.orch.workflow.config.tracker
                if not tracker_cfg.is_active(issue.state) or not scheduling.is_routable(
                    issue, tracker_cfg
                ):
                    self._note(f"issue moved to {issue.state!r}; ending the session")
                    break
                if turn >= cfg.agent.max_turns:
                    self._note(f"reached agent.max_turns ({cfg.agent.max_turns})")
                    break
                turn += 1
            return AttemptOutcome("succeeded")
        finally:
            if session is not None:
                try:
                    await asyncio.shield(session.stop())
                except Exception:
                    log.warning("session stop failed", issue_identifier=issue.identifier, exc_info=True)
                await self._record_leftover_work(ws.path, self.entry.turn_count)
            await asyncio.shield(app_run.run_ended(  # never raises
                ws.path, wf.tack_dir, self.entry.run_id, self.orch.tracker, self.entry.issue,
                normalize_state(self.entry.issue.state) == normalize_state(
                    self.orch.workflow.config.tracker.handoff_state)))
            try:
                await asyncio.shield(workspaces.after_run(ws))
            except Exception:
                log.warning("after_run failed", issue_identifier=issue.identifier, exc_info=True)

    async def _resume(self, session: AgentSession, answered: Question) -> TurnResult:
        """The parked conversation, continued with the person's answer."""
        shown = "[secret]" if answered.secret else answered.answer
        self._note(f"resuming the conversation with the answer to question {answered.id}: "
                   f"{shown}")
        return await cast(Resumable, session).resume(answered.resume, answered.answer or "",
                                                     self._emit)

    async def _record_leftover_work(self, workspace: Path, turn: int) -> None:
        """Commit what the agent left uncommitted, so the branch carries all its work."""
        note = await asyncio.shield(commit_leftover_work(workspace, self.entry.identifier, turn))
        if note:
            self._note(note)

    def _on_process(self, pgid: int, alive: bool) -> None:
        if alive:
            self.orch.store.add_process(pgid, self.entry.run_id)
        else:
            self.orch.store.remove_process(pgid)


def _agent_env(workspace: object, issue: Issue, workflow: Workflow | None = None
               ) -> dict[str, str]:
    # Without the credentials of the tracker, forge, server and Tack's own model calls.
    env = environ_without(withheld_env(workflow) if workflow is not None else
                          DEFAULT_CREDENTIAL_ENV)
    env["TACK_ISSUE_IDENTIFIER"] = issue.identifier
    env["TACK_ISSUE_ID"] = issue.id
    env["TACK_WORKSPACE"] = str(workspace)
    return env
