"""Installed skills, copied into each workspace where the agents look for them natively:
`.agents/skills/` (Codex and the built-in agent) and `.claude/skills/` (Claude Code).

Copies, not symlinks: Codex skips symlinked skills and an agent must not edit the store.
The copies are kept out of git through `.git/info/exclude`, so they never land in a commit.
"""

from __future__ import annotations

import fnmatch
import json
import re
import shutil
import subprocess
from pathlib import Path

from tack.skills.base import SkillError, SkillRef
from tack.skills.installer import verify
from tack.skills.lock import LockedSkill, SkillsHome, check_installed, read_lock
from tack.skills.sources import BUILTIN_DIR
from tack.tracker.base import Issue
from tack.workflow.config import SkillsConfig

SKILL_DIRS = (".agents/skills", ".claude/skills")
# Which names Tack put there last time, so a skill no longer selected is taken away again.
MANIFEST = ".tack-skills.json"
_PATHISH = re.compile(r"[\w.\-/*]+")


def selected(lock: dict[str, LockedSkill], config: SkillsConfig,
             issue: Issue) -> list[LockedSkill]:
    """The locked skills `issue` may see: all, minus those whose `when` does not fit it."""
    return [s for name, s in sorted(lock.items()) if _fits(config, name, issue)]


def _fits(config: SkillsConfig, name: str, issue: Issue) -> bool:
    entry = config.entries.get(name)
    when = entry.when if entry else None
    if when is None or (not when.labels and not when.paths):
        return True
    labels = {label.strip().lower() for label in issue.labels}
    if any(label.strip().lower() in labels for label in when.labels):
        return True
    mentioned = _PATHISH.findall(f"{issue.title}\n{issue.description or ''}")
    return any(fnmatch.fnmatchcase(word.strip("./"), glob.strip("./"))
               for glob in when.paths for word in mentioned if "/" in word or "." in word)


def materialise_skills(workspace: Path, home: SkillsHome, config: SkillsConfig,
                       issue: Issue) -> list[SkillRef]:
    """Copy the skills `issue` may see into `workspace`; the refs are the run's provenance.

    Raises SkillError when a selected skill in the store differs from skills.lock, so a run
    never starts with a tampered skill.
    """
    lock = read_lock(home.lock_path)
    chosen = selected(lock, config, issue)
    for skill in chosen:
        drift = check_installed(home, skill)
        if drift:
            raise SkillError(_drift_message(home, drift.name, drift.problem),
                             code="skill_drift")
    names = [s.name for s in chosen]
    if not names and not any((workspace / rel / MANIFEST).exists() for rel in SKILL_DIRS):
        return []
    for rel in SKILL_DIRS:
        target = workspace / rel
        for stale in set(_previous(target)) - set(names):
            if (target / stale).is_dir() and not (target / stale).is_symlink():
                shutil.rmtree(target / stale)
        if not names and not target.is_dir():
            continue
        target.mkdir(parents=True, exist_ok=True)
        for name in names:
            if (target / name).is_symlink() or (target / name).is_file():
                (target / name).unlink()
            elif (target / name).exists():
                shutil.rmtree(target / name)
            shutil.copytree(home.installed(name), target / name, symlinks=True)
        (target / MANIFEST).write_text(json.dumps(names) + "\n", encoding="utf-8")
    if names:
        _exclude_from_git(workspace, [f"/{rel}/{n}/" for rel in SKILL_DIRS for n in names]
                          + [f"/{rel}/{MANIFEST}" for rel in SKILL_DIRS])
    return [SkillRef(s.name, s.hash) for s in chosen]


def _previous(target: Path) -> list[str]:
    try:
        names = json.loads((target / MANIFEST).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return []
    return [n for n in names if isinstance(n, str) and n and "/" not in n and n != ".."]


def _drift_message(home: SkillsHome, name: str, problem: str) -> str:
    return (f"Skill {name!r} {problem} in {home.store} (compared with {home.lock_path}); "
            "Tack will not run an agent with a tampered or missing skill. Run `tack skills "
            f"install` to restore it from its source, or `tack skills update {name}` if the "
            "change is wanted.")


def _exclude_from_git(workspace: Path, patterns: list[str]) -> None:
    try:
        done = subprocess.run(["git", "rev-parse", "--git-path", "info/exclude"],
                              cwd=workspace, capture_output=True, text=True, timeout=30,
                              check=False)
    except (OSError, subprocess.TimeoutExpired):
        return
    if done.returncode != 0:
        return  # not a git workspace: nothing to keep out of commits
    exclude = Path(done.stdout.strip())
    exclude = exclude if exclude.is_absolute() else workspace / exclude
    exclude.parent.mkdir(parents=True, exist_ok=True)
    existing = exclude.read_text(encoding="utf-8").splitlines() if exclude.exists() else []
    missing = [p for p in patterns if p not in existing]
    if missing:
        with exclude.open("a", encoding="utf-8") as fh:
            if existing and existing[-1] != "":
                fh.write("\n")
            fh.write("# tack skills (materialised copies)\n" if not any(
                line.startswith("# tack skills") for line in existing) else "")
            fh.write("\n".join(missing) + "\n")


def verify_before_up(home: SkillsHome) -> None:
    """Refuse to start `tack up` while any locked skill is missing or tampered with."""
    drifts = verify(home)
    if drifts:
        first = drifts[0]
        more = f" ({len(drifts) - 1} more: {', '.join(d.name for d in drifts[1:])})" \
            if len(drifts) > 1 else ""
        raise SkillError(_drift_message(home, first.name, first.problem) + more,
                         code="skill_drift")


def provide_builtin_skill(workspace: Path, name: str) -> bool:
    """Copy one of Tack's own skills into the workspace for every agent, unless a copy is
    there (an installed, locked one wins). A part that needs its skill (`app:` configured
    wants `tack-app`) calls this, so nobody has to run `tack skills add` first. True when
    copied."""
    source = BUILTIN_DIR / name
    if not (source / "SKILL.md").is_file():
        raise SkillError(f"Tack has no built-in skill {name!r} (in {BUILTIN_DIR})")
    copied = False
    for rel in SKILL_DIRS:
        target = workspace / rel / name
        if target.exists() or target.is_symlink():
            continue
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copytree(source, target)
        copied = True
    if copied:
        _exclude_from_git(workspace, [f"/{rel}/{name}/" for rel in SKILL_DIRS])
    return copied
