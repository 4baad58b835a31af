"""`tack skills add/remove/update/install/verify` as library calls.

Every skill that enters the store passes `skills.allow` and the audit first; the store copy
is replaced atomically and the lock is written last, so an interrupted command leaves the
previous state intact.
"""

from __future__ import annotations

import fnmatch
import os
import re
import shutil
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

import tack
from tack.skills.audit import AuditReport, audit_skill
from tack.skills.base import SkillError, file_hashes, folder_hash
from tack.skills.lock import (
    Drift,
    LockedSkill,
    SkillsHome,
    check_installed,
    read_lock,
    write_lock,
)
from tack.skills.sources import Fetched, Source, fetch, parse_source
from tack.workflow.config import SkillsConfig


@dataclass
class Installed:
    locked: LockedSkill
    report: AuditReport
    previous: str | None = None  # the version or commit before an update


@dataclass
class InstallSummary:
    installed: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    relocked: list[str] = field(default_factory=list)
    pruned: list[str] = field(default_factory=list)


def check_allowed(config: SkillsConfig, source: str) -> None:
    if not any(fnmatch.fnmatchcase(source, pattern) for pattern in config.allow):
        raise SkillError(
            f"The skill source {source!r} is not allowed by `skills.allow` in WORKFLOW.md "
            f"(patterns: {', '.join(config.allow) or 'none'}). Add a pattern that matches it "
            "if you trust it.", code="skill_not_allowed")


def add(home: SkillsHome, config: SkillsConfig, source_text: str,
        name: str | None = None) -> list[Installed]:
    """Fetch, audit and install the skills of `source_text` (or only `name`), then lock them."""
    check_allowed(config, source_text)
    source = parse_source(source_text, home.base)
    lock = read_lock(home.lock_path)
    with tempfile.TemporaryDirectory(prefix="tack-skill-") as scratch:
        fetched = fetch(source, Path(scratch))
        chosen = _choose(fetched, source_text, name)
        for skill_name in chosen:
            held = lock.get(skill_name)
            if held and held.source != source_text:
                raise SkillError(
                    f"A skill named {skill_name!r} is already installed from {held.source}. "
                    f"`tack skills remove {skill_name}` first to replace it.",
                    code="skill_name_taken")
        done = [_install_one(home, config, source, fetched, n, lock.get(n)) for n in chosen]
    for item in done:
        lock[item.locked.name] = item.locked
    write_lock(home.lock_path, lock)
    return done


def _choose(fetched: Fetched, source_text: str, name: str | None) -> list[str]:
    if not fetched.skills:
        raise SkillError(f"{source_text} holds no skill: no folder with a SKILL.md at its top, "
                         "in skills/, .agents/skills/ or .claude/skills/ (or, for a Python "
                         "package, under a `tack.skills` entry point).",
                         code="skill_not_found")
    if name is None:
        return sorted(fetched.skills)
    if name not in fetched.skills:
        raise SkillError(f"{source_text} has no skill named {name!r}; it has: "
                         f"{', '.join(sorted(fetched.skills))}.", code="skill_not_found")
    return [name]


def _install_one(home: SkillsHome, config: SkillsConfig, source: Source, fetched: Fetched,
                 name: str, previous: LockedSkill | None) -> Installed:
    folder = fetched.skills[name]
    report = audit_skill(folder, max_file_bytes=config.max_file_bytes)
    report.raise_for_errors(source.text)
    files = file_hashes(folder)
    resolved = fetched.resolved or _content_version(files)
    _replace_store_copy(home, name, folder)
    try:
        rel = folder.relative_to(fetched.root).as_posix()
    except ValueError:
        rel = folder.name
    locked = LockedSkill(name, source.text, source.kind, resolved, rel, files)
    return Installed(locked, report, previous.resolved if previous else None)


def _content_version(files: dict[str, str]) -> str:
    # A local folder has no version of its own: its content hash stands in for one.
    return folder_hash(files)


def _replace_store_copy(home: SkillsHome, name: str, folder: Path) -> None:
    home.store.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{name}.", dir=home.store))
    try:
        shutil.copytree(folder, staging / name, symlinks=True)
        target = home.installed(name)
        old = staging / "old"
        if target.exists():
            os.replace(target, old)
        os.replace(staging / name, target)
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def remove(home: SkillsHome, name: str) -> None:
    lock = read_lock(home.lock_path)
    if name not in lock:
        raise SkillError(f"No skill named {name!r} in {home.lock_path}; `tack skills list` "
                         "shows the installed ones.", code="skill_not_found")
    del lock[name]
    write_lock(home.lock_path, lock)
    shutil.rmtree(home.installed(name), ignore_errors=True)


def update(home: SkillsHome, config: SkillsConfig, name: str | None = None) -> list[Installed]:
    """Re-resolve each skill's source (a branch moves, a tag stays), audit and re-lock it."""
    lock = read_lock(home.lock_path)
    names = [name] if name else sorted(lock)
    if name and name not in lock:
        raise SkillError(f"No skill named {name!r} in {home.lock_path}.",
                         code="skill_not_found")
    done: list[Installed] = []
    for skill_name in names:
        held = lock[skill_name]
        check_allowed(config, held.source)
        source = parse_source(held.source, home.base)
        with tempfile.TemporaryDirectory(prefix="tack-skill-") as scratch:
            fetched = fetch(source, Path(scratch))
            _choose(fetched, held.source, skill_name)
            done.append(_install_one(home, config, source, fetched, skill_name, held))
        lock[skill_name] = done[-1].locked
    write_lock(home.lock_path, lock)
    return done


def verify(home: SkillsHome) -> list[Drift]:
    """Every difference between the lock and the store (empty: all skills match)."""
    lock = read_lock(home.lock_path)
    drifts = [d for d in (check_installed(home, s) for s in lock.values()) if d]
    drifts += [Drift(s.name, f"was locked for Tack {s.resolved}, this is Tack "
                             f"{tack.__version__}")
               for s in lock.values() if s.kind == "tack" and s.resolved != tack.__version__]
    if home.store.is_dir():
        drifts += [Drift(p.name, "is in the store but not in skills.lock")
                   for p in sorted(home.store.iterdir())
                   if p.is_dir() and not p.name.startswith(".") and p.name not in lock]
    return drifts


def install(home: SkillsHome, config: SkillsConfig, *, frozen: bool = False) -> InstallSummary:
    """Make the store match the lock, fetching each skill at its locked version or commit.

    With `frozen`, any difference between what the sources deliver and the lock is an
    error and nothing is re-locked; without it, the lock follows the fetched content.
    """
    lock = read_lock(home.lock_path)
    summary = InstallSummary()
    for name in sorted(lock):
        held = lock[name]
        if check_installed(home, held) is None and not (
            held.kind == "tack" and held.resolved != tack.__version__
        ):
            summary.unchanged.append(name)
            continue
        check_allowed(config, held.source)
        source = _pinned(parse_source(held.source, home.base), held)
        with tempfile.TemporaryDirectory(prefix="tack-skill-") as scratch:
            fetched = fetch(source, Path(scratch))
            _choose(fetched, held.source, name)
            folder = fetched.skills[name]
            files = file_hashes(folder)
            resolved = fetched.resolved or _content_version(files)
            if (files != held.files or resolved != held.resolved) and frozen:
                raise SkillError(
                    f"Skill {name!r} from {held.source} no longer matches skills.lock "
                    f"(locked {held.resolved[:19]}, the source gives {resolved[:19]}"
                    f"{'' if files == held.files else ', with different files'}). Run "
                    f"`tack skills update {name}` to accept the change, then commit "
                    "skills.lock.", code="skill_drift")
            item = _install_one(home, config, source, fetched, name, held)
        if item.locked.to_toml() != held.to_toml():
            lock[name] = item.locked
            summary.relocked.append(name)
        summary.installed.append(name)
    if home.store.is_dir():
        for path in sorted(home.store.iterdir()):
            if path.is_dir() and not path.name.startswith(".") and path.name not in lock:
                shutil.rmtree(path)
                summary.pruned.append(path.name)
    if summary.relocked:
        write_lock(home.lock_path, lock)
    return summary


_REQ_NAME = re.compile(r"^\s*([A-Za-z0-9][A-Za-z0-9._-]*)")


def _pinned(source: Source, held: LockedSkill) -> Source:
    """`source` at the version or commit the lock resolved it to."""
    if source.kind == "git":
        return Source("git", source.location, held.resolved, source.text)
    if source.kind == "pypi" and not Path(source.location).exists():
        match = _REQ_NAME.match(source.location)
        if match:
            return Source("pypi", f"{match.group(1)}=={held.resolved}", None, source.text)
    if source.kind == "npm" and not Path(source.location).exists():
        scoped = source.location.startswith("@")
        bare = source.location[1:] if scoped else source.location
        package = ("@" if scoped else "") + bare.split("@", 1)[0]
        return Source("npm", f"{package}@{held.resolved}", None, source.text)
    return source
