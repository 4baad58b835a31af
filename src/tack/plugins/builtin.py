"""Tack's own parts, plugged in through the same hooks as anyone's: the lessons and golden
principles in the prompt, the reviewer at hand-off, and the `check` tool for the agent."""

from __future__ import annotations

from collections.abc import Awaitable
from typing import TYPE_CHECKING, Any

import pluggy

from tack.plugins.types import AgentTool, Run

if TYPE_CHECKING:
    from tack.forge import Handoff

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
def handed_off(run: Run, handoff: Handoff | None) -> Awaitable[None] | None:
    """With `review.on_handoff`, the reviewer agent reviews the change."""
    if not run.workflow.config.review.on_handoff:
        return None
    from tack.review.handoff import review

    return review(run, handoff)


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
