"""Skills for the built-in agent: the catalog (name + description) for its system prompt,
within a character budget, and the `skill` tool that loads a skill's body and files on
demand (progressive disclosure, as the Agent Skills spec describes).

Both read the copies materialised in the workspace's `.agents/skills/`, so the built-in
agent sees exactly what codex would.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tack.skills.base import SKILL_FILE, SkillError, read_skill

WORKSPACE_SKILLS = ".agents/skills"
SKILL_FILE_MAX_CHARS = 48_000
_CATALOG_HEAD = (
    "\nSkills: packaged instructions for particular tasks. When a task matches a skill's "
    "description, call the `skill` tool with its name to read it before you start; ask for "
    "its other files with `file` when its instructions point at them.\n"
)


@dataclass
class Catalog:
    text: str = ""
    shown: list[str] = field(default_factory=list)
    dropped: list[str] = field(default_factory=list)


def skill_catalog(workspace: Path, budget_chars: int) -> Catalog:
    """The catalog lines that fit in `budget_chars`; the skills that did not are `dropped`."""
    root = workspace / WORKSPACE_SKILLS
    if not root.is_dir():
        return Catalog()
    catalog = Catalog()
    lines: list[str] = []
    used = len(_CATALOG_HEAD)
    for folder in sorted(p for p in root.iterdir() if p.is_dir() and not p.is_symlink()):
        try:
            doc = read_skill(folder)
        except SkillError:
            continue
        line = f"- {doc.name}: {' '.join(doc.description.split())}\n"
        if used + len(line) > budget_chars:
            catalog.dropped.append(doc.name)
            continue
        used += len(line)
        lines.append(line)
        catalog.shown.append(doc.name)
    if lines:
        catalog.text = _CATALOG_HEAD + "".join(lines)
    return catalog


def load_skill(args: dict[str, Any], workspace: Path) -> str:
    """The `skill` tool: a skill's instructions and file list, or one of its files."""
    name = str(args.get("name") or "").strip()
    root = (workspace / WORKSPACE_SKILLS).resolve()
    available = sorted(p.name for p in root.iterdir() if (p / SKILL_FILE).is_file()) \
        if root.is_dir() else []
    if name not in available:
        raise ValueError(f"no skill named {name!r}; available: {', '.join(available) or 'none'}")
    folder = root / name
    wanted = str(args.get("file") or "").strip()
    if wanted:
        target = (folder / wanted).resolve()
        if folder.resolve() not in target.parents or not target.is_file():
            raise ValueError(f"{wanted!r} is not a file of skill {name!r}")
        text = target.read_text(encoding="utf-8", errors="replace")
        return text[:SKILL_FILE_MAX_CHARS]
    doc = read_skill(folder)
    files = sorted(p.relative_to(folder).as_posix() for p in folder.rglob("*")
                   if p.is_file() and p.name != SKILL_FILE)
    listing = ("\n\nFiles of this skill (read one with `file`): " + ", ".join(files)) \
        if files else ""
    return f"# Skill {doc.name}\n{doc.body[:SKILL_FILE_MAX_CHARS]}{listing}"
