"""`tack up` as a library call: load the workflow, open the store, serve the API, run the loop."""

from __future__ import annotations

import asyncio
import json
import os
import time
from pathlib import Path
from typing import Any, Callable

import structlog

from tack.app.run import sweep_leftovers
from tack.context.wiring import start_sidecar, stop_sidecar
from tack.errors import TackError
from tack.forge.intake import ReviewIntake
from tack.orchestrator.core import BackendFactory, Orchestrator
from tack.questions.park import QuestionDesk
from tack.skills.lock import SkillsHome
from tack.skills.materialise import verify_before_up
from tack.store import Store
from tack.workflow import WorkflowWatcher

log = structlog.get_logger("tack.service")


async def run_service(
    workflow_path: str | Path | None = None,
    *,
    port: int | None = None,
    backend_factory: BackendFactory | None = None,
    on_started: Callable[[Orchestrator, str | None], None] | None = None,
    install_signals: bool = True,
) -> None:
    """Run the orchestrator until SIGINT/SIGTERM (or `orch.stop()`)."""
    watcher = WorkflowWatcher(workflow_path or "WORKFLOW.md")
    wf = watcher.current
    for warning in wf.warnings:
        log.warning("workflow warning", warning=warning)
    store = Store(wf.store_path())
    try:
        store.acquire()
        orch = (Orchestrator(watcher, store, backend_factory=backend_factory)
                if backend_factory else Orchestrator(watcher, store))
        verify_before_up(SkillsHome(wf.base_dir))  # a tampered or missing skill stops `tack up`
        sweep_leftovers(wf.workspace_root())  # app sessions a killed Tack left behind
        problem = orch.preflight()
        if problem:
            raise TackError(f"Cannot start: {problem}")
        if install_signals:
            orch.install_signal_handlers()
        bind_port = port if port is not None else wf.config.server.port
        server_task: asyncio.Task[None] | None = None
        url: str | None = None
        info_path = wf.tack_dir / "up.json"
        if bind_port is not None:
            from tack.server import serve

            started: asyncio.Future[int] = asyncio.get_running_loop().create_future()
            host = wf.config.server.host
            server_task = asyncio.create_task(
                serve(orch, host=host, port=bind_port, token=wf.config.server.token, started=started)
            )
            first: list[asyncio.Future[Any]] = [started, server_task]
            await asyncio.wait(first, return_when=asyncio.FIRST_COMPLETED)
            if server_task.done():
                server_task.result()  # raises the bind error
            url = f"http://{host}:{started.result()}/"
            info_path.write_text(
                json.dumps({"pid": os.getpid(), "url": url, "port": started.result(),
                            "started_at": time.time()})
            )
        if on_started:
            on_started(orch, url)
        intake = ReviewIntake(lambda: orch.workflow.config, store.db,
                              redact=orch.redactor.text, on_merged=lambda pr: (
                                  orch.plugins.pull_request_merged(orch.workflow, pr)))
        orch.refresh_listeners.append(intake.request)
        intake_task = asyncio.create_task(intake.run())
        sidecar = start_sidecar(wf)  # `context:` configured: the org-context sidecar
        desk_task = asyncio.create_task(QuestionDesk(orch).run())  # answers to parked questions
        try:
            await orch.run()
        finally:
            stop_sidecar(sidecar)
            intake_task.cancel()
            desk_task.cancel()
            await asyncio.gather(intake_task, desk_task, return_exceptions=True)
            if server_task:
                server_task.cancel()
                await asyncio.gather(server_task, return_exceptions=True)
                info_path.unlink(missing_ok=True)
    finally:
        store.close()
