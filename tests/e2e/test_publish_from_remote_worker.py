"""A hand-off whose workspace lives on another machine (a Temporal worker) is published from
the orchestrator's own repository, from the branch the worker pushed to the shared remote."""

from __future__ import annotations

import dataclasses
import subprocess
from pathlib import Path

import yaml

from tack.orchestrator import Orchestrator, handoff
from tack.orchestrator.state import RunningEntry
from tack.store import Store
from tack.workflow import WorkflowWatcher
from tests.conftest import git


async def test_a_workspace_on_another_machine_is_published_from_the_remote(
        tmp_path: Path) -> None:
    remote = tmp_path / "remote.git"
    subprocess.run(["git", "init", "-q", "--bare", str(remote)], check=True)
    repo = tmp_path / "repo"
    repo.mkdir()
    git(repo, "init", "-q", "-b", "main")
    (repo / "app.py").write_text("VALUE = 1\n")
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", "initial")
    git(repo, "remote", "add", "origin", str(remote))
    git(repo, "push", "-q", "origin", "main")
    # The worker's machine: its own clone, which commits on the issue branch and pushes.
    worker = tmp_path / "worker-clone"
    subprocess.run(["git", "clone", "-q", "-b", "main", str(remote), str(worker)], check=True)
    git(worker, "checkout", "-q", "-b", "tack/tack-1")
    (worker / "app.py").write_text("VALUE = 2\n")
    git(worker, "commit", "-qam", "VALUE is 2")
    git(worker, "push", "-q", "origin", "tack/tack-1")
    pushed = git(worker, "rev-parse", "HEAD").strip()

    config = {"tracker": {"kind": "local"}, "workspace": {"root": "./ws", "repo": "./repo"},
              "agent": {"backend": "builtin"},
              "builtin": {"base_url": "http://127.0.0.1:9/v1", "model": "stub"}}
    path = tmp_path / "WORKFLOW.md"
    path.write_text(f"---\n{yaml.safe_dump(config)}---\nWork on {{{{ issue.identifier }}}}\n")
    watcher = WorkflowWatcher(path)
    store = Store(watcher.current.store_path())
    try:
        orch = Orchestrator(watcher, store)
        issue = orch.tracker.add_issue("make VALUE 2")  # type: ignore[attr-defined]
        issue = dataclasses.replace(issue, state="Human Review")
        run_id = store.start_run(issue_id=issue.id, identifier=issue.identifier, attempt=None,
                                 issue_state=issue.state, issue_url=None)
        entry = RunningEntry(issue=issue, run_id=run_id, attempt=None,
                             workspace="/nonexistent/worker-b/TACK-1", worker="worker-b")
        assert handoff.handed_off(orch.workflow.config, entry)
        await orch.publisher.publish(entry)
        events = [e["message"] for e in orch.issue_detail("TACK-1")["recent_events"]]
    finally:
        store.close()
    assert "published origin/tack/tack-1" in events, events
    # The orchestrator's repository now has the worker's commit on the issue branch.
    assert git(repo, "rev-parse", "tack/tack-1").strip() == pushed
