"""Skills: packaged, locked and audited capabilities for every agent Tack runs (docs/skills.md).

`sources` fetches them with the real clients, `audit` checks them, `lock` pins them in
`skills.lock`, `installer` is the `tack skills` commands as library calls, `materialise`
copies them into each workspace, `agent_tool` gives them to the built-in agent and
`provenance` records which ones each run could see.
"""

from __future__ import annotations

from tack.skills.base import SkillError, SkillRef
from tack.skills.lock import SkillsHome

__all__ = ["SkillError", "SkillRef", "SkillsHome"]
