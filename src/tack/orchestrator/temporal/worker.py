"""`tack worker` as a library call: sweep leftover agents, connect, poll the task queue.

Each worker has its own workspace root and a number of agent slots (concurrent activities);
any number of them, on any machines, share one task queue.
"""

from __future__ import annotations

import asyncio
import os
import signal
import socket
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from pathlib import Path

import structlog
from temporalio.runtime import Runtime
from temporalio.worker import Worker
from temporalio.worker.workflow_sandbox import SandboxedWorkflowRunner, SandboxRestrictions

from tack.agents import build_backend
from tack.orchestrator.recovery import ready_workspaces
from tack.orchestrator.temporal.activities import BackendFactory, IssueActivities
from tack.orchestrator.temporal.client import connect
from tack.orchestrator.temporal.processes import ProcessRegistry
from tack.orchestrator.temporal.workflows import IssueRunWorkflow
from tack.workflow import WorkflowWatcher

log = structlog.get_logger("tack.temporal.worker")


def default_worker_name() -> str:
    return f"{socket.gethostname()}-{os.getpid()}"


async def run_worker(
    workflow_path: str | Path,
    *,
    slots: int,
    workspace_root: Path | None = None,
    repo: Path | None = None,
    name: str | None = None,
    backend_factory: BackendFactory = build_backend,
    on_ready: Callable[[str, list[int]], None] | None = None,
    install_signals: bool = True,
    runtime: Runtime | None = None,
) -> None:
    """Run until SIGINT/SIGTERM; running turns get the graceful-shutdown window to finish.

    `runtime`: the Temporal runtime to run on (`tack worker` gives it one of its own, see
    `temporal.runtime`); default: the SDK's process-wide one."""
    watcher = WorkflowWatcher(workflow_path)
    wf = watcher.current
    cfg = wf.config.executor
    worker_name = name or default_worker_name()
    root = (workspace_root or wf.workspace_root()).expanduser().absolute()
    registry = ProcessRegistry(root)
    swept = registry.sweep()
    client = await connect(cfg, base=wf.base_dir, identity=worker_name, runtime=runtime)
    acts = IssueActivities(
        watcher, worker=worker_name, workspace_root=root, repo=repo.absolute() if repo else None,
        registry=registry, backend_factory=backend_factory,
    )
    worker = Worker(
        client,
        task_queue=cfg.task_queue,
        workflows=[IssueRunWorkflow],
        # The workflow module's package imports the whole orchestrator; the workflow code
        # itself is deterministic, so tack's modules load once, outside the sandbox.
        workflow_runner=SandboxedWorkflowRunner(
            restrictions=SandboxRestrictions.default.with_passthrough_modules("tack")
        ),
        activities=[acts.prepare_workspace, acts.run_turn, acts.hand_off],
        # Activities are async; the pool only serves the SDK's sync fallbacks. Sized to the
        # slots anyway (threads start lazily) so the SDK does not warn on every start.
        activity_executor=ThreadPoolExecutor(max_workers=max(slots, 2)),
        max_concurrent_activities=slots,
        identity=worker_name,
        # Heartbeats reach the server promptly, so cancellation reaches the agent promptly.
        max_heartbeat_throttle_interval=timedelta(seconds=1),
        default_heartbeat_throttle_interval=timedelta(seconds=1),
        graceful_shutdown_timeout=timedelta(seconds=10),
        # A killed worker's cached workflows move to another worker after this long.
        sticky_queue_schedule_to_start_timeout=timedelta(seconds=2),
    )
    stop = asyncio.Event()
    if install_signals:
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
    log.info("worker started", worker=worker_name, task_queue=cfg.task_queue,
             address=cfg.address, slots=slots, workspace_root=str(root))
    try:
        # As `tack up` does at start: remount overlays, warm and collect shared checkouts, and
        # remove this worker's workspaces of issues that reached a terminal state meanwhile.
        await ready_workspaces(acts.tracker, acts.workspaces, wf.config.tracker)
        async with worker:
            if on_ready:
                on_ready(worker_name, swept)
            await stop.wait()
    finally:
        await acts.close()
