"""`tack up` with `agent.backend: codex`: the real codex app-server, against the stub model
server, runs an issue to handoff through the orchestrator; a hung codex is stall-killed and
its whole process tree is gone."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import psutil
import pytest

from tack.testing import StubModelServer
from tests.agents.codex_helpers import CODEX_BIN, codex_env, codex_home, requires_codex
from tests.conftest import git
from tests.e2e.harness import Project, TackUp, wait_for

pytestmark = [pytest.mark.slow, requires_codex]

EDIT = "sed -i 's/VALUE = 1/VALUE = 2/' app.py && git commit -qam 'VALUE is 2' && echo committed"
HANDOFF_STEPS = [
    {"tool_calls": [{"name": "exec_command", "arguments": {"cmd": EDIT}}]},
    {"tool_calls": [{"name": "tracker",
                     "arguments": {"action": "move", "state": "Human Review"}}]},
    {"text": "VALUE is now 2; handed off."},
]


def start(tmp_path: Path, steps: list[dict[str, Any]], cleanup: list[Any],
          codex: dict[str, Any] | None = None) -> tuple[Project, TackUp, Path]:
    server = StubModelServer({"conversations": [{"steps": steps}]})
    server.start_in_thread()
    cleanup.append(server)
    home = codex_home(tmp_path, server.url)
    config = {"agent": {"backend": "codex"},
              "codex": {"command": f"{CODEX_BIN} app-server", "read_timeout_ms": 20000,
                        **(codex or {})}}
    project = Project(tmp_path / "project", server.url, config)
    project.add_issue("make VALUE 2")
    up = TackUp(project, env=codex_env(home))
    cleanup.append(up)
    return project, up, home


def codex_commands(home: Path) -> list[str]:
    return [c for c in map(command_of, codex_processes(home)) if c]


def command_of(proc: psutil.Process) -> str:
    """Its command line; "" once it has ended (a process listed a moment ago may have)."""
    try:
        return " ".join(proc.cmdline())
    except psutil.Error:
        return ""


def codex_processes(home: Path) -> list[psutil.Process]:
    """Live (non-zombie) processes started with this test's CODEX_HOME, other than the
    `tack up` processes themselves (which carry it to pass it on)."""
    found = []
    for proc in psutil.process_iter():
        try:
            if proc.status() == psutil.STATUS_ZOMBIE or "tack" in proc.cmdline()[1:4]:
                continue
            if proc.environ().get("CODEX_HOME") == str(home):
                found.append(proc)
        except psutil.Error:
            continue
    return found


def alive(proc: psutil.Process) -> bool:
    try:
        return proc.is_running() and proc.status() != psutil.STATUS_ZOMBIE
    except psutil.Error:
        return False


def test_codex_runs_an_issue_to_handoff_and_tokens_show_in_the_state(
        tmp_path: Path, cleanup: list[Any]) -> None:
    project, up, home = start(tmp_path, HANDOFF_STEPS, cleanup)
    wait_for(lambda: project.issue("TACK-1")["state"] == "Human Review", 60, "handoff")
    workspace = project.root / "workspaces" / "TACK-1"
    assert (workspace / "app.py").read_text() == "VALUE = 2\n"
    totals = wait_for(lambda: (t := up.state()["codex_totals"])["total_tokens"] > 0 and t,
                      20, "token totals")
    assert totals["input_tokens"] > 0 and totals["output_tokens"] > 0
    detail = wait_for(lambda: (d := up.detail("TACK-1")) and d["runs"] and
                      d["runs"][-1]["ended_at"] and d, 20, "the run to end")
    run = detail["runs"][-1]
    # Reconciliation may stop the run as soon as it sees the handoff (the issue left the
    # active states) or the turn may finish first; both are a clean end.
    assert run["status"] in ("succeeded", "canceled"), run
    assert run["tokens"]["total_tokens"] > 0
    started = [e for e in detail["recent_events"] if e["event"] == "session_started"]
    assert started and started[0]["data"]["session_id"].startswith(
        started[0]["data"]["thread_id"] + "-")
    wait_for(lambda: not codex_processes(home), 30, "codex to exit after the run")


def test_a_hung_codex_is_stall_killed_and_its_process_tree_is_gone(
        tmp_path: Path, cleanup: list[Any]) -> None:
    steps = [{"tool_calls": [{"name": "exec_command",
                              "arguments": {"cmd": "sleep 300", "yield_time_ms": 250}}]},
             {"hang": True}]
    # Long enough for codex to start and run `sleep` on a loaded machine before it goes quiet.
    project, up, home = start(tmp_path, steps, cleanup, {"stall_timeout_ms": 4000})
    wait_for(lambda: any("sleep" in c for c in codex_commands(home)),
             30, "codex running `sleep 300`")
    stalled = codex_processes(home)
    entry = wait_for(lambda: up.retrying().get("TACK-1"), 30, "stalled run queued for retry")
    assert "stalled" in entry["error"]
    assert up.detail("TACK-1")["runs"][0]["status"] == "stalled"
    # These processes, not "no codex at all": the retry starts a new codex 10 s on.
    wait_for(lambda: not [p for p in stalled if alive(p)], 30,
             "the stalled process tree to be gone")


def test_moving_the_issue_out_of_active_states_stops_codex_and_its_tree(
        tmp_path: Path, cleanup: list[Any]) -> None:
    steps = [{"tool_calls": [{"name": "exec_command",
                              "arguments": {"cmd": "sleep 300", "yield_time_ms": 250}}]},
             {"hang": True}]
    project, up, home = start(tmp_path, steps, cleanup)
    wait_for(lambda: any("sleep" in c for c in codex_commands(home)),
             30, "codex running `sleep 300`")
    project.move("TACK-1", "Backlog")
    wait_for(lambda: "TACK-1" not in up.running_ids(), 20, "the run stopped")
    wait_for(lambda: not codex_processes(home), 20, "codex and its `sleep` gone")
    assert up.detail("TACK-1")["runs"][-1]["status"] == "canceled"
    assert not up.retrying().get("TACK-1")


def test_a_codex_crash_mid_turn_is_retried_and_the_retry_hands_off(
        tmp_path: Path, cleanup: list[Any]) -> None:
    # The first attempt hangs in a model call and its app-server is killed (a crash); the
    # retry's prompt says "attempt 1", which the script answers with the real work.
    server = StubModelServer({"conversations": [
        {"match": "attempt 1", "steps": HANDOFF_STEPS},
        {"match": "make VALUE 2", "steps": [{"hang": True}]},
    ]})
    server.start_in_thread()
    cleanup.append(server)
    home = codex_home(tmp_path, server.url)
    project = Project(tmp_path / "project", server.url, {
        "agent": {"backend": "codex", "max_retry_backoff_ms": 1000},
        "codex": {"command": f"{CODEX_BIN} app-server", "read_timeout_ms": 20000}})
    project.add_issue("make VALUE 2")
    up = TackUp(project, env=codex_env(home))
    cleanup.append(up)
    wait_for(lambda: any(r.step == 0 and r.conversation == "make VALUE 2"
                         for r in list(server.requests)), 60, "codex mid-turn")
    victims = [p for p in codex_processes(home) if "app-server" in command_of(p)]
    assert victims, codex_commands(home)
    for proc in victims:
        proc.kill()
    wait_for(lambda: project.issue("TACK-1")["state"] == "Human Review", 60,
             f"the retry handed off\n{up.output()}")
    detail = wait_for(lambda: (d := up.detail("TACK-1")) and len(d["runs"]) >= 2 and d, 20,
                      "two runs recorded")
    first = min(detail["runs"], key=lambda r: r["run_id"])
    assert first["status"] == "failed", first
    workspace = project.root / "workspaces" / "TACK-1"
    assert (workspace / "app.py").read_text() == "VALUE = 2\n"
    wait_for(lambda: not codex_processes(home), 20, "no codex left after the retry")


def test_codex_work_reaches_the_branch_under_the_default_sandbox(
        tmp_path: Path, cleanup: list[Any]) -> None:
    # Issue 23 item 1: under codex's default workspace-write sandbox the agent's own
    # `git commit` fails (the worktree's git directory is outside its writable roots). The
    # `commit` tool records its work host-side, and Tack commits what is left at the end.
    steps = [
        {"tool_calls": [{"name": "exec_command", "arguments": {
            "cmd": "sed -i 's/VALUE = 1/VALUE = 2/' app.py && git commit -qam 'by hand'"}}]},
        {"tool_calls": [{"name": "commit", "arguments": {"message": "VALUE is 2"}}]},
        {"tool_calls": [{"name": "exec_command", "arguments": {
            "cmd": "echo 'VALUE was 1' > NOTES.md"}}]},
        {"tool_calls": [{"name": "tracker",
                         "arguments": {"action": "move", "state": "Human Review"}}]},
        {"text": "VALUE is now 2; handed off."},
    ]
    project, up, _ = start(tmp_path, steps, cleanup)
    log = wait_for(lambda: len(entries := project_log(project)) == 2 and entries, 60,
                   f"two commits on the branch\n{up.output()}")
    assert log == ["tack: work in progress after turn 1 of TACK-1", "VALUE is 2"]
    assert git(project.repo, "show", "tack/tack-1:app.py") == "VALUE = 2\n"
    assert git(project.repo, "show", "tack/tack-1:NOTES.md") == "VALUE was 1\n"
    workspace = project.root / "workspaces" / "TACK-1"
    assert git(workspace, "status", "--porcelain") == ""
    # What codex sent back to the model for the agent's own `git commit`: the sandbox refused
    # it. (Codex reports such a refused command to the model only, with no item event.)
    server = cleanup[0]
    sent = [json.dumps(r.body if hasattr(r, "body") else r, default=str) for r in server.requests]
    assert any("Read-only file system" in body and "index.lock" in body for body in sent)


def project_log(project: Project) -> list[str]:
    return git(project.repo, "log", "--format=%s", "main..tack/tack-1").splitlines()
