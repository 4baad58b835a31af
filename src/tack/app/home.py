"""Where one workspace's app session keeps its state: `<workspace>/.tack/app/`.

The daemon's socket, pid records, ports, logs, snapshots and artifacts live here. The
directory ignores itself in git, so an agent's `git add -A` never commits a screenshot.
"""

from __future__ import annotations

import hashlib
import json
import os
import socket
from dataclasses import dataclass
from pathlib import Path

from tack.app.config import AppConfig
from tack.errors import TackError


class AppError(TackError):
    """The app, its browser or the daemon failed in a way a person or agent can act on."""

    code = "app_error"


# The run that owns a daemon; the daemon ends when this pid is gone.
OWNER_ENV = "TACK_APP_OWNER_PID"

# sockaddr_un holds 108 bytes; deep pytest or workspace paths overflow it.
_SOCKET_PATH_MAX = 100


@dataclass(frozen=True)
class Ports:
    app: int
    cdp: int
    browser: int


@dataclass(frozen=True)
class AppHome:
    workspace: Path

    @property
    def dir(self) -> Path:
        return self.workspace / ".tack" / "app"

    def ensure(self) -> Path:
        self.dir.mkdir(parents=True, exist_ok=True)
        ignore = self.dir / ".gitignore"
        if not ignore.exists():
            ignore.write_text("*\n")
        return self.dir

    @property
    def socket(self) -> Path:
        path = self.dir / "daemon.sock"
        if len(str(path)) <= _SOCKET_PATH_MAX:
            return path
        digest = hashlib.sha256(str(self.workspace.resolve()).encode()).hexdigest()[:16]
        # Not $TMPDIR: an agent's session may set its own, and every process (the run, the
        # daemon, the CLI in an agent's shell) must name the same socket.
        return Path("/tmp") / f"tack-app-{os.getuid()}" / f"{digest}.sock"

    @property
    def pids(self) -> Path:
        return self.dir / "pids.json"

    @property
    def config_file(self) -> Path:
        return self.dir / "config.json"

    @property
    def artifacts(self) -> Path:
        return self.dir / "artifacts"

    @property
    def snapshots(self) -> Path:
        return self.dir / "snapshots"

    def app_log(self) -> Path:
        return self.dir / "app.log"

    def daemon_log(self) -> Path:
        return self.dir / "daemon.log"

    def write_config(self, config: AppConfig) -> None:
        """The effective `app:` section, written by the run so the CLI needs no WORKFLOW.md."""
        self.ensure()
        self.config_file.write_text(config.model_dump_json(indent=2))

    def read_config(self) -> AppConfig:
        if self.config_file.is_file():
            return AppConfig.model_validate_json(self.config_file.read_text())
        workflow = self.workspace / "WORKFLOW.md"
        if workflow.is_file():
            from tack.workflow import load_workflow

            return load_workflow(workflow).config.app
        return AppConfig()

    def ports(self) -> Ports:
        """This workspace's ports, allocated once and kept, so a restarted app keeps its URL."""
        path = self.dir / "ports.json"
        if path.is_file():
            try:
                data = json.loads(path.read_text())
                return Ports(int(data["app"]), int(data["cdp"]), int(data["browser"]))
            except (ValueError, KeyError, TypeError):
                pass
        self.ensure()
        ports = Ports(*_free_ports(3))
        path.write_text(json.dumps(ports.__dict__))
        return ports

    def environment(self) -> dict[str, str]:
        """What a session's processes need to reach the app: ports and the workspace."""
        ports = self.ports()
        return {"TACK_APP_PORT": str(ports.app), "TACK_CDP_PORT": str(ports.cdp),
                "TACK_WORKSPACE": str(self.workspace)}


def _free_ports(count: int) -> list[int]:
    # Bound together so the kernel hands out distinct ports; released before use.
    sockets = []
    try:
        for _ in range(count):
            sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            sock.bind(("127.0.0.1", 0))
            sockets.append(sock)
        return [s.getsockname()[1] for s in sockets]
    finally:
        for sock in sockets:
            sock.close()


def port_in_use(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.settimeout(0.5)
        return sock.connect_ex(("127.0.0.1", port)) == 0


def expand(value: str, env: dict[str, str]) -> str:
    """`$TACK_APP_PORT`-style references in an `app:` value, from the workspace's environment."""
    for name in sorted(env, key=len, reverse=True):
        value = value.replace("${" + name + "}", env[name]).replace("$" + name, env[name])
    return value


def find_workspace(start: Path | None = None) -> Path:
    """The workspace the CLI runs in: $TACK_WORKSPACE, else the nearest folder with app state
    or a WORKFLOW.md."""
    named = os.environ.get("TACK_WORKSPACE")
    if named:
        return Path(named)
    here = (start or Path.cwd()).absolute()
    for folder in (here, *here.parents):
        if (folder / ".tack" / "app").is_dir() or (folder / "WORKFLOW.md").is_file():
            return folder
    raise AppError(f"`tack app` runs inside a workspace, but {here} has none: no $TACK_WORKSPACE, "
                   "no .tack/app/ and no WORKFLOW.md here or above. Run it from the workspace "
                   "Tack made for the issue, or from a repository with a WORKFLOW.md.")
