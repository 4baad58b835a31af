"""Where a repository keeps its principles, baseline and scan cache, read from WORKFLOW.md.

A repository without a WORKFLOW.md gets the defaults: PRINCIPLES.md and
principles-baseline.json at the root, the cache in `.tack/`.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from tack.principles.judge import JudgeSettings
    from tack.workflow.config import ServiceConfig

# The defaults of `principles.path` and `principles.baseline` in tack.workflow.config, kept
# here so a scan without a WORKFLOW.md never imports pydantic (~10 MB of a scan's memory).
DEFAULT_PRINCIPLES = "PRINCIPLES.md"
DEFAULT_BASELINE = "principles-baseline.json"


@dataclass(frozen=True)
class Project:
    root: Path
    loaded: ServiceConfig | None = None  # None: no WORKFLOW.md, every setting its default
    workflow: Path | None = None

    @cached_property
    def config(self) -> ServiceConfig:
        if self.loaded is not None:
            return self.loaded
        from tack.workflow.config import ServiceConfig

        return ServiceConfig()

    def _at(self, value: str) -> Path:
        path = Path(value).expanduser()
        return path if path.is_absolute() else self.root / path

    @property
    def principles_path(self) -> Path:
        return self._at(self.loaded.principles.path if self.loaded else DEFAULT_PRINCIPLES)

    @property
    def baseline_path(self) -> Path:
        return self._at(self.loaded.principles.baseline if self.loaded else DEFAULT_BASELINE)

    @property
    def tack_dir(self) -> Path:
        return self.root / ".tack"

    @property
    def cache_path(self) -> Path:
        return self.tack_dir / "scan-cache.json"

    def judge_settings(self, *, model: str | None = None) -> JudgeSettings:
        from tack.principles.judge import JudgeSettings  # httpx and the agents: only to judge

        judge, builtin = self.config.principles.judge, self.config.builtin
        api_key = os.environ.get(judge.api_key_env) if judge.api_key_env else builtin.api_key
        return JudgeSettings(
            base_url=judge.base_url or builtin.base_url,
            model=model or judge.model or builtin.model,
            api_key=api_key,
            max_tokens_per_scan=judge.max_tokens_per_scan,
            batch_files=judge.batch_files,
            max_file_chars=judge.max_file_chars,
            timeout_s=judge.request_timeout_ms / 1000,
        )


def open_project(root: Path | None = None, workflow: Path | None = None) -> Project:
    """The project at `root` (default: the current directory), configured by its workflow."""
    base = (root or Path.cwd()).expanduser().resolve()
    file = (workflow if workflow is not None else base / "WORKFLOW.md").expanduser()
    if not file.is_absolute():
        file = Path.cwd() / file
    if not file.exists():
        if workflow is not None:
            from tack.errors import WorkflowError

            raise WorkflowError(f"{file}: no such workflow file. Pass an existing file to "
                                "--workflow, or omit it to use the defaults.",
                                code="missing_workflow_file")
        return Project(base)
    from tack.workflow.loader import load_workflow  # its template engine: only for a workflow

    return Project(base, load_workflow(file).config, file)
