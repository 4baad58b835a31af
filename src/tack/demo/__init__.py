"""`tack demo`: the whole loop, offline, in well under a minute.

A throw-away repository with three real bugs, three issues on the local tracker, the built-in
agent on the stub model server replaying recorded fixes, the dashboard on 127.0.0.1. It ends
with each issue handed off and a branch per issue whose tests pass.
"""

from __future__ import annotations

import asyncio
import importlib.util
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.live import Live
from rich.table import Table

from tack.demo.repo_files import BUGS, FILES

HANDOFF = "Human Review"
DEADLINE_S = 90

_GIT_ENV = {
    "GIT_AUTHOR_NAME": "Tack Demo",
    "GIT_AUTHOR_EMAIL": "demo@tack.invalid",
    "GIT_COMMITTER_NAME": "Tack Demo",
    "GIT_COMMITTER_EMAIL": "demo@tack.invalid",
}

WORKFLOW_TEMPLATE = """---
# The demo's workflow: local tracker, built-in agent on the bundled stub model.
tracker:
  kind: local
  active_states: [Todo, In Progress]
  terminal_states: [Done, Closed, Cancelled]
  handoff_state: {handoff}
polling:
  interval_ms: 500
workspace:
  root: ./workspaces
  repo: ./repo
hooks:
  after_create: |
    echo "workspace ready for $TACK_ISSUE_IDENTIFIER"
agent:
  backend: builtin
  max_concurrent_agents: 3
  max_turns: 3
builtin:
  base_url: {base_url}
  model: stub
  api: chat
codex:
  stall_timeout_ms: 30000
# Off: the demo must also run from a bare `pipx install tack-harness`, where bubblewrap may
# be missing; real workflows get the sandbox by default (docs/sandbox.md).
sandbox:
  enabled: false
---
You are working on issue {{{{ issue.identifier }}}}: {{{{ issue.title }}}}

{{{{ issue.description }}}}

Fix the bug on this branch, run the failing test to prove the fix, commit, then move the issue
to "{handoff}" with the tracker tool and leave a short comment.
{{% if attempt %}}This is attempt {{{{ attempt }}}}; continue from the workspace as it is.{{% endif %}}
"""


def run_tests_argv(python: str, test: str) -> list[str]:
    """pytest when it is installed; the standard library's unittest otherwise, so the demo
    also runs from a bare `pipx install tack-harness`."""
    if importlib.util.find_spec("pytest") is not None:
        return [python, "-m", "pytest", "-q", "-p", "no:cacheprovider", test]
    return [python, "-m", "unittest", "-q", test.removesuffix(".py").replace("/", ".")]


def stub_script(python: str) -> dict[str, object]:
    """Recorded fixes, one conversation per issue, matched by identifier."""
    conversations = []
    for n, (title, _desc, _prio, test, path, old, new, why) in enumerate(BUGS, start=1):
        ident = f"TACK-{n}"
        conversations.append(
            {
                "match": rf"{ident}\b",
                "steps": [
                    {
                        "text": f"Starting on {ident}. Reading the code first.",
                        "tool_calls": [
                            {"name": "tracker", "arguments": {"action": "move", "state": "In Progress"}},
                            {"name": "read_file", "arguments": {"path": path}},
                        ],
                    },
                    {
                        "text": f"Found it: {why}.",
                        "tool_calls": [
                            {"name": "edit_file", "arguments": {"path": path, "old": old, "new": new}}
                        ],
                    },
                    {
                        "tool_calls": [
                            {"name": "shell", "arguments": {"command": " ".join(run_tests_argv(python, test))}}
                        ]
                    },
                    {
                        "tool_calls": [
                            {"name": "commit", "arguments": {"message": f"Fix {ident}: {title}"}}
                        ]
                    },
                    {
                        "tool_calls": [
                            {
                                "name": "tracker",
                                "arguments": {
                                    "action": "comment",
                                    "body": f"Fixed: {why}. `{test}` passes.",
                                },
                            },
                            {"name": "tracker", "arguments": {"action": "move", "state": HANDOFF}},
                        ]
                    },
                    {"text": f"{ident} is fixed and committed; {test} passes. Handed off for review."},
                ],
            }
        )
    return {"conversations": conversations}


@dataclass
class DemoResult:
    identifier: str
    state: str
    branch: str
    commit: str
    tests_pass: bool
    tokens: int


def _git(cwd: Path, *args: str) -> str:
    import os

    return subprocess.run(
        ["git", *args], cwd=cwd, env={**os.environ, **_GIT_ENV}, check=True,
        capture_output=True, text=True,
    ).stdout.strip()


def build_demo(root: Path, base_url: str) -> Path:
    """Write the repo, WORKFLOW.md and the issues; return the WORKFLOW.md path."""
    from tack.tracker.local import LocalTracker
    from tack.workflow import load_workflow

    repo = root / "repo"
    for rel, text in FILES.items():
        target = repo / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(text)
    _git(repo, "init", "-q", "-b", "main")
    _git(repo, "add", "-A")
    _git(repo, "commit", "-q", "-m", "textkit with three bugs")
    wf_path = root / "WORKFLOW.md"
    wf_path.write_text(WORKFLOW_TEMPLATE.format(handoff=HANDOFF, base_url=base_url))
    wf = load_workflow(wf_path)
    tracker = LocalTracker.from_config(wf.config.tracker, tack_dir=wf.tack_dir)
    for title, desc, prio, *_ in BUGS:
        tracker.add_issue(title, description=desc, priority=prio)
    return wf_path


def run_demo(*, directory: Path | None = None, keep: bool = False, port: int = 0) -> bool:
    from tack.testing import StubModelServer

    console = Console(stderr=True)
    root = Path(directory) if directory else Path(tempfile.mkdtemp(prefix="tack-demo-"))
    root.mkdir(parents=True, exist_ok=True)
    started = time.monotonic()
    stub = StubModelServer(stub_script(sys.executable))
    stub.start_in_thread()
    try:
        wf_path = build_demo(root, stub.url)
        console.print(f"[bold]Tack demo[/] in {root}")
        console.print(f"Stub model server: {stub.url}")
        ok = asyncio.run(_run(wf_path, port, console))
        results = verify(wf_path)
        elapsed = time.monotonic() - started
        _print_summary(console, results, elapsed)
        ok = ok and all(r.state == HANDOFF and r.tests_pass for r in results)
        console.print(
            "[bold green]Demo passed.[/]" if ok else "[bold red]Demo failed.[/]",
            f"({elapsed:.1f} s)",
        )
        return ok
    finally:
        stub.stop_thread()
        if not keep and directory is None:
            shutil.rmtree(root, ignore_errors=True)
        elif keep:
            console.print(f"Kept {root}")


async def _run(wf_path: Path, port: int, console: Console) -> bool:
    from tack.logs import configure_logging
    from tack.orchestrator import Orchestrator
    from tack.orchestrator.service import run_service

    configure_logging("warning")
    holder: dict[str, Orchestrator] = {}

    def on_started(orch: Orchestrator, url: str | None) -> None:
        holder["orch"] = orch
        if url:
            console.print(f"Dashboard: {url}")

    service = asyncio.create_task(run_service(wf_path, port=port, on_started=on_started))
    deadline = time.monotonic() + DEADLINE_S
    done = False
    with Live(_table({}, None), console=console, refresh_per_second=8, transient=False) as live:
        while time.monotonic() < deadline and not service.done():
            await asyncio.sleep(0.2)
            orch = holder.get("orch")
            if orch is None:
                continue
            states = {i.identifier: i for i in orch.tracker.list_issues()}  # type: ignore[attr-defined]
            live.update(_table(states, orch))
            if states and all(i.state == HANDOFF for i in states.values()) and not orch.running:
                done = True
                break
    orch = holder.get("orch")
    if orch is not None:
        orch.stop()
    await asyncio.gather(service, return_exceptions=False)
    if not done:
        console.print("[red]The demo did not finish in time.[/]")
    return done


def _table(states: dict[str, Any], orch: object | None) -> Table:
    table = Table(title="Issues", expand=False)
    for col in ("issue", "state", "agent", "last event", "tokens"):
        table.add_column(col)
    running = {e.identifier: e for e in getattr(orch, "running", {}).values()} if orch else {}
    for ident, issue in sorted(states.items()):
        entry = running.get(ident)
        table.add_row(
            ident,
            issue.state,
            f"turn {entry.turn_count}" if entry else "-",
            (entry.last_message[:60] if entry else ""),
            str(entry.tokens.total_tokens) if entry else "",
        )
    return table


def verify(wf_path: Path) -> list[DemoResult]:
    """Each issue's branch has a commit and its test passes in its worktree."""
    from tack.store import Store
    from tack.tracker.local import LocalTracker
    from tack.workflow import load_workflow
    from tack.workspace import WorkspaceManager

    wf = load_workflow(wf_path)
    tracker = LocalTracker.from_config(wf.config.tracker, tack_dir=wf.tack_dir)
    manager = WorkspaceManager(
        root=wf.workspace_root(), repo=wf.repo_dir(), workspace=wf.config.workspace, hooks=wf.config.hooks
    )
    store = Store(wf.store_path())
    results = []
    try:
        for n, (_title, _d, _p, test, *_rest) in enumerate(BUGS, start=1):
            issue = tracker.get(f"TACK-{n}")
            branch = manager.branch_for(issue)
            path = manager.path_for(issue.identifier)
            try:
                commit = _git(wf.repo_dir(), "log", "-1", "--format=%h %s", branch)
            except subprocess.CalledProcessError:
                commit = "(no branch)"
            passed = path.is_dir() and subprocess.run(
                run_tests_argv(sys.executable, test),
                cwd=path, capture_output=True, text=True,
            ).returncode == 0
            tokens = sum(r["total_tokens"] for r in store.runs_for(issue.identifier))
            results.append(DemoResult(issue.identifier, issue.state, branch, commit, passed, tokens))
    finally:
        store.close()
    return results


def _print_summary(console: Console, results: list[DemoResult], elapsed: float) -> None:
    table = Table(title=f"Summary ({elapsed:.1f} s)")
    for col in ("issue", "state", "branch", "last commit", "tests", "tokens"):
        table.add_column(col)
    for r in results:
        table.add_row(
            r.identifier, r.state, r.branch, r.commit,
            "[green]pass[/]" if r.tests_pass else "[red]fail[/]", str(r.tokens),
        )
    console.print(table)
