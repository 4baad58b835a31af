"""Each agent starts as soon as its own workspace is ready: a workspace whose preparation is
stuck (its checkout, or its `after_create` hook) holds up no other issue's agent.

Real git, the real orchestrator, the built-in agent against the stub model server. The stuck
steps wait on named pipes the test opens when it has seen the other agents start.
"""

from __future__ import annotations

import asyncio
import json
import os
from pathlib import Path
from typing import Any

import yaml

from tack.orchestrator import Orchestrator
from tack.store import Store
from tack.testing import StubModelServer
from tack.workflow import WorkflowWatcher
from tests.conftest import git
from tests.e2e.harness import await_until

HANG = [{"hang": True}]


def _asked_for(server: StubModelServer, identifier: str) -> bool:
    """Whether the agent working on `identifier` has made its first model request."""
    return any(f"Work on {identifier}:" in json.dumps(r.body) for r in list(server.requests))


def _release(fifo: Path) -> None:
    # Opening the write end unblocks the reader (`cat`); closing it gives it end-of-file.
    with fifo.open("w"):
        pass


async def test_a_stuck_workspace_holds_up_no_other_agent(tmp_path: Path) -> None:
    repo = tmp_path / "repo"
    repo.mkdir()
    git(repo, "init", "-q", "-b", "main")
    (repo / "src").mkdir()
    (repo / "src" / "app.py").write_text("VALUE = 1\n")
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", "initial")
    checkout_gate, hook_gate = tmp_path / "checkout.fifo", tmp_path / "hook.fifo"
    os.mkfifo(checkout_gate)
    os.mkfifo(hook_gate)
    # The repository's own post-checkout hook: TACK-1's checkout waits on its pipe.
    hook = repo / ".git" / "hooks" / "post-checkout"
    hook.write_text('#!/bin/sh\ncase "$(git rev-parse --abbrev-ref HEAD)" in\n'
                    f'  tack/tack-1) cat "{checkout_gate}" > /dev/null ;;\nesac\n')
    hook.chmod(0o755)
    server = StubModelServer({"conversations": [{"steps": HANG}]})
    await server.start()
    cfg: dict[str, Any] = {
        "tracker": {"kind": "local"},
        "polling": {"interval_ms": 100},
        "workspace": {"root": "./ws", "repo": "./repo", "strategy": "worktree"},
        "hooks": {"after_create": f'[ "$TACK_ISSUE_IDENTIFIER" != TACK-2 ] || cat "{hook_gate}"',
                  "timeout_ms": 120_000},
        "agent": {"backend": "builtin", "max_turns": 1, "max_concurrent_agents": 5},
        "builtin": {"base_url": server.url, "model": "stub"},
    }
    wf = tmp_path / "WORKFLOW.md"
    wf.write_text(f"---\n{yaml.safe_dump(cfg)}---\nWork on {{{{ issue.identifier }}}}: go\n")
    watcher = WorkflowWatcher(wf)
    store = Store(watcher.current.store_path())
    orch = Orchestrator(watcher, store)
    tracker: Any = orch.tracker
    task = asyncio.create_task(orch.run())
    try:
        for n in range(1, 6):
            tracker.add_issue(f"issue {n}")  # TACK-1 .. TACK-5, dispatched in this order
        orch.request_refresh()
        others = ("TACK-3", "TACK-4", "TACK-5")
        await await_until(lambda: all(_asked_for(server, i) for i in others), 60,
                          "the agents whose workspaces are not stuck to start")
        # Their agents run while TACK-1's checkout and TACK-2's after_create still wait.
        assert not _asked_for(server, "TACK-1") and not _asked_for(server, "TACK-2")
        running = {e.identifier: e for e in orch.running.values()}
        assert running["TACK-1"].workspace is None and running["TACK-2"].workspace is None

        await asyncio.to_thread(_release, checkout_gate)
        await asyncio.to_thread(_release, hook_gate)
        await await_until(lambda: _asked_for(server, "TACK-1") and _asked_for(server, "TACK-2"),
                          60, "the held-up agents to start once released")
        for n in range(1, 6):
            path = tmp_path / "ws" / f"TACK-{n}"
            assert git(path, "rev-parse", "--abbrev-ref", "HEAD").strip() == f"tack/tack-{n}"
            assert (path / "src" / "app.py").read_text() == "VALUE = 1\n"
            assert git(path, "status", "--porcelain") == ""
    finally:
        orch.stop()
        await asyncio.wait_for(task, 60)
        store.close()
        await server.stop()
