"""The audit every skill passes on `add` and `update`: the spec's front matter rules, its
scripts and their interpreters, oversized files, and nothing that reaches outside the folder.

Rules from the Agent Skills specification (agentskills/agentskills `docs/specification.mdx`):
`name` 1-64 chars of `[a-z0-9-]`, no leading, trailing or double hyphen, equal to the folder
name; `description` 1-1024 chars; `compatibility` at most 500 chars; `metadata` a string map.
"""

from __future__ import annotations

import os
import re
import stat
from dataclasses import dataclass, field
from pathlib import Path

from tack.skills.base import SKILL_FILE, SkillError, read_skill

NAME_RE = re.compile(r"^[a-z0-9]+(?:-[a-z0-9]+)*$")
MAX_NAME = 64
MAX_DESCRIPTION = 1024
MAX_COMPATIBILITY = 500
# The spec asks to keep SKILL.md under 500 lines; longer bodies cost context on activation.
MAX_BODY_LINES = 500
SPEC_FIELDS = {"name", "description", "license", "compatibility", "metadata", "allowed-tools"}
# A relative path in SKILL.md that climbs out of the folder (`../x`, `a/../../x`).
_ESCAPE_RE = re.compile(r"(?:^|[\s(\[<'\"`=])(?:\.\./|[\w.-]+/\.\./)", re.MULTILINE)
_INTERPRETERS = {".py": "python", ".sh": "sh", ".bash": "bash", ".js": "node", ".mjs": "node",
                 ".cjs": "node", ".ts": "node", ".rb": "ruby", ".pl": "perl", ".ps1": "pwsh"}


@dataclass
class ScriptInfo:
    path: str
    interpreter: str


@dataclass
class AuditReport:
    name: str
    errors: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    scripts: list[ScriptInfo] = field(default_factory=list)
    files: int = 0
    bytes: int = 0

    def raise_for_errors(self, source: str) -> None:
        if self.errors:
            raise SkillError(
                f"Skill {self.name!r} from {source} failed the audit: "
                + "; ".join(self.errors)
                + ". Fix the skill at its source (or pick another one); nothing was installed."
            , code="skill_audit_failed")


def validate_name(name: str) -> str | None:
    """The spec's complaint about `name`, or None when it is valid."""
    if not name:
        return "front matter `name` is missing"
    if len(name) > MAX_NAME:
        return f"`name` is {len(name)} characters (at most {MAX_NAME})"
    if not NAME_RE.match(name):
        return (f"`name` {name!r} must be lowercase letters, digits and single hyphens, not "
                "starting or ending with a hyphen")
    return None


def audit_skill(folder: Path, *, max_file_bytes: int) -> AuditReport:
    report = AuditReport(name=folder.name)
    _walk(folder, report, max_file_bytes)
    if not (folder / SKILL_FILE).is_file() or (folder / SKILL_FILE).is_symlink():
        report.errors.append(f"no regular {SKILL_FILE} file")
        return report
    try:
        doc = read_skill(folder)
    except SkillError as exc:
        report.errors.append(exc.message)
        return report
    report.name = doc.name or folder.name
    problem = validate_name(doc.name)
    if problem:
        report.errors.append(problem)
    elif doc.name != folder.name:
        report.errors.append(f"`name` {doc.name!r} differs from its folder name "
                             f"{folder.name!r} (the spec requires them to match)")
    if not doc.description.strip():
        report.errors.append("front matter `description` is missing")
    elif len(doc.description) > MAX_DESCRIPTION:
        report.errors.append(f"`description` is {len(doc.description)} characters "
                             f"(at most {MAX_DESCRIPTION})")
    compat = doc.meta.get("compatibility")
    if compat is not None and len(str(compat)) > MAX_COMPATIBILITY:
        report.errors.append(f"`compatibility` is longer than {MAX_COMPATIBILITY} characters")
    metadata = doc.meta.get("metadata")
    if metadata is not None and not (
        isinstance(metadata, dict) and all(isinstance(k, str) for k in metadata)
    ):
        report.errors.append("`metadata` must be a map of strings")
    extra = sorted(set(doc.meta) - SPEC_FIELDS)
    if extra:
        report.warnings.append("front matter fields outside the spec (kept, clients may "
                               f"ignore them): {', '.join(extra)}")
    if doc.body.count("\n") > MAX_BODY_LINES:
        report.warnings.append(f"{SKILL_FILE} body is over {MAX_BODY_LINES} lines")
    escape = _ESCAPE_RE.search(doc.body)
    if escape:
        report.errors.append(f"{SKILL_FILE} refers to a path outside its folder "
                             f"({escape.group(0).strip()!r}…)")
    return report


def _walk(folder: Path, report: AuditReport, max_file_bytes: int) -> None:
    for dirpath, dirnames, filenames in os.walk(folder):
        here = Path(dirpath)
        for name in sorted([*dirnames, *filenames]):
            path = here / name
            rel = path.relative_to(folder).as_posix()
            if ".." in Path(rel).parts:
                report.errors.append(f"{rel} has a `..` component")
                continue
            mode = path.lstat().st_mode
            if stat.S_ISLNK(mode):
                report.errors.append(f"{rel} is a symlink (skills must be plain files)")
                continue
            if stat.S_ISDIR(mode):
                continue
            if not stat.S_ISREG(mode):
                report.errors.append(f"{rel} is not a regular file")
                continue
            size = path.stat().st_size
            report.files += 1
            report.bytes += size
            if size > max_file_bytes:
                report.warnings.append(f"{rel} is {size} bytes (over skills.max_file_bytes "
                                       f"= {max_file_bytes})")
            interpreter = _interpreter(path, rel, mode)
            if interpreter:
                report.scripts.append(ScriptInfo(rel, interpreter))
        dirnames[:] = [d for d in dirnames if not (here / d).is_symlink()]


def _interpreter(path: Path, rel: str, mode: int) -> str | None:
    """The program that runs a script, for files under scripts/, executable, or with `#!`."""
    with path.open("rb") as fh:
        head = fh.readline(200)
    executable = bool(mode & (stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH))
    if head.startswith(b"#!"):
        words = head[2:].decode(errors="replace").split()
        if words and words[0].endswith("/env") and len(words) > 1:
            return words[1]
        return words[0].rsplit("/", 1)[-1] if words else "unknown"
    if not (rel.startswith("scripts/") or executable):
        return None
    return _INTERPRETERS.get(path.suffix.lower(), "unknown")
