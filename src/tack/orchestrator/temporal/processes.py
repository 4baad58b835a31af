"""Agent process groups a worker started, recorded on disk so the next worker start can kill
the ones a SIGKILLed worker left behind (no engine does that for us).

One file per process group under `<workspace root>/.tack-worker/processes/`, holding the pid
of the worker that started it; groups of a live worker are never touched.
"""

from __future__ import annotations

import os
import signal
from pathlib import Path

import structlog

log = structlog.get_logger("tack.temporal.processes")


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def kill_group(pgid: int) -> bool:
    try:
        os.killpg(pgid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        return False
    return True


class ProcessRegistry:
    def __init__(self, workspace_root: Path) -> None:
        self.directory = Path(workspace_root) / ".tack-worker" / "processes"
        self.owner = os.getpid()

    def _file(self, pgid: int) -> Path:
        return self.directory / str(pgid)

    def record(self, pgid: int, alive: bool) -> None:
        """`SessionContext.on_process` for agents this worker starts."""
        if alive:
            self.directory.mkdir(parents=True, exist_ok=True)
            self._file(pgid).write_text(str(self.owner))
        else:
            self._file(pgid).unlink(missing_ok=True)

    def kill(self, pgids: set[int]) -> None:
        for pgid in pgids:
            kill_group(pgid)
            self._file(pgid).unlink(missing_ok=True)

    def sweep(self) -> list[int]:
        """Kill groups recorded by workers that are gone; returns the groups killed."""
        killed: list[int] = []
        if not self.directory.is_dir():
            return killed
        for entry in self.directory.iterdir():
            try:
                pgid, owner = int(entry.name), int(entry.read_text().strip() or 0)
            except (ValueError, OSError):
                entry.unlink(missing_ok=True)
                continue
            if owner != self.owner and owner > 0 and _alive(owner):
                continue
            if kill_group(pgid):
                killed.append(pgid)
                log.warning("killed a leftover agent process group", pgid=pgid, worker_pid=owner)
            entry.unlink(missing_ok=True)
        return killed
