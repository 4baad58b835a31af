"""Process-count limits through a cgroup's `pids.max`.

RLIMIT_NPROC does not bind root (Tack runs as root on many machines) and counts every process
of the user, so each sandboxed command gets its own pids cgroup instead: v1's `pids`
hierarchy or a v2 subtree, whichever this process may write. The command joins it before
bubblewrap starts (see `launch.py`), so nothing it forks escapes the count.
"""

from __future__ import annotations

import contextlib
import itertools
import os
from dataclasses import dataclass
from pathlib import Path

CGROUP_ROOT = Path("/sys/fs/cgroup")
_PARENT = "tack-sandbox"
_counter = itertools.count()
# Cgroups of finished commands whose processes were still dying when we tried to remove them.
_leftovers: set[Path] = set()


@dataclass(frozen=True)
class PidsCgroup:
    """One command's cgroup; `procs` is the file a process writes its pid to, to join."""

    path: Path

    @property
    def procs(self) -> Path:
        return self.path / "cgroup.procs"

    def remove(self) -> None:
        """Remove the cgroup once empty; a busy one is left for `sweep` to retry."""
        try:
            self.path.rmdir()
        except FileNotFoundError:
            pass
        except OSError:
            _leftovers.add(self.path)


def _own_path(controller: str) -> str:
    """This process's cgroup path in the hierarchy of `controller` ('' for v2)."""
    try:
        lines = Path("/proc/self/cgroup").read_text().splitlines()
    except OSError:
        return "/"
    for line in lines:
        _, controllers, path = line.split(":", 2)
        if controllers.split(",") == [controller] or (controller == "" and controllers == ""):
            return path
    return "/"


def pids_parent() -> Path | None:
    """The directory this process can create pids cgroups in, or None (then no pid limit)."""
    candidates = [CGROUP_ROOT / "pids" / _own_path("pids").lstrip("/")]
    v2 = CGROUP_ROOT / _own_path("").lstrip("/")
    if "pids" in _read(CGROUP_ROOT / "cgroup.controllers").split():
        candidates.append(v2)
    for base in candidates:
        parent = base / _PARENT
        try:
            parent.mkdir(exist_ok=True)
        except OSError:
            continue
        if base == v2:
            with contextlib.suppress(OSError):
                (parent / "cgroup.subtree_control").write_text("+pids")
        if os.access(parent, os.W_OK):
            return parent
    return None


def _read(path: Path) -> str:
    try:
        return path.read_text()
    except OSError:
        return ""


def create_pids_cgroup(max_pids: int) -> PidsCgroup | None:
    """A fresh cgroup allowing `max_pids` tasks, or None where cgroups are not writable."""
    parent = pids_parent()
    if parent is None:
        return None
    sweep(parent)
    path = parent / f"{os.getpid()}-{next(_counter)}"
    try:
        path.mkdir()
        (path / "pids.max").write_text(str(max_pids))
    except OSError:
        with contextlib.suppress(OSError):
            path.rmdir()
        return None
    return PidsCgroup(path)


def sweep(parent: Path) -> None:
    """Remove the cgroups of finished commands, and those a dead Tack process left behind
    (never one another command of a live process is about to join)."""
    for path in list(_leftovers):
        with contextlib.suppress(OSError):
            path.rmdir()
        if not path.exists():
            _leftovers.discard(path)
    with contextlib.suppress(OSError):
        for child in parent.iterdir():
            owner = child.name.split("-", 1)[0]
            if owner.isdigit() and not Path(f"/proc/{owner}").exists():
                with contextlib.suppress(OSError):
                    child.rmdir()
