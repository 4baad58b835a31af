"""`tack worker` subprocesses and a project wired to the Temporal test server."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import uuid
from pathlib import Path
from typing import Any

from tests.conftest import GIT_ENV, git
from tests.e2e.harness import Project, wait_for


def temporal_project(tmp_path: Path, stub_url: str, address: str,
                     config: dict[str, Any] | None = None) -> Project:
    """A Project whose repo has a shared bare remote `origin`, using the Temporal executor."""
    base: dict[str, Any] = {
        "executor": {"kind": "temporal", "address": address,
                     "task_queue": f"tack-test-{uuid.uuid4().hex[:8]}"},
        "agent": {"max_turns": 3, "max_retry_backoff_ms": 1000},
        "codex": {"stall_timeout_ms": 4000},
    }
    for key, value in (config or {}).items():
        base[key] = {**base.get(key, {}), **value}
    project = Project(tmp_path, stub_url, base)
    remote = tmp_path / "remote.git"
    git(tmp_path, "init", "-q", "--bare", "-b", "main", str(remote))
    git(project.repo, "remote", "add", "origin", str(remote))
    git(project.repo, "push", "-q", "origin", "main")
    return project


def clone(project: Project, name: str) -> Path:
    """A worker machine's own clone of the shared remote."""
    target = project.root / name
    git(project.root, "clone", "-q", str(project.root / "remote.git"), str(target))
    return target


class TackWorker:
    def __init__(self, project: Project, name: str, *, slots: int = 2,
                 after: TackWorker | None = None) -> None:
        """`after`: a stopped worker whose clone and workspace root this one takes over."""
        self.name = name
        self.repo = after.repo if after else clone(project, f"clone-{name}")
        self.root = after.root if after else project.root / f"workspaces-{name}"
        self.log_path = project.root / f"{name}.log"
        self._log = self.log_path.open("w")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "tack", "worker", "--executor", "temporal",
             "--slots", str(slots), "--workspace-root", str(self.root), "--repo", str(self.repo),
             "--name", name, "--workflow", str(project.workflow)],
            cwd=project.root, env={**os.environ, **GIT_ENV},
            stdout=self._log, stderr=subprocess.STDOUT, start_new_session=True,
        )

    def output(self) -> str:
        self._log.flush()
        return self.log_path.read_text()

    def wait_ready(self) -> None:
        def ready() -> bool:
            if self.proc.poll() is not None:
                raise AssertionError(f"worker {self.name} exited:\n{self.output()}")
            return "is polling" in self.output()

        wait_for(ready, 30, f"worker {self.name} to poll")

    def kill9(self) -> None:
        os.kill(self.proc.pid, signal.SIGKILL)
        self.proc.wait(10)

    def __exit__(self, *exc: object) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(20)
            except subprocess.TimeoutExpired:
                pass
        try:
            os.killpg(self.proc.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass
        self._log.close()
