"""A real Orchestrator (real WORKFLOW.md, Store, local tracker) served by the real HTTP server
on a loopback port from a background thread, plus seeding of large states: `running` entries
and thousands of finished runs written straight into the state db. Used by the server and
browser tests and by `bench/dashboard.py`."""

from __future__ import annotations

import asyncio
import random
import threading
import time
from pathlib import Path
from typing import Any

import yaml

from tack.agents.base import TokenUsage
from tack.orchestrator import Orchestrator
from tack.orchestrator.state import RetryEntry, RunningEntry
from tack.server import serve
from tack.store import Store
from tack.tracker.base import Issue
from tack.workflow import WorkflowWatcher

HANDOFF = "Human Review"


def write_workflow(root: Path, extra: dict[str, Any] | None = None) -> Path:
    repo = root / "repo"
    repo.mkdir(parents=True, exist_ok=True)
    config: dict[str, Any] = {
        "tracker": {"kind": "local", "handoff_state": HANDOFF},
        "workspace": {"root": "./workspaces", "repo": "./repo"},
        "agent": {"backend": "builtin", "max_concurrent_agents": 250},
        "builtin": {"model": "stub", "api": "chat", "base_url": "http://127.0.0.1:9/v1"},
    }
    config.update(extra or {})
    path = root / "WORKFLOW.md"
    path.write_text(f"---\n{yaml.safe_dump(config)}---\nWork on {{{{ issue.identifier }}}}\n")
    return path


class ServedOrchestrator:
    """`with ServedOrchestrator(root) as served:` → `served.url`, `served.orch`.

    The orchestrator's loop is not run (nothing polls or dispatches); tests shape its state
    with `seed_*`, which run on the server's own event loop like the orchestrator would.
    """

    def __init__(self, root: Path, *, token: str | None = None) -> None:
        self.root = root
        self.workflow = write_workflow(root)
        self.token = token
        self.url = ""
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)
        self._server: asyncio.Future[None] | None = None

    def __enter__(self) -> ServedOrchestrator:
        self._thread.start()
        self.orch = self.call(self._build)
        started = self.call(self._start)
        self.url = f"http://127.0.0.1:{started}"
        return self

    def __exit__(self, *exc: object) -> None:
        if self._server is not None:
            self._loop.call_soon_threadsafe(self._server.cancel)
        self.call(self._close)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(10)

    def call(self, fn: Any, *args: Any) -> Any:
        """Run `fn(*args)` (sync or async) on the server's loop and return its result."""

        async def run() -> Any:
            result = fn(*args)
            return await result if asyncio.iscoroutine(result) else result

        return asyncio.run_coroutine_threadsafe(run(), self._loop).result(60)

    async def _build(self) -> Orchestrator:
        watcher = WorkflowWatcher(self.workflow)
        store = Store(watcher.current.store_path())
        return Orchestrator(watcher, store)

    async def _start(self) -> int:
        started: asyncio.Future[int] = self._loop.create_future()
        self._server = asyncio.ensure_future(
            serve(self.orch, host="127.0.0.1", port=0, token=self.token, started=started)
        )
        return await started

    async def _close(self) -> None:
        if self._server is not None:
            await asyncio.gather(self._server, return_exceptions=True)
        self.orch.store.close()

    def changed(self) -> None:
        self.call(self.orch._notify)


def issue(n: int, state: str = "In Progress") -> Issue:
    return Issue(id=f"id-{n}", identifier=f"TACK-{n}", title=f"Synthetic issue number {n}", state=state)


def seed_running(orch: Orchestrator, count: int, *, first: int = 1) -> list[RunningEntry]:
    """`count` running sessions, each with a run row and a few events, as dispatch makes them."""
    entries = []
    for n in range(first, first + count):
        iss = issue(n)
        run_id = orch.store.start_run(issue_id=iss.id, identifier=iss.identifier, attempt=None,
                                      issue_state=iss.state)
        entry = RunningEntry(issue=iss, run_id=run_id, attempt=None, turn_count=1 + n % 3,
                             last_event="tool_call", last_event_at=time.time(),
                             last_message=f"shell: pytest -q tests/test_{n}.py",
                             tokens=TokenUsage(100 * n, 10 * n, 110 * n))
        orch.running[iss.id] = entry
        orch.claimed.add(iss.id)
        orch.store.add_event(run_id=run_id, issue_id=iss.id, identifier=iss.identifier,
                             kind="tool_call", message=entry.last_message,
                             data={"name": "shell", "arguments": {"cmd": "pytest -q"}})
        entries.append(entry)
    return entries


def seed_retry(orch: Orchestrator, n: int, error: str = "agent turn error: scripted failure") -> None:
    orch.retrying[f"id-{n}"] = RetryEntry(f"id-{n}", f"TACK-{n}", 2, time.time() + 120, error, "failure")


def seed_finished_runs(store: Store, count: int, *, first: int = 10_000, days: int = 14) -> None:
    """`count` finished runs over the last `days`, a mix of outcomes, hand-offs and retries."""
    rng = random.Random(7)
    now = time.time()
    db = store.db
    db.execute("BEGIN")
    try:
        for i in range(count):
            ident = f"TACK-{first + i // 2}"
            started = now - rng.uniform(60, days * 86400)
            status = rng.choice(("succeeded", "succeeded", "succeeded", "failed", "canceled", "timed_out"))
            error = None if status == "succeeded" else rng.choice(
                ("agent turn error: model request failed", "turn 2 timed out after 3600000 ms",
                 "canceled: operator"))
            tokens = rng.randint(1_000, 90_000)
            cur = db.execute(
                "INSERT INTO runs(issue_id, identifier, attempt, status, started_at, ended_at, error,"
                " turn_count, input_tokens, output_tokens, total_tokens) VALUES (?,?,?,?,?,?,?,?,?,?,?)",
                (f"id-{ident}", ident, None, status, started, started + 300, error, 3,
                 tokens - tokens // 10, tokens // 10, tokens),
            )
            run_id = int(cur.lastrowid or 0)
            for k in range(3):
                db.execute(
                    "INSERT INTO events(run_id, issue_id, identifier, at, kind, message) VALUES (?,?,?,?,?,?)",
                    (run_id, f"id-{ident}", ident, started + k, "message", f"step {k}"),
                )
            if status == "succeeded":
                db.execute(
                    "INSERT INTO events(run_id, issue_id, identifier, at, kind, message) VALUES (?,?,?,?,?,?)",
                    (run_id, f"id-{ident}", ident, started + 290, "orchestrator",
                     f"issue moved to {HANDOFF!r}; ending the session"),
                )
            else:
                db.execute(
                    "INSERT INTO events(run_id, issue_id, identifier, at, kind, message) VALUES (?,?,?,?,?,?)",
                    (None, f"id-{ident}", ident, started + 301, "retry_scheduled",
                     "retry #2 in 20000 ms (failure): " + (error or "")),
                )
        db.execute("COMMIT")
    except BaseException:
        db.execute("ROLLBACK")
        raise
