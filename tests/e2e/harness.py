"""Drive Tack from outside: a real repo, WORKFLOW.md, the stub model server, `tack up` as a
subprocess, and its HTTP API. Every wait polls with a deadline."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any, Callable, TypeVar

import httpx
import yaml

from tests.conftest import GIT_ENV, git, run_tack

T = TypeVar("T")


def wait_for(predicate: Callable[[], T], timeout: float = 20.0, what: str = "condition") -> T:
    deadline = time.monotonic() + timeout
    last: Any = None
    while time.monotonic() < deadline:
        try:
            last = predicate()
        except (httpx.HTTPError, OSError, ValueError, KeyError) as exc:
            last = exc
        else:
            if last:
                return last
        time.sleep(0.05)
    raise AssertionError(f"timed out after {timeout}s waiting for {what}; last value: {last!r}")


async def await_until(predicate: Callable[[], T], timeout: float = 30.0,
                      what: str = "condition") -> T:
    """`wait_for` for async tests: polls without blocking the event loop under test."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        await asyncio.sleep(0.02)
    raise AssertionError(f"timed out after {timeout}s waiting for {what}")


BASE_CONFIG: dict[str, Any] = {
    "tracker": {"kind": "local"},
    "polling": {"interval_ms": 200},
    "workspace": {"root": "./workspaces", "repo": "./repo"},
    "agent": {"backend": "builtin", "max_concurrent_agents": 4, "max_turns": 2,
              "max_retry_backoff_ms": 300000},
    "builtin": {"model": "stub", "api": "chat"},
    "codex": {"stall_timeout_ms": 60000},
}

PROMPT = "Work on {{ issue.identifier }}: {{ issue.title }}\n{% if attempt %}attempt {{ attempt }}{% endif %}"


def deep_merge(base: dict[str, Any], extra: dict[str, Any]) -> dict[str, Any]:
    out = dict(base)
    for key, value in extra.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = deep_merge(out[key], value)
        else:
            out[key] = value
    return out


class Project:
    """A directory with `repo/` (real git), `WORKFLOW.md` and the local tracker."""

    def __init__(self, root: Path, stub_url: str, config: dict[str, Any] | None = None) -> None:
        self.root = root
        self.repo = root / "repo"
        self.repo.mkdir(parents=True)
        git(self.repo, "init", "-q", "-b", "main")
        (self.repo / "app.py").write_text("VALUE = 1\n")
        git(self.repo, "add", "-A")
        git(self.repo, "commit", "-q", "-m", "initial")
        self.stub_url = stub_url
        self.workflow = root / "WORKFLOW.md"
        self.write_workflow(config or {})

    def write_workflow(self, config: dict[str, Any], prompt: str = PROMPT) -> None:
        merged = deep_merge(BASE_CONFIG, {"builtin": {"base_url": self.stub_url}})
        merged = deep_merge(merged, config)
        self.workflow.write_text(f"---\n{yaml.safe_dump(merged)}---\n{prompt}\n")

    def tack(self, *args: str) -> subprocess.CompletedProcess[str]:
        return run_tack(*args, "--workflow", str(self.workflow), cwd=self.root)

    def add_issue(self, title: str, *extra: str) -> str:
        result = self.tack("issue", "add", title, *extra)
        assert result.returncode == 0, result.stderr
        return result.stdout.strip()

    def issue(self, ident: str) -> dict[str, Any]:
        result = self.tack("issue", "show", ident, "--json")
        assert result.returncode == 0, result.stderr
        return json.loads(result.stdout)

    def move(self, ident: str, state: str) -> None:
        result = self.tack("issue", "move", ident, state)
        assert result.returncode == 0, result.stderr


class TackUp:
    """`tack up --port 0` in a subprocess, with its API at `self.url`."""

    def __init__(self, project: Project, *extra: str, env: dict[str, str] | None = None) -> None:
        self.project = project
        self.info = project.root / ".tack" / "up.json"
        self.info.unlink(missing_ok=True)
        self.log_path = project.root / f"tack-up-{time.monotonic_ns()}.log"
        self._log = self.log_path.open("w")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "tack", "up", "--workflow", str(project.workflow), "--port", "0", *extra],
            cwd=project.root,
            env={**os.environ, **GIT_ENV, **(env or {})},
            stdout=self._log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        info = wait_for(self._read_info, 30, "tack up to start")
        self.url = info["url"].rstrip("/")
        self.client = httpx.Client(base_url=self.url, timeout=10)

    def _read_info(self) -> dict[str, Any] | None:
        if self.proc.poll() is not None:
            raise AssertionError(f"tack up exited early ({self.proc.returncode}):\n{self.output()}")
        if not self.info.exists():
            return None
        data = json.loads(self.info.read_text() or "null")
        return data if data and data.get("pid") == self.proc.pid else None

    def output(self) -> str:
        self._log.flush()
        return self.log_path.read_text()

    def state(self) -> dict[str, Any]:
        return self.client.get("/api/v1/state").raise_for_status().json()

    def detail(self, ident: str) -> dict[str, Any] | None:
        response = self.client.get(f"/api/v1/{ident}")
        return None if response.status_code == 404 else response.raise_for_status().json()

    def running_ids(self) -> set[str]:
        return {r["issue_identifier"] for r in self.state()["running"]}

    def retrying(self) -> dict[str, dict[str, Any]]:
        return {r["issue_identifier"]: r for r in self.state()["retrying"]}

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 30) -> int:
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
        try:
            code = self.proc.wait(timeout)
        finally:
            self.client.close()
            self._log.close()
        return code

    def kill9(self) -> None:
        os.kill(self.proc.pid, signal.SIGKILL)
        self.proc.wait(10)
        self.client.close()
        self._log.close()

    def __enter__(self) -> TackUp:
        return self

    def __exit__(self, *exc: object) -> None:
        if self.proc.poll() is None:
            self.stop()
        try:
            os.killpg(self.proc.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass
