"""SPEC §17.7 CLI and Host Lifecycle — one test per bullet, through the real `tack up`."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import GIT_ENV, run_tack
from tests.e2e.harness import wait_for

WORKFLOW = """---
tracker: {kind: local}
polling: {interval_ms: 200}
agent: {backend: builtin}
workspace: {root: ./ws}
---
Work on {{ issue.identifier }}
"""


def _start(args: list[str], cwd: Path) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "tack", "up", *args], cwd=cwd, env={**os.environ, **GIT_ENV},
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )


def _wait_up(cwd: Path, proc: subprocess.Popen[str]) -> None:
    info = cwd / ".tack" / "up.json"
    wait_for(lambda: proc.poll() is None and info.exists(), 30, "tack up serving")


def test_cli_accepts_a_positional_workflow_path_argument(tmp_path: Path) -> None:
    """CLI accepts a positional workflow path argument (`path-to-WORKFLOW.md`)"""
    project = tmp_path / "p"
    project.mkdir()
    (project / "custom.md").write_text(WORKFLOW)
    proc = _start([str(project / "custom.md"), "--port", "0"], cwd=tmp_path)
    _wait_up(project, proc)
    proc.send_signal(signal.SIGTERM)
    out, _ = proc.communicate(timeout=30)
    assert proc.returncode == 0, out


def test_cli_uses_cwd_workflow_md_when_no_path_argument_is_given(tmp_path: Path) -> None:
    """CLI uses `./WORKFLOW.md` when no workflow path argument is provided"""
    (tmp_path / "WORKFLOW.md").write_text(WORKFLOW)
    proc = _start(["--port", "0"], cwd=tmp_path)
    _wait_up(tmp_path, proc)
    proc.send_signal(signal.SIGTERM)
    proc.communicate(timeout=30)
    assert proc.returncode == 0


@pytest.mark.parametrize("args", [["nope/WORKFLOW.md"], []], ids=["explicit", "default"])
def test_cli_errors_on_nonexistent_explicit_path_or_missing_default(tmp_path: Path, args: list[str]) -> None:
    """CLI errors on nonexistent explicit workflow path or missing default `./WORKFLOW.md`"""
    result = run_tack("up", *args, cwd=tmp_path)
    assert result.returncode == 2
    assert "WORKFLOW.md" in result.stderr
    assert "tack init" in result.stderr
    assert "Traceback" not in result.stderr


def test_cli_surfaces_startup_failure_cleanly(tmp_path: Path) -> None:
    """CLI surfaces startup failure cleanly"""
    (tmp_path / "WORKFLOW.md").write_text(WORKFLOW.replace("kind: local", "kind: jira"))
    result = run_tack("up", cwd=tmp_path)
    assert result.returncode == 2
    assert "tracker.kind" in result.stderr and "jira" in result.stderr
    assert "Traceback" not in result.stderr


def test_cli_exits_with_success_when_it_starts_and_shuts_down_normally(tmp_path: Path) -> None:
    """CLI exits with success when application starts and shuts down normally"""
    (tmp_path / "WORKFLOW.md").write_text(WORKFLOW)
    proc = _start(["--port", "0"], cwd=tmp_path)
    _wait_up(tmp_path, proc)
    proc.send_signal(signal.SIGINT)
    out, _ = proc.communicate(timeout=30)
    assert proc.returncode == 0, out
    assert "Traceback" not in out
    assert not (tmp_path / ".tack" / "up.json").exists()


def test_cli_exits_nonzero_when_startup_fails_or_the_host_exits_abnormally(tmp_path: Path) -> None:
    """CLI exits nonzero when startup fails or the host process exits abnormally"""
    (tmp_path / "WORKFLOW.md").write_text(WORKFLOW)
    blocker = _start(["--port", "0"], cwd=tmp_path)
    _wait_up(tmp_path, blocker)
    try:
        second = run_tack("up", cwd=tmp_path)  # the store is held: startup must fail
        assert second.returncode != 0
        assert "already running" in second.stderr
    finally:
        blocker.kill()
        blocker.communicate(timeout=30)
    assert blocker.returncode != 0


def test_port_in_use_is_a_clear_startup_error(tmp_path: Path) -> None:
    """Bad CLI input: a busy or impossible port is reported without a traceback."""
    import socket

    (tmp_path / "WORKFLOW.md").write_text(WORKFLOW)
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        result = run_tack("up", "--port", str(busy.getsockname()[1]), cwd=tmp_path)
    assert result.returncode == 2
    assert "Cannot listen" in result.stderr and "Traceback" not in result.stderr
    result = run_tack("up", "--port", "99999", cwd=tmp_path)
    assert result.returncode == 2 and "Traceback" not in result.stderr
