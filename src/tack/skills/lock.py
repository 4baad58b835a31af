"""`skills.lock`: the TOML file, committed beside WORKFLOW.md, that pins every installed skill
to its source, the version or commit it resolved to, and the sha256 of each of its files.

The installed copies live in `.tack/skills/<name>/` (the store, like `node_modules`), which
`tack skills install` rebuilds from the lock and `verify` checks against it.
"""

from __future__ import annotations

import os
import tempfile
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import tomli_w

from tack.skills.base import SkillError, file_hashes, folder_hash

LOCK_NAME = "skills.lock"
LOCK_VERSION = 1
_HEADER = ("# skills.lock: written by `tack skills`; commit it. Each skill's source, the version\n"
           "# or commit it resolved to, and the sha256 of each file. See docs/skills.md.\n")


@dataclass
class LockedSkill:
    name: str
    source: str
    kind: str
    resolved: str
    path: str  # the skill's folder inside the fetched source
    files: dict[str, str] = field(default_factory=dict)

    @property
    def hash(self) -> str:
        return folder_hash(self.files)

    def to_toml(self) -> dict[str, Any]:
        return {"source": self.source, "kind": self.kind, "resolved": self.resolved,
                "path": self.path, "hash": self.hash, "files": dict(sorted(self.files.items()))}


@dataclass(frozen=True)
class SkillsHome:
    """The lock and the store of one repository (the directory holding WORKFLOW.md)."""

    base: Path

    @property
    def lock_path(self) -> Path:
        return self.base / LOCK_NAME

    @property
    def store(self) -> Path:
        return self.base / ".tack" / "skills"

    def installed(self, name: str) -> Path:
        return self.store / name


def read_lock(path: Path) -> dict[str, LockedSkill]:
    """The skills in `path`, by name; an absent file is an empty lock."""
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return {}
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise SkillError(f"{path} is not valid TOML ({exc}). Restore it from git, or delete "
                         "it and `tack skills add` the skills again.",
                         code="skill_lock_invalid") from None
    skills: dict[str, LockedSkill] = {}
    for name, entry in (data.get("skills") or {}).items():
        try:
            skills[name] = LockedSkill(
                name=name, source=str(entry["source"]), kind=str(entry["kind"]),
                resolved=str(entry.get("resolved", "")), path=str(entry.get("path", "")),
                files={str(k): str(v) for k, v in dict(entry.get("files") or {}).items()},
            )
        except (KeyError, TypeError, ValueError):
            raise SkillError(f"{path}: the entry [skills.{name}] lacks `source` or `kind`. "
                             "Restore the file from git, or `tack skills remove "
                             f"{name}` and add it again.", code="skill_lock_invalid") from None
        recorded = entry.get("hash")
        if recorded and recorded != skills[name].hash:
            raise SkillError(f"{path}: [skills.{name}] `hash` does not match its `files`; the "
                             "lock was edited by hand. Restore it from git.",
                             code="skill_lock_invalid")
    return skills


def write_lock(path: Path, skills: dict[str, LockedSkill]) -> None:
    """Write atomically (temp file + rename), so a crash never leaves half a lock."""
    body = tomli_w.dumps({"version": LOCK_VERSION,
                          "skills": {n: skills[n].to_toml() for n in sorted(skills)}})
    fd, tmp = tempfile.mkstemp(prefix=".skills.lock.", dir=path.parent)
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        fh.write(_HEADER + body)
    os.replace(tmp, path)


@dataclass
class Drift:
    name: str
    problem: str


def check_installed(home: SkillsHome, locked: LockedSkill) -> Drift | None:
    """How the store copy of `locked` differs from the lock, or None when it matches."""
    folder = home.installed(locked.name)
    if not folder.is_dir():
        return Drift(locked.name, f"is not installed ({folder} is missing)")
    actual = file_hashes(folder)
    changed = sorted(p for p in locked.files if actual.get(p) not in (None, locked.files[p]))
    missing = sorted(set(locked.files) - set(actual))
    extra = sorted(set(actual) - set(locked.files))
    parts = ([f"changed: {', '.join(changed)}"] if changed else []) + \
            ([f"missing: {', '.join(missing)}"] if missing else []) + \
            ([f"unexpected: {', '.join(extra)}"] if extra else [])
    return Drift(locked.name, "; ".join(parts)) if parts else None
