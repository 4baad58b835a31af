"""What a skill is: a folder with `SKILL.md` (YAML front matter, then instructions), hashed.

The Agent Skills format (agentskills.io) is what codex and claude read natively; this module
parses it and computes the content hashes `skills.lock` records.
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from tack.errors import TackError

SKILL_FILE = "SKILL.md"


class SkillError(TackError):
    """A skill cannot be fetched, audited, installed or verified."""

    code = "skill_error"


@dataclass(frozen=True)
class SkillRef:
    """A skill a run could see: its name and the hash of its whole folder."""

    name: str
    hash: str

    def to_dict(self) -> dict[str, str]:
        return {"name": self.name, "hash": self.hash}


@dataclass
class SkillDoc:
    """A parsed `SKILL.md`."""

    name: str
    description: str
    body: str
    meta: dict[str, Any] = field(default_factory=dict)


def split_front_matter(text: str, where: Path) -> tuple[dict[str, Any], str]:
    """(front matter map, body) of a `SKILL.md`; raises SkillError when it has none."""
    lines = text.splitlines(keepends=True)
    if not lines or lines[0].strip() != "---":
        raise SkillError(f"{where} does not start with YAML front matter (`---`). Add a block "
                         "with `name:` and `description:` between two `---` lines.")
    for end in range(1, len(lines)):
        if lines[end].strip() == "---":
            break
    else:
        raise SkillError(f"{where}: the front matter is not closed by a `---` line.")
    try:
        meta = yaml.safe_load("".join(lines[1:end])) or {}
    except yaml.YAMLError as exc:
        raise SkillError(f"{where}: the front matter is not valid YAML ({exc}).") from None
    if not isinstance(meta, dict):
        raise SkillError(f"{where}: the front matter must be a map with `name` and "
                         "`description`.")
    return meta, "".join(lines[end + 1:]).lstrip("\n")


def read_skill(folder: Path) -> SkillDoc:
    path = folder / SKILL_FILE
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise SkillError(f"{folder} has no {SKILL_FILE}, so it is not a skill.") from None
    except UnicodeDecodeError:
        raise SkillError(f"{path} is not UTF-8 text.") from None
    meta, body = split_front_matter(text, path)
    return SkillDoc(str(meta.get("name") or ""), str(meta.get("description") or ""), body, meta)


def file_hashes(folder: Path) -> dict[str, str]:
    """sha256 of every regular file under `folder`, keyed by POSIX relative path, sorted.

    Symlinks are listed with a hash of their target text so tampering shows; the audit
    refuses them anyway.
    """
    out: dict[str, str] = {}
    for dirpath, dirnames, filenames in os.walk(folder):
        dirnames.sort()
        here = Path(dirpath)
        for name in [*filenames, *(d for d in dirnames if (here / d).is_symlink())]:
            path = here / name
            rel = path.relative_to(folder).as_posix()
            if path.is_symlink():
                out[rel] = "symlink:" + os.readlink(path)
                continue
            digest = hashlib.sha256()
            with path.open("rb") as fh:
                for chunk in iter(lambda: fh.read(1 << 16), b""):
                    digest.update(chunk)
            out[rel] = digest.hexdigest()
    return dict(sorted(out.items()))


def folder_hash(files: dict[str, str]) -> str:
    """One hash for a whole skill: sha256 over its sorted `path NUL digest` lines."""
    digest = hashlib.sha256()
    for rel, file_digest in sorted(files.items()):
        digest.update(f"{rel}\0{file_digest}\n".encode())
    return "sha256:" + digest.hexdigest()
