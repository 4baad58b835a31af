"""Bad input and faults of `tack app` give one clear message and exit 2 (issue 14 §7)."""

from __future__ import annotations

import json
import socket

from tack.app.home import AppHome
from tests.app.conftest import MakeWorkspace
from tests.conftest import run_tack


def test_unready_app_error_carries_the_last_log_lines(app_workspace: MakeWorkspace) -> None:
    ws = app_workspace(start="python3 -c \"print('booting the counter', flush=True); "
                             "import time; time.sleep(60)\"",
                       ready="http://127.0.0.1:$TACK_APP_PORT/health", start_timeout_ms=1500)
    result = run_tack("app", "start", cwd=ws)
    assert result.returncode == 2, result.stdout
    assert "not ready after 1500 ms" in result.stderr
    assert "booting the counter" in result.stderr
    assert "Traceback" not in result.stderr


def test_app_that_exits_is_reported_with_its_output(app_workspace: MakeWorkspace) -> None:
    ws = app_workspace(start="echo 'SyntaxError: bad config' && exit 3")
    result = run_tack("app", "start", cwd=ws)
    assert result.returncode == 2
    assert "exited with code 3" in result.stderr and "SyntaxError: bad config" in result.stderr


def test_a_taken_port_is_named(app_workspace: MakeWorkspace) -> None:
    ws = app_workspace()
    port = AppHome(ws).ports().app
    with socket.socket() as squatter:
        squatter.bind(("127.0.0.1", port))
        squatter.listen()
        result = run_tack("app", "start", cwd=ws)
    assert result.returncode == 2
    assert f"port {port}" in result.stderr and "taken" in result.stderr


def test_missing_chromium_says_how_to_install_it(app_workspace: MakeWorkspace) -> None:
    ws = app_workspace(chromium="/nonexistent/chromium")
    result = run_tack("app", "snapshot", cwd=ws)
    assert result.returncode == 2
    assert "Chromium is missing at /nonexistent/chromium" in result.stderr
    assert "apt-get install" in result.stderr and "tack doctor" in result.stderr


def test_outside_a_workspace_is_a_clear_error(tmp_path: object) -> None:
    result = run_tack("app", "status", cwd=tmp_path, env={"TACK_WORKSPACE": ""})  # type: ignore[arg-type]
    assert result.returncode == 2
    assert "runs inside a workspace" in result.stderr


def test_doctor_says_how_to_install_a_missing_chromium(app_workspace: MakeWorkspace) -> None:
    ws = app_workspace(chromium="/nonexistent/chromium")
    result = run_tack("doctor", "--json", "--workflow", str(ws / "WORKFLOW.md"), cwd=ws)
    (check,) = [c for c in json.loads(result.stdout)["checks"] if c["name"] == "chromium"]
    assert not check["ok"] and "/nonexistent/chromium" in check["detail"]
    assert "apt-get install -y --no-install-recommends chromium" in check["detail"]


def test_a_daemon_nobody_owns_stops_when_idle(app_workspace: MakeWorkspace) -> None:
    from tack.app.procs import group_alive, read_records
    from tests.e2e.harness import wait_for

    ws = app_workspace()
    result = run_tack("app", "status", cwd=ws, env={"TACK_APP_IDLE_S": "1",
                                                    "TACK_APP_OWNER_PID": ""})
    assert result.returncode == 0 and "app: stopped" in result.stdout
    pgid = int(str(read_records(AppHome(ws))["daemon"]["pgid"]))
    wait_for(lambda: not group_alive(pgid), 20, "the idle daemon to stop")


def test_doctor_says_how_to_install_a_missing_ffmpeg(app_workspace: MakeWorkspace,
                                                     tmp_path: object) -> None:
    ws = app_workspace()
    result = run_tack("doctor", "--json", "--workflow", str(ws / "WORKFLOW.md"), cwd=ws,
                      env={"PATH": str(tmp_path)})
    (check,) = [c for c in json.loads(result.stdout)["checks"] if c["name"] == "ffmpeg"]
    assert not check["ok"] and "`tack app record`" in check["detail"]
    assert "apt-get install -y --no-install-recommends ffmpeg" in check["detail"]
