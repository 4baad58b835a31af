"""WORKFLOW.md: YAML front matter as a typed, `$VAR`-resolved config plus a strict Liquid
prompt template, with hot reload that keeps the last good config (Symphony SPEC §5, §6, §12).

The names below load on first use: `tack scan` needs only `ServiceConfig` of a repository
without a WORKFLOW.md, and the template engine and watcher are most of this package's import.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from tack.workflow.config import ServiceConfig
    from tack.workflow.loader import Workflow, load_workflow
    from tack.workflow.template import DEFAULT_PROMPT, render_prompt
    from tack.workflow.watcher import WorkflowWatcher

__all__ = [
    "DEFAULT_PROMPT",
    "ServiceConfig",
    "Workflow",
    "WorkflowWatcher",
    "load_workflow",
    "render_prompt",
]

_HOME = {
    "DEFAULT_PROMPT": "tack.workflow.template",
    "ServiceConfig": "tack.workflow.config",
    "Workflow": "tack.workflow.loader",
    "WorkflowWatcher": "tack.workflow.watcher",
    "load_workflow": "tack.workflow.loader",
    "render_prompt": "tack.workflow.template",
}


def __getattr__(name: str) -> Any:
    if name not in _HOME:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(_HOME[name]), name)
    globals()[name] = value
    return value
