"""Fixtures for the learning loop: a repo with WORKFLOW.md on the stub model, seeded runs."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tack.store import Store
from tack.testing.stub_model import StubModelServer
from tack.tracker.local import LocalTracker
from tests.conftest import git


def lesson_reply(title: str, lesson: str, *, tags: list[str] | None = None,
                 paths: list[str] | None = None) -> str:
    return json.dumps({"lessons": [{"title": title, "lesson": lesson,
                                    "cause": "ignored principle", "tags": tags or [],
                                    "paths": paths or []}]})


SCRIPT: dict[str, Any] = {"conversations": [
    {"match": r"What went wrong in run 1 ", "steps": [{"text": lesson_reply(
        "Poll with a deadline instead of sleeping in tests",
        "Tests must not call time.sleep to wait for the worker; poll the condition with a "
        "deadline of at least 20 s.", tags=["tests", "sleep"], paths=["tests/**"])}]},
    {"match": r"What went wrong in run (3|4) ", "steps": [{"text": "Sure! " + lesson_reply(
        "Never sleep in tests; poll the condition with a deadline",
        "A test slept with time.sleep waiting for the worker. Poll with a deadline instead.",
        tags=["tests"])}]},
    {"match": r"What went wrong in run 5 ", "steps": [{"text": lesson_reply(
        "Name the migration file after the table it changes",
        "Database migration files are named after their table, like 0003_users.sql.",
        tags=["migrations"])}]},
    {"match": r"What went wrong in run 6 ", "steps": [{"text": "I cannot tell."}]},
    {"match": r"^Plan issue", "steps": [{"text": "Goal: export reports.\n\n1. Add the CSV "
                                                 "writer.\n2. Add the CLI flag."}]},
    {"match": r"^Review the change", "steps": [{"text": json.dumps({"findings": [
        {"path": "tests/test_worker.py", "line": 4, "severity": "error",
         "body": "time.sleep(2) waits blind; poll with a deadline (P002)."}]})}]},
]}


@pytest.fixture
def stub() -> Iterator[StubModelServer]:
    with StubModelServer(SCRIPT) as server:
        yield server


def write_workflow(repo: Path, stub_url: str, extra: str = "") -> Path:
    path = repo / "WORKFLOW.md"
    path.write_text(
        "---\ntracker:\n  kind: local\nagent:\n  backend: builtin\nbuiltin:\n"
        f"  base_url: {stub_url}\n  model: stub\n{extra}---\n"
        "Work on {{ issue.identifier }}: {{ issue.title }}\n", encoding="utf-8")
    return path


@pytest.fixture
def project(git_repo: Path, stub: StubModelServer) -> Path:
    """A repo with WORKFLOW.md, four issues, and a `tack/TACK-1` branch that sleeps in a test."""
    write_workflow(git_repo, stub.url, "learning:\n  propose_after: 3\n")
    (git_repo / ".gitignore").write_text(".tack/\n")
    git(git_repo, "add", "-A")
    git(git_repo, "commit", "-q", "-m", "workflow")
    git(git_repo, "checkout", "-q", "-b", "tack/TACK-1")
    (git_repo / "tests").mkdir()
    (git_repo / "tests" / "test_worker.py").write_text(
        "import time\n\ndef test_restart():\n    time.sleep(2)\n    assert True\n")
    git(git_repo, "add", "-A")
    git(git_repo, "commit", "-q", "-m", "worker test")
    git(git_repo, "checkout", "-q", "main")
    with LocalTracker(git_repo / ".tack" / "issues.db") as tracker:
        tracker.add_issue("Test the worker restart")
        tracker.add_issue("Add a test that the worker restarts after a crash",
                          description="The test waits for the worker to come back.")
        tracker.add_issue("Test the worker shutdown")
        tracker.add_issue("Add the users table migration")
    return git_repo


def seed_run(repo: Path, identifier: str, *, status: str = "succeeded",
             error: str | None = None, events: list[str] = ()) -> int:  # type: ignore[assignment]
    store = Store(repo / ".tack" / "state.db")
    try:
        with LocalTracker(repo / ".tack" / "issues.db") as tracker:
            issue = tracker.get(identifier)
        run_id = store.start_run(issue_id=issue.id, identifier=identifier, attempt=None)
        for message in events:
            store.add_event(run_id=run_id, issue_id=issue.id, identifier=identifier,
                            kind="agent_message", message=message)
        store.finish_run(run_id, status, error)
        return run_id
    finally:
        store.close()
