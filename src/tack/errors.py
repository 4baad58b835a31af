"""Typed errors whose messages are written for the person who reads them.

Every user-facing failure is a `TackError`: the CLI prints its message (what happened, where,
and what to do) and exits non-zero, never a traceback.
"""

from __future__ import annotations


class TackError(Exception):
    """A failure caused by input or environment that a person can fix."""

    code: str = "tack_error"

    def __init__(self, message: str, *, code: str | None = None) -> None:
        super().__init__(message)
        if code is not None:
            self.code = code

    @property
    def message(self) -> str:
        return str(self.args[0]) if self.args else ""


class WorkflowError(TackError):
    """WORKFLOW.md cannot be read, parsed, validated or rendered.

    `code` is one of Symphony's error classes: missing_workflow_file, workflow_parse_error,
    workflow_front_matter_not_a_map, workflow_config_invalid, template_parse_error,
    template_render_error.
    """

    code = "workflow_parse_error"


class TrackerError(TackError):
    """A tracker adapter failed. `code` is a portable category (SPEC §11.4)."""

    code = "tracker_request"


class WorkspaceError(TackError):
    """A workspace could not be created, prepared, or is outside the workspace root."""

    code = "workspace_error"


class AgentError(TackError):
    """An agent session or turn failed."""

    code = "agent_error"


class StoreError(TackError):
    """The durable state store cannot be opened or is held by another process."""

    code = "store_error"


class PluginError(TackError):
    """A plug-in cannot be loaded, or a hook it implements failed where Tack needs its answer."""

    code = "plugin_error"
