"""Tack's own parts, plugged in through the same hooks as anyone's: the lessons and golden
principles in the prompt, the reviewer at hand-off, the `check` tool for the agent, and the
context sidecar (its home in the session's environment, a fetch after a hand-off push or a
merged pull request)."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable
from typing import TYPE_CHECKING, Any

import pluggy

from tack.plugins.types import AgentTool, Run

if TYPE_CHECKING:
    from tack.forge import Handoff
    from tack.store.feedback import PullRequestRecord
    from tack.workflow import Workflow

hookimpl = pluggy.HookimplMarker("tack")


@hookimpl
def prompt_context(run: Run) -> dict[str, Any]:
    """`lessons` and `principles` for the prompt; the lessons given are recorded on the run."""
    from tack.learning.ledger import record_lessons_given
    from tack.orchestrator.guidance import guidance_for

    guidance = guidance_for(run.workflow, run.issue, run.workspace)
    if guidance.lessons and run.store is not None and run.run_id is not None:
        record_lessons_given(run.store.db, run.run_id, guidance.lesson_ids)
        run.note(f"lessons in the prompt: {', '.join(guidance.lesson_ids)}")
    return {"lessons": guidance.lessons, "principles": guidance.principles}


@hookimpl
def handed_off(run: Run, handoff: Handoff | None) -> Awaitable[None]:
    """A pushed hand-off makes the context sidecar fetch; with `review.on_handoff`, the
    reviewer agent reviews the change."""
    return _handed_off(run, handoff)


async def _handed_off(run: Run, handoff: Handoff | None) -> None:
    if handoff is not None:  # a branch was pushed: the org-context sidecar fetches now
        from tack.context.wiring import after_handoff

        await asyncio.to_thread(after_handoff, run.workflow)
    if run.workflow.config.review.on_handoff:
        from tack.review.handoff import review

        await review(run, handoff)


@hookimpl
def session_environment(run: Run) -> dict[str, str]:
    """With `context:` configured: where the org-context index lives (TACK_CONTEXT_HOME)."""
    from tack.context.wiring import agent_env

    return agent_env(run.workflow)


@hookimpl
def session_tools(run: Run) -> list[AgentTool]:
    """The `check` tool: `tack check` with its findings as short prose."""
    from tack.agents.tools import own_tools

    return own_tools()


@hookimpl
def run_attempt(run: Run) -> Awaitable[str | None] | None:
    """Best-of-N (`agent.best_of` or a `best-of:N` label): race attempts, hand off the best."""
    from tack.eval.bestof import best_of_wanted, race_in_workspace

    count = best_of_wanted(run.workflow.config, list(run.issue.labels))
    if count <= 1 or run.workspace is None:
        return None
    run.note(f"racing {count} attempts (best-of-{count})")
    return race_in_workspace(run.workflow.path, run.issue.identifier, count,
                             run.workflow.config, run.workspace, run.run_id)


@hookimpl
def pull_request_merged(workflow: Workflow, pull_request: PullRequestRecord) -> None:
    """With `context:` configured, the context sidecar fetches the merged repository now."""
    from tack.context.wiring import after_merge

    after_merge(workflow, pull_request.repo)
