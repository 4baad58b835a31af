"""Skills for one run: materialise them in its workspace and record which ones (name and
content hash) the run could see, as a `skills` event the API and the dashboard show.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

from tack.skills.base import SkillRef
from tack.skills.lock import SkillsHome
from tack.skills.materialise import materialise_skills
from tack.store import Store
from tack.tracker.base import Issue
from tack.workflow import Workflow


async def prepare_run_skills(workflow: Workflow, store: Store, run_id: int | None,
                             issue: Issue, workspace: Path) -> list[SkillRef]:
    """Raises SkillError (the run must not start) when a selected skill is tampered with."""
    refs = await asyncio.to_thread(materialise_skills, workspace, SkillsHome(workflow.base_dir),
                                   workflow.config.skills, issue)
    if refs:
        store.add_event(
            run_id=run_id, issue_id=issue.id, identifier=issue.identifier, kind="skills",
            message="skills visible: " + ", ".join(f"{r.name} ({r.hash[7:19]})" for r in refs),
            data={"skills": [r.to_dict() for r in refs]},
        )
    return refs
