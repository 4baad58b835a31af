"""Process records of an app session and the sweep that ends leftovers after a `kill -9`.

The daemon, the app and Chromium each run in their own process group; each is recorded in
`pids.json` with its start time (from /proc), so a sweep never signals a recycled pid.
"""

from __future__ import annotations

import json
import os
import signal
import time
from pathlib import Path

from tack.app.home import AppHome


def _stat(pid: int | str) -> list[str] | None:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    # The command name in field 2 may hold spaces, so split after its ')'; fields from 3 on.
    return stat.rsplit(")", 1)[1].split()


def start_time(pid: int) -> str | None:
    """Field 22 of /proc/PID/stat; None when the process is gone or a zombie (whose parent,
    in a container without an init that reaps, may never collect it)."""
    fields = _stat(pid)
    return None if fields is None or fields[0] == "Z" else fields[19]


def group_alive(pgid: int) -> bool:
    """Whether any live (non-zombie) process is in the group."""
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            fields = _stat(entry.name)
            if fields is not None and fields[2] == str(pgid) and fields[0] != "Z":
                return True
    return False


def read_records(home: AppHome) -> dict[str, dict[str, object]]:
    try:
        data = json.loads(home.pids.read_text())
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def record(home: AppHome, role: str, pid: int | None) -> None:
    records = read_records(home)
    if pid is None:
        records.pop(role, None)
    else:
        # Every recorded process leads its own session, so its group id is its pid.
        records[role] = {"pid": pid, "pgid": pid, "start": start_time(pid)}
    home.ensure()
    tmp = home.pids.with_suffix(".tmp")
    tmp.write_text(json.dumps(records))
    tmp.replace(home.pids)


def alive(entry: dict[str, object]) -> bool:
    pid = entry.get("pid")
    return isinstance(pid, int) and start_time(pid) is not None and \
        start_time(pid) == entry.get("start")


def kill_group(pgid: int, grace: float = 3.0) -> None:
    """SIGTERM the group, then SIGKILL whatever is left after `grace` seconds."""
    try:
        os.killpg(pgid, signal.SIGTERM)
    except ProcessLookupError:
        return
    deadline = time.monotonic() + grace
    while time.monotonic() < deadline:
        if not group_alive(pgid):
            return
        time.sleep(0.05)
    try:
        os.killpg(pgid, signal.SIGKILL)
    except ProcessLookupError:
        pass


def sweep(home: AppHome) -> list[str]:
    """End every recorded process group of this workspace that is still alive."""
    ended: list[str] = []
    for role, entry in read_records(home).items():
        pgid = entry.get("pgid")
        if alive(entry) and isinstance(pgid, int) and pgid != os.getpgid(0):
            kill_group(pgid)
            ended.append(f"{role} (pid {entry['pid']})")
    home.pids.unlink(missing_ok=True)
    home.socket.unlink(missing_ok=True)
    return ended


def sweep_root(workspace_root: Path) -> list[str]:
    """`tack up` start: end the app sessions a killed Tack left in any of its workspaces."""
    ended: list[str] = []
    if not workspace_root.is_dir():
        return ended
    for pids in workspace_root.glob("*/.tack/app/pids.json"):
        home = AppHome(pids.parent.parent.parent)
        ended += [f"{home.workspace.name}: {what}" for what in sweep(home)]
    return ended
