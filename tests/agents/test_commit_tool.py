"""The `commit` tool: Tack records an agent's work on its branch host-side, for every backend.

A workspace is a git worktree whose git directory lives in the main repository, outside a
sandboxed agent's writable roots: the real codex CLI, under its default `workspace-write`
sandbox, cannot `git commit` there, but its call to Tack's `commit` tool can. The real
claude CLI reaches the same tool through the MCP relay, and the built-in agent calls it
directly. Claude's tool results name their tool like the calls do.
"""

from __future__ import annotations

import asyncio
import os
from pathlib import Path

import pytest

from tack.agents.base import SessionContext
from tack.agents.builtin import BuiltinBackend
from tack.agents.claude import ClaudeBackend
from tack.agents.codex import CodexBackend
from tack.agents.mcp_tracker import CLAUDE_COMMIT_TOOL_NAME, CLAUDE_TOOL_NAME
from tack.agents.tools import run_tool
from tack.testing import StubModelServer
from tack.tracker.base import Issue
from tack.tracker.local import LocalTracker
from tack.workflow.config import BuiltinConfig, ClaudeConfig
from tack.workspace.commit import commit_leftover_work
from tests.agents.codex_helpers import codex_config, codex_env, codex_home, requires_codex
from tests.agents.test_claude import CLAUDE_BIN, Recorder, claude_env, needs_claude
from tests.conftest import git

BRANCH = "tack/tack-1"


@pytest.fixture
def repo(git_repo: Path) -> Path:
    (git_repo / "app.py").write_text("VALUE = 1\n")
    (git_repo / ".gitignore").write_text("*.log\n")
    git(git_repo, "add", "-A")
    git(git_repo, "commit", "-q", "-m", "app")
    return git_repo


@pytest.fixture
def worktree(tmp_path: Path, repo: Path) -> Path:
    """A workspace as Tack makes it: a worktree on the issue's branch."""
    path = tmp_path / "workspaces" / "TACK-1"
    git(repo, "worktree", "add", "-q", "-b", BRANCH, str(path))
    return path


@pytest.fixture
def tracker(tmp_path: Path) -> LocalTracker:
    with LocalTracker(tmp_path / "tracker.db", prefix="TACK") as t:
        yield t


@pytest.fixture
def issue(tracker: LocalTracker) -> Issue:
    return tracker.add_issue("make VALUE 2", state="In Progress")


def branch_log(repo: Path) -> list[str]:
    return git(repo, "log", "--format=%s", f"main..{BRANCH}").splitlines()


def files_of(repo: Path, rev: str) -> set[str]:
    return set(git(repo, "show", "--name-only", "--format=", rev).split())


@requires_codex
async def test_codex_commits_through_the_commit_tool_under_the_default_sandbox(
        tmp_path: Path, repo: Path, worktree: Path, tracker: LocalTracker,
        issue: Issue) -> None:
    edit = ("printf 'VALUE = 2\\n' > app.py && echo noise > debug.log && "
            "git commit -qam 'by hand'; echo \"git exit $?\"")
    script = {"conversations": [{"steps": [
        {"tool_calls": [{"name": "exec_command", "arguments": {"cmd": edit}}]},
        {"tool_calls": [{"name": "commit", "arguments": {"message": "VALUE is 2"}}]},
        {"text": "Committed."},
    ]}]}
    async with StubModelServer(script) as server:
        ctx = SessionContext(workspace=worktree, issue=issue, tracker=tracker,
                             env={**os.environ, **codex_env(codex_home(tmp_path, server.url))})
        # The defaults: thread_sandbox workspace-write, approval_policy never.
        session = await CodexBackend(codex_config()).start_session(ctx)
        events = Recorder()
        try:
            result = await session.run_turn("Work on TACK-1: make VALUE 2", events)
        finally:
            await session.stop()
    assert result.ok, result.error
    results = {e.data["name"]: e.data for e in events.of("tool_result")}
    # The sandbox is real: the agent's own `git commit` cannot write the worktree's gitdir.
    assert "Read-only file system" in results["shell"]["output"], results["shell"]
    assert results["commit"]["ok"], results["commit"]
    assert results["commit"]["output"].startswith("committed "), results["commit"]
    assert branch_log(repo) == ["VALUE is 2"]
    assert files_of(repo, BRANCH) == {"app.py"}  # debug.log is ignored
    assert git(repo, "show", f"{BRANCH}:app.py") == "VALUE = 2\n"
    sha = git(repo, "rev-parse", "--short", BRANCH).strip()
    assert sha in results["commit"]["output"]


@needs_claude
async def test_claude_commits_through_the_mcp_relay_and_results_name_their_tool(
        tmp_path: Path, repo: Path, worktree: Path, tracker: LocalTracker,
        issue: Issue) -> None:
    app = str(worktree / "app.py")
    script = {"conversations": [{"match": "make VALUE 2", "steps": [
        {"tool_calls": [{"name": "Edit", "arguments": {
            "file_path": app, "old_string": "VALUE = 1", "new_string": "VALUE = 2"}}]},
        {"tool_calls": [{"name": CLAUDE_COMMIT_TOOL_NAME,
                         "arguments": {"message": "VALUE is 2"}}]},
        {"tool_calls": [{"name": CLAUDE_TOOL_NAME,
                         "arguments": {"action": "move", "state": "Human Review"}}]},
        {"text": "Committed and handed off."},
    ]}]}
    async with StubModelServer(script) as stub:
        ctx = SessionContext(workspace=worktree, issue=issue, tracker=tracker,
                             env={**os.environ, **claude_env(tmp_path / "home", stub)})
        session = await ClaudeBackend(ClaudeConfig(command=CLAUDE_BIN)).start_session(ctx)
        events = Recorder()
        try:
            result = await asyncio.wait_for(session.run_turn("make VALUE 2 now", events), 90)
        finally:
            await session.stop()
    assert result.ok, (result.error, list(session.stderr_tail), events.kinds())
    assert branch_log(repo) == ["VALUE is 2"]
    assert git(repo, "show", f"{BRANCH}:app.py") == "VALUE = 2\n"
    assert tracker.get("TACK-1").state == "Human Review"
    calls = [(e.data["name"], e.data["call_id"]) for e in events.of("tool_call")]
    results = [(e.data["name"], e.data["call_id"]) for e in events.of("tool_result")]
    assert [name for name, _ in calls] == ["Edit", CLAUDE_COMMIT_TOOL_NAME, CLAUDE_TOOL_NAME]
    assert results == calls
    commit = events.of("tool_result")[1]
    assert commit.data["ok"] and commit.message == f"{CLAUDE_COMMIT_TOOL_NAME} ok"
    assert "committed " in commit.data["output"]


async def test_the_builtin_agent_commits_with_its_commit_tool(
        repo: Path, worktree: Path, tracker: LocalTracker, issue: Issue) -> None:
    script = {"conversations": [{"steps": [
        {"tool_calls": [{"name": "edit_file", "arguments": {
            "path": "app.py", "old": "VALUE = 1", "new": "VALUE = 2"}},
            {"name": "write_file", "arguments": {"path": "notes/why.md", "content": "why\n"}},
            {"name": "commit", "arguments": {"message": "VALUE is 2"}}]},
        {"tool_calls": [{"name": "commit", "arguments": {"message": "again"}}]},
        {"text": "Committed."},
    ]}]}
    async with StubModelServer(script) as server:
        backend = BuiltinBackend(BuiltinConfig(base_url=server.url, api="chat"))
        session = await backend.start_session(
            SessionContext(workspace=worktree, issue=issue, tracker=tracker))
        events = Recorder()
        try:
            result = await session.run_turn("Work on TACK-1", events)
        finally:
            await session.stop()
    assert result.ok, result.error
    assert branch_log(repo) == ["VALUE is 2"]
    assert files_of(repo, BRANCH) == {"app.py", "notes/why.md"}
    outputs = [e.data["output"] for e in events.of("tool_result") if e.data["name"] == "commit"]
    assert outputs[0].startswith("committed ") and "M app.py, A notes/why.md" in outputs[0]
    assert outputs[1].startswith("nothing to commit")


async def test_the_commit_tool_refuses_what_it_cannot_record(
        tmp_path: Path, repo: Path, worktree: Path, tracker: LocalTracker,
        issue: Issue) -> None:
    ctx = SessionContext(workspace=worktree, issue=issue, tracker=tracker)
    empty = await run_tool("commit", {"message": "  "}, ctx)
    assert not empty.ok and "`message` must not be empty" in empty.output
    # A plain-directory workspace that happens to sit inside a repository must not commit
    # to that repository.
    inside = repo / "workspaces" / "TACK-1"
    inside.mkdir(parents=True)
    (inside / "x.txt").write_text("x\n")
    ctx = SessionContext(workspace=inside, issue=issue, tracker=tracker)
    refused = await run_tool("commit", {"message": "x"}, ctx)
    assert not refused.ok and "not a git repository" in refused.output
    assert await commit_leftover_work(inside, "TACK-1", 1) is None
    assert git(repo, "log", "--format=%s", "main") == "app\ninitial\n"
    assert "workspaces/" in git(repo, "status", "--porcelain")  # untouched, not staged


async def test_leftover_work_is_committed_after_a_turn(repo: Path, worktree: Path) -> None:
    (worktree / "app.py").write_text("VALUE = 3\n")
    (worktree / "debug.log").write_text("ignored\n")
    note = await commit_leftover_work(worktree, "TACK-1", 2)
    assert note is not None and note.startswith("work left uncommitted after turn 2: committed ")
    assert branch_log(repo) == ["tack: work in progress after turn 2 of TACK-1"]
    assert files_of(repo, BRANCH) == {"app.py"}
    assert await commit_leftover_work(worktree, "TACK-1", 3) is None  # nothing left
    assert git(worktree, "status", "--porcelain") == ""


async def test_without_git_a_turn_end_records_nothing_and_says_nothing(
        tmp_path: Path, worktree: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (worktree / "app.py").write_text("VALUE = 3\n")
    monkeypatch.setenv("PATH", str(tmp_path / "no-git-here"))
    assert await commit_leftover_work(worktree, "TACK-1", 1) is None
