"""Under the Temporal executor, an agent that asks a person parks like a local one, and the
answer resumes the same conversation on another worker: worker a runs the first turn and
parks; it is gone before the answer; worker b continues from the stored messages (the stub's
`expect` holds that its first model request carries the answer)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tack.testing import StubModelServer
from tests.e2e.harness import TackUp, wait_for
from tests.e2e.test_questions import script
from tests.temporal.workers import TackWorker, temporal_project

pytestmark = pytest.mark.slow


def test_a_parked_temporal_run_resumes_on_another_worker(
    tmp_path: Path, temporal_server: str, cleanup: list[Any]
) -> None:
    stub = StubModelServer({"conversations": [{"steps": script("postgres")}]})
    stub.start_in_thread()
    cleanup.append(stub)
    project = temporal_project(tmp_path, stub.url, temporal_server,
                               {"polling": {"interval_ms": 200}})
    ident = project.add_issue("pick a cache backend")
    worker_a = TackWorker(project, "worker-a")
    cleanup.append(worker_a)
    worker_a.wait_ready()
    up = TackUp(project)
    cleanup.append(up)
    wait_for(lambda: project.issue(ident)["state"] == "Needs Input", 60, "the question to park")
    wait_for(lambda: not up.running_ids(), 20, "the slot to be freed")
    worker_a.kill9()
    worker_b = TackWorker(project, "worker-b")
    cleanup.append(worker_b)
    worker_b.wait_ready()
    assert project.tack("answer", ident, "--option", "2").returncode == 0
    wait_for(lambda: project.issue(ident)["state"] == "Human Review", 60, "the hand-off")
    runs = up.detail(ident)["runs"]
    assert [r["status"] for r in runs] == ["succeeded", "succeeded"], runs
    # Worker a is gone: the resumed turn ran in worker b's workspace.
    assert (worker_b.root / ident).is_dir()
    said = [e["message"] for e in up.detail(ident)["recent_events"]]
    assert any("on worker worker-b" in m for m in said), said
