"""The CLI side of `tack app`: find the workspace's daemon, start it on first use, send one
request, return its answer. Also the run's hooks: start-of-run setup and end-of-run stop."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tack.app import door
from tack.app.config import AppConfig
from tack.app.home import OWNER_ENV, AppError, AppHome
from tack.app.procs import group_alive, kill_group, read_records, sweep

# Long enough for an app's own start_timeout plus a browser launch on a busy machine.
_SLACK_S = 90.0


@dataclass
class Reply:
    ok: bool
    text: str
    data: dict[str, Any]


def _request(home: AppHome, payload: dict[str, Any], timeout: float) -> dict[str, Any]:
    """One request over the daemon's socket, or through its door (app/door.py) when this
    process may not `connect()` (codex's sandbox with the network off)."""
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
        sock.settimeout(timeout)
        try:
            sock.connect(str(home.socket))
        except PermissionError:
            return door.request(home, payload, timeout)
        except FileNotFoundError:
            # A sandbox with its own /tmp (Tack's bwrap) hides the short socket path.
            if not door.door(home).exists():
                raise
            return door.request(home, payload, timeout)
        sock.sendall(json.dumps(payload).encode() + b"\n")
        chunks = []
        while True:
            chunk = sock.recv(65536)
            if not chunk:
                break
            chunks.append(chunk)
            if chunk.endswith(b"\n"):
                break
    answer = json.loads(b"".join(chunks) or b"{}")
    return answer if isinstance(answer, dict) else {}


def _connect_forbidden(home: AppHome) -> bool:
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
        try:
            sock.connect(str(home.socket))
        except PermissionError:
            return True
        except OSError:
            return False
    return False


def running(home: AppHome) -> bool:
    try:
        return bool(_request(home, {"cmd": "ping"}, 2).get("ok"))
    except (OSError, ValueError):
        return False


def ensure_daemon(home: AppHome, timeout: float = 30.0,
                  env: dict[str, str] | None = None) -> None:
    if running(home):
        return
    if _connect_forbidden(home):
        raise AppError(f"no app daemon answers for {home.workspace}, and this shell's sandbox "
                       "forbids network connections, so a daemon started here could not drive "
                       "a browser. Tack starts the daemon when the session starts if `app:` in "
                       "WORKFLOW.md sets `start` or `cdp`; outside the sandbox, `tack app "
                       "start` starts it by hand.")
    sweep(home)  # a daemon that died leaves its app and browser behind
    home.ensure()
    log = home.daemon_log().open("ab")
    env = dict(env if env is not None else os.environ)
    env.setdefault("PYTHONPATH", os.pathsep.join(p for p in sys.path if p))
    subprocess.Popen([sys.executable, "-m", "tack.app.daemon", str(home.workspace)],
                     cwd=home.workspace, env=env, stdin=subprocess.DEVNULL, stdout=log,
                     stderr=log, start_new_session=True)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if running(home):
            return
        time.sleep(0.05)
    tail = home.daemon_log().read_text(errors="replace").splitlines()[-20:]
    raise AppError(f"the app daemon for {home.workspace} did not start within {timeout:.0f} s; "
                   f"its log ({home.daemon_log()}) ends with:\n" + "\n".join(tail))


def call(workspace: Path, cmd: str, *, env: dict[str, str] | None = None, **args: Any) -> Reply:
    """Send one command to the workspace's daemon (starting it, with `env`, first); raise
    AppError on failure."""
    home = AppHome(workspace)
    if cmd == "stop":
        return Reply(True, stop(workspace), {})
    timeout = home.read_config().start_timeout_ms / 1000 + _SLACK_S
    try:
        try:  # a warm daemon answers at once: no liveness round trip first
            answer = _request(home, {"cmd": cmd, "args": args}, timeout)
        except (FileNotFoundError, ConnectionRefusedError):  # nobody listens: nothing was sent
            ensure_daemon(home, env=env)
            answer = _request(home, {"cmd": cmd, "args": args}, timeout)
    except (OSError, ValueError) as exc:
        raise AppError(f"the app daemon for {workspace} stopped answering ({exc}); see "
                       f"{home.daemon_log()} and retry (`tack app status`).") from exc
    if not answer.get("ok"):
        raise AppError(str(answer.get("error") or "the app daemon gave no answer"))
    return Reply(True, str(answer.get("text", "")), dict(answer.get("data") or {}))


def stop(workspace: Path) -> str:
    """End the workspace's daemon, app and browser; sweep what a dead daemon left."""
    home = AppHome(workspace)
    groups = [int(str(e.get("pgid"))) for e in read_records(home).values()]
    if running(home):
        try:
            _request(home, {"cmd": "stop"}, 30)
        except (OSError, ValueError):
            pass
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and any(group_alive(g) for g in groups):
            time.sleep(0.05)
    left = sweep(home)
    for pgid in groups:
        if group_alive(pgid) and pgid != os.getpgid(0):
            kill_group(pgid)
            left.append(f"process group {pgid}")
    return "app session stopped" + (f" (ended leftovers: {', '.join(left)})" if left else "")


def session_environment(workspace: Path, config: AppConfig) -> dict[str, str]:
    """Run start: write the effective `app:` config and return the variables a session needs
    (its ports, and the owner pid that ties the daemon's life to this run)."""
    home = AppHome(workspace)
    home.write_config(config)
    return {**home.environment(), OWNER_ENV: str(os.getpid())}
