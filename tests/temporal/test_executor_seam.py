"""The executor seam without agents: config, Symphony's backoff as Temporal's retry policy,
process sweeping, worker CLI errors, and one workflow per issue against a real server."""

from __future__ import annotations

import contextlib
import os
import signal
import sqlite3
import subprocess
import sys
import uuid
from pathlib import Path

import pytest

from tack.errors import TackError, WorkflowError
from tack.orchestrator import scheduling
from tack.orchestrator.executor import LocalExecutor, build_executor
from tack.orchestrator.temporal.client import connect
from tack.orchestrator.temporal.dispatch import TemporalExecutor, start_issue_run
from tack.orchestrator.temporal.processes import ProcessRegistry
from tack.orchestrator.temporal.types import RunInput
from tack.orchestrator.temporal.workflows import symphony_backoff
from tack.workflow import load_workflow
from tack.workflow.config import ExecutorConfig
from tests.conftest import GIT_ENV, run_tack
from tests.e2e.harness import wait_for
from tests.temporal.conftest import _free_port, temporal_json


def write_workflow(tmp_path: Path, executor: str) -> Path:
    path = tmp_path / "WORKFLOW.md"
    path.write_text(f"---\ntracker:\n  kind: local\n{executor}---\nWork on {{{{ issue.title }}}}\n")
    return path


def test_the_local_executor_is_the_default_and_temporal_is_opt_in(tmp_path: Path) -> None:
    assert isinstance(build_executor(load_workflow(write_workflow(tmp_path, "")).config.executor),
                      LocalExecutor)
    wf = load_workflow(write_workflow(
        tmp_path, "executor:\n  kind: temporal\n  address: temporal.internal:7233\n"
                  "  task_queue: agents\n"))
    executor = build_executor(wf.config.executor)
    assert isinstance(executor, TemporalExecutor)
    assert (executor.config.address, executor.config.task_queue) == ("temporal.internal:7233", "agents")


def test_an_unknown_executor_kind_names_the_key(tmp_path: Path) -> None:
    with pytest.raises(WorkflowError) as info:
        load_workflow(write_workflow(tmp_path, "executor:\n  kind: nomad\n"))
    assert "executor.kind" in info.value.message


@pytest.mark.parametrize("cap_ms", [300_000, 45_000, 1_000])
def test_temporal_retries_follow_symphony_backoff(cap_ms: int) -> None:
    policy = symphony_backoff(cap_ms)
    initial = policy.initial_interval.total_seconds() * 1000
    cap = policy.maximum_interval.total_seconds() * 1000 if policy.maximum_interval else 0
    for attempt in range(1, 9):
        temporal_ms = min(initial * policy.backoff_coefficient ** (attempt - 1), cap)
        assert temporal_ms == scheduling.failure_backoff_ms(attempt, cap_ms) or cap_ms < 10_000
    assert policy.maximum_attempts == 0  # like Symphony: retried until it works or is stopped
    assert "TackConfigError" in (policy.non_retryable_error_types or [])


async def test_an_unset_api_key_variable_is_a_clear_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("TACK_TEST_TEMPORAL_KEY", raising=False)
    with pytest.raises(TackError) as info:
        await connect(ExecutorConfig(kind="temporal", api_key="$TACK_TEST_TEMPORAL_KEY"),
                      base=Path("."))
    assert "executor.api_key" in info.value.message
    assert "$TACK_TEST_TEMPORAL_KEY" in info.value.message


def test_sweep_kills_groups_of_dead_workers_and_spares_live_ones(tmp_path: Path) -> None:
    dead_owner = subprocess.Popen(["true"])
    dead_owner.wait()
    live_owner = subprocess.Popen(["sleep", "300"])
    orphan = subprocess.Popen(["sleep", "300"], start_new_session=True)
    guarded = subprocess.Popen(["sleep", "300"], start_new_session=True)
    try:
        registry = ProcessRegistry(tmp_path)
        registry.directory.mkdir(parents=True)
        (registry.directory / str(orphan.pid)).write_text(str(dead_owner.pid))
        (registry.directory / str(guarded.pid)).write_text(str(live_owner.pid))
        assert registry.sweep() == [orphan.pid]
        assert orphan.wait(20) < 0
        assert guarded.poll() is None
        assert sorted(p.name for p in registry.directory.iterdir()) == [str(guarded.pid)]
    finally:
        for proc in (live_owner, orphan, guarded):
            proc.kill()
            proc.wait()


def test_worker_cli_explains_a_wrong_executor_and_an_unreachable_server(tmp_path: Path) -> None:
    result = run_tack("worker", "--executor", "local", cwd=tmp_path)
    assert result.returncode == 2
    assert "only the `temporal` executor has workers" in result.stderr
    path = write_workflow(tmp_path, f"executor:\n  kind: temporal\n  address: 127.0.0.1:{_free_port()}\n")
    result = run_tack("worker", "--workflow", str(path), "--workspace-root", str(tmp_path / "ws"),
                      cwd=tmp_path, timeout=60)
    assert result.returncode == 2, result.stderr
    assert "Cannot reach Temporal at 127.0.0.1:" in result.stderr
    assert "Traceback" not in result.stderr


# `tack worker` with the count of the process's threads printed when the interpreter starts
# to shut down (atexit runs before finalisation).
_COUNT_THREADS_AT_EXIT = (
    "import atexit, os, sys\n"
    "atexit.register(lambda: print('threads at exit:', len(os.listdir('/proc/self/task')),"
    " file=sys.stderr))\n"
    "from tack.cli import main\n"
    "main()\n"
)


def test_worker_cli_exits_2_on_every_run_with_no_temporal_thread_left(tmp_path: Path) -> None:
    """The SDK's runtime threads used to outlive `tack worker` and race interpreter shutdown:
    about one run in three under load aborted (exit 134, `PyGILState_Release`) after the
    right error. Ten runs at once (the load that showed it) all exit 2 with the error, and
    only the main thread is left when shutdown starts."""
    path = write_workflow(tmp_path, f"executor:\n  kind: temporal\n  address: 127.0.0.1:{_free_port()}\n")
    runs = [
        subprocess.Popen(
            [sys.executable, "-c", _COUNT_THREADS_AT_EXIT, "worker", "--workflow", str(path),
             "--workspace-root", str(tmp_path / f"ws-{n}")],
            cwd=tmp_path, env={**os.environ, **GIT_ENV}, text=True,
            stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        )
        for n in range(10)
    ]
    for proc in runs:
        _, stderr = proc.communicate(timeout=120)
        assert proc.returncode == 2, stderr
        assert "Cannot reach Temporal at 127.0.0.1:" in stderr and "Traceback" not in stderr
        assert "threads at exit: 1\n" in stderr, stderr


def test_tack_up_on_the_temporal_executor_leaves_no_temporal_thread_at_exit(
    git_repo: Path,
) -> None:
    """`tack up`'s Temporal client ran on the SDK's default runtime, whose threads were alive
    at interpreter shutdown (the race that aborts `tack worker`); its own runtime is freed."""
    write_workflow(git_repo, f"executor:\n  kind: temporal\n  address: 127.0.0.1:{_free_port()}\n"
                             "polling:\n  interval_ms: 500\n")
    assert run_tack("issue", "add", "connect please", cwd=git_repo).returncode == 0
    proc = subprocess.Popen(
        [sys.executable, "-c", _COUNT_THREADS_AT_EXIT, "up"], cwd=git_repo,
        env={**os.environ, **GIT_ENV}, text=True, stdout=subprocess.PIPE,
        stderr=subprocess.PIPE, start_new_session=True,
    )
    try:
        def failed_to_connect() -> bool:
            if proc.poll() is not None:
                raise AssertionError(f"tack up exited early: {proc.communicate()}")
            try:
                db = sqlite3.connect(f"file:{git_repo / '.tack' / 'state.db'}?mode=ro", uri=True)
                with contextlib.closing(db):
                    errors = [r[0] or "" for r in db.execute("SELECT error FROM runs")]
            except sqlite3.Error:  # not created yet
                return False
            return any("Cannot reach Temporal" in e for e in errors)

        wait_for(failed_to_connect, 60, "a run that tried to reach Temporal")
        proc.send_signal(signal.SIGTERM)
        _, stderr = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
    assert proc.returncode == 0, stderr
    assert "threads at exit: 1\n" in stderr, stderr[-2000:]


async def test_two_dispatches_of_one_issue_meet_the_same_execution(temporal_server: str) -> None:
    client = await connect(ExecutorConfig(kind="temporal", address=temporal_server), base=Path("."))
    issue_id = str(uuid.uuid4())
    queue = f"nobody-polls-{uuid.uuid4().hex[:6]}"
    inp = RunInput(issue_id=issue_id, identifier="TACK-9", attempt=None, run_id=1, max_turns=1,
                   turn_timeout_ms=60_000, stall_timeout_ms=5_000, max_retry_backoff_ms=1_000,
                   hooks_timeout_ms=1_000)
    first = await start_issue_run(client, queue, inp)
    second = await start_issue_run(client, queue, inp)
    try:
        assert first.id == second.id == f"tack-{issue_id}"
        assert first.result_run_id == second.result_run_id
        listed = temporal_json("workflow", "list", "--query", f"WorkflowId='tack-{issue_id}'",
                               address=temporal_server)
        assert isinstance(listed, list) and len(listed) == 1
    finally:
        await first.terminate("test over")
