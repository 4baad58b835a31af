"""Tack's whole extension surface: every hook a plug-in can implement, in one file.

A plug-in is a module (or object) with functions marked `@tack.plugins.hookimpl` and named
after the hooks below; an installed package makes one discoverable with an entry point in the
`tack` group (`[project.entry-points.tack] my_plugin = "my_plugin"`). Tack's own lessons,
principles, reviewer and `check` tool plug in the same way (`tack.plugins.builtin`).
docs/extending.md walks through writing one.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

import pluggy

if TYPE_CHECKING:
    from tack.agents import AgentEvent
    from tack.forge import Handoff
    from tack.plugins.types import AgentTool, Run
    from tack.store.feedback import PullRequestRecord
    from tack.workflow import Workflow

hookspec = pluggy.HookspecMarker("tack")


# -- a run's life, in the order it happens ------------------------------------------------


@hookspec
def workspace_prepared(run: Run) -> None:
    """The run's workspace exists and `before_run` passed; no agent has started in it yet."""


@hookspec
def session_environment(run: Run) -> dict[str, str] | None:
    """Environment variables to add to the agent session's environment (later plug-ins win)."""


@hookspec
def session_tools(run: Run) -> list[AgentTool] | None:
    """Tools to offer the agent in this session (backends that run Tack's tools: builtin)."""


@hookspec
def prompt_context(run: Run) -> dict[str, Any] | None:
    """Variables for the prompt template; each name comes from one plug-in only."""


@hookspec(firstresult=True)
def run_attempt(run: Run) -> Awaitable[str | None] | None:
    """Run the attempt instead of one agent session (best-of-N); awaits to its error or None."""


@hookspec
def turn_event(run: Run, event: AgentEvent) -> None:
    """An agent event was recorded; runs on the orchestrator's loop, so return quickly."""


@hookspec
def run_ended(run: Run, status: str, error: str | None) -> None:
    """The attempt ended: succeeded, failed, timed_out, canceled, stalled or interrupted."""


@hookspec
def handed_off(run: Run, handoff: Handoff | None) -> Awaitable[None] | None:
    """The run handed off; after publishing (`handoff` None when not published). May be async."""


# -- what Tack learns from outside a run ----------------------------------------------------


@hookspec
def pull_request_merged(workflow: Workflow, pull_request: PullRequestRecord) -> None:
    """A pull request Tack opened was found merged (review intake); runs off the event loop."""


# -- plug-in kinds: each gets a `register(name, thing)` to call once per thing -------------


@hookspec
def register_trackers(register: Callable[[str, Any], None]) -> None:
    """Register tracker factories `(TrackerConfig, tack_dir) -> Tracker` by `tracker.kind`."""


@hookspec
def register_agent_backends(register: Callable[[str, Any], None]) -> None:
    """Register agent backend factories `(Workflow) -> AgentBackend` by `agent.backend`."""


@hookspec
def register_scan_rules(register: Callable[[str, Any], None]) -> None:
    """Register Python checks `(SourceFile, args) -> Iterable[Violation]` for PRINCIPLES.md."""


@hookspec
def register_feedback_parsers(register: Callable[[str, Any], None]) -> None:
    """Register `tack check` parsers `(text, ParseContext) -> (findings, test_count)` by format."""
