"""What a prompt carries beyond the issue: the lessons learned from earlier reviews and the
golden principles relevant to this issue, for the template variables `lessons` and
`principles`. Guidance is best effort: a broken lessons folder never fails a run.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import structlog

from tack.tracker.base import Issue
from tack.workflow import Workflow

log = structlog.get_logger(__name__)


@dataclass
class Guidance:
    lessons: list[dict[str, Any]] = field(default_factory=list)
    principles: list[dict[str, Any]] = field(default_factory=list)

    @property
    def lesson_ids(self) -> list[str]:
        return [str(x["id"]) for x in self.lessons]


def guidance_for(wf: Workflow, issue: Issue, workspace: Path | None = None) -> Guidance:
    """Lessons and principles for `issue`'s prompt, most relevant first."""
    cfg = wf.config
    repo = wf.repo_dir()
    out = Guidance()
    try:
        from tack.learning import relevant_lessons

        out.lessons = [x.to_prompt() for x in relevant_lessons(cfg, repo, issue)]
    except Exception as exc:  # noqa: BLE001 - guidance must never fail a run
        log.warning("lessons unavailable for the prompt", error=str(exc))
    try:
        from tack.principles.selection import principles_for_prompt

        out.principles = principles_for_prompt(cfg, repo, workspace, issue, limit=5)
    except Exception as exc:  # noqa: BLE001 - guidance must never fail a run
        log.warning("principles unavailable for the prompt", error=str(exc))
    return out
