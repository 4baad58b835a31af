"""WORKFLOW.md: YAML front matter as a typed, `$VAR`-resolved config plus a strict Liquid
prompt template, with hot reload that keeps the last good config (Symphony SPEC §5, §6, §12).
"""

from __future__ import annotations

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
