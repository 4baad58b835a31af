"""Symphony SPEC §17.2 — Workspace Manager and Safety, one test per bullet.

Hooks run for real (`bash -lc`); worktree tests use a real git repository. Agent launch itself
lives in the agents part; here we test the workspace side of its contract (`path_for`,
`ensure_cwd`).
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from structlog.testing import capture_logs

from tack.errors import WorkspaceError
from tack.tracker.base import Issue
from tack.workflow.config import HooksConfig, WorkspaceConfig
from tack.workspace import HookError, WorkspaceManager, workspace_key


def issue(identifier: str) -> Issue:
    return Issue(id=f"id-{identifier}", identifier=identifier, title="t", state="Todo")


def manager(tmp_path: Path, hooks: HooksConfig | None = None, *, repo: Path | None = None,
            strategy: str = "directory", base_ref: str | None = None) -> WorkspaceManager:
    return WorkspaceManager(
        root=tmp_path / "root",
        repo=repo or tmp_path,
        workspace=WorkspaceConfig(strategy=strategy, base_ref=base_ref),  # type: ignore[arg-type]
        hooks=hooks or HooksConfig(),
    )


def reload(mgr: WorkspaceManager, tmp_path: Path, hooks: HooksConfig) -> None:
    """Hot reload new hook settings into a running manager."""
    mgr.update(root=tmp_path / "root", repo=tmp_path,
               workspace=WorkspaceConfig(strategy="directory"), hooks=hooks)


def log_lines(tmp_path: Path, name: str) -> list[str]:
    path = tmp_path / name
    return path.read_text().splitlines() if path.exists() else []


async def test_deterministic_workspace_path_per_issue_identifier(tmp_path: Path) -> None:
    """Deterministic workspace path per issue identifier"""
    first = manager(tmp_path)
    second = manager(tmp_path)
    assert first.path_for("ABC-123") == second.path_for("ABC-123")
    assert first.path_for("ABC-123") == tmp_path / "root" / "ABC-123"
    assert first.path_for("ABC-123") != first.path_for("ABC-124")
    ws = await first.prepare(issue("ABC-123"))
    assert ws.path == second.path_for("ABC-123")


async def test_missing_workspace_directory_is_created(tmp_path: Path) -> None:
    """Missing workspace directory is created"""
    mgr = manager(tmp_path)
    assert not (tmp_path / "root").exists()
    ws = await mgr.prepare(issue("ABC-1"))
    assert ws.created_now is True
    assert ws.path.is_dir() and ws.key == "ABC-1"


async def test_existing_workspace_directory_is_reused(tmp_path: Path) -> None:
    """Existing workspace directory is reused"""
    mgr = manager(tmp_path)
    ws = await mgr.prepare(issue("ABC-1"))
    (ws.path / "progress.txt").write_text("half done\n")
    again = await mgr.prepare(issue("ABC-1"))
    assert again.created_now is False and again.path == ws.path
    assert (again.path / "progress.txt").read_text() == "half done\n"


async def test_existing_non_directory_path_at_workspace_location_is_handled_safely(
    tmp_path: Path,
) -> None:
    """Existing non-directory path at workspace location is handled safely (replace or fail per
    implementation policy)"""
    mgr = manager(tmp_path)
    (tmp_path / "root").mkdir()
    stray = tmp_path / "root" / "ABC-1"
    stray.write_text("not a workspace\n")
    with pytest.raises(WorkspaceError, match="not a directory") as err:
        await mgr.prepare(issue("ABC-1"))
    assert str(stray) in err.value.message
    assert stray.read_text() == "not a workspace\n"  # policy: fail, never overwrite
    assert await mgr.remove("ABC-1") is False
    assert stray.exists()


async def test_optional_workspace_population_errors_are_surfaced(tmp_path: Path,
                                                                 git_repo: Path) -> None:
    """OPTIONAL workspace population/synchronization errors are surfaced"""
    mgr = manager(tmp_path, repo=git_repo, strategy="worktree", base_ref="no-such-ref")
    with pytest.raises(WorkspaceError) as err:
        await mgr.prepare(issue("ABC-1"))
    assert err.value.code == "workspace_population_failed"
    assert "no-such-ref" in err.value.message and "workspace.base_ref" in err.value.message
    assert not (tmp_path / "root" / "ABC-1").exists()


async def test_after_create_hook_runs_only_on_new_workspace_creation(tmp_path: Path) -> None:
    """`after_create` hook runs only on new workspace creation"""
    log = tmp_path / "created.log"
    hooks = HooksConfig(after_create=f'echo "$TACK_ISSUE_IDENTIFIER $PWD" >> {log}')
    mgr = manager(tmp_path, hooks)
    ws = await mgr.prepare(issue("ABC-1"))
    await mgr.prepare(issue("ABC-1"))
    await mgr.prepare(issue("ABC-1"))
    assert log_lines(tmp_path, "created.log") == [f"ABC-1 {ws.path}"]
    failing = manager(tmp_path, HooksConfig(after_create="exit 7"))
    with pytest.raises(HookError) as err:
        await failing.prepare(issue("ABC-2"))
    assert err.value.exit_code == 7
    assert not (tmp_path / "root" / "ABC-2").exists()  # fatal to creation


async def test_before_run_hook_runs_before_each_attempt_and_failures_and_timeouts_abort_the_attempt(
    tmp_path: Path,
) -> None:
    """`before_run` hook runs before each attempt and failure/timeouts abort the current attempt"""
    mgr = manager(tmp_path, HooksConfig(before_run="echo run >> before.log"))
    ws = await mgr.prepare(issue("ABC-1"))
    await mgr.before_run(ws)
    await mgr.before_run(ws)
    assert (ws.path / "before.log").read_text().splitlines() == ["run", "run"]

    reload(mgr, tmp_path, HooksConfig(before_run="echo syncing failed >&2; exit 4"))
    with pytest.raises(HookError) as failed:
        await mgr.before_run(ws)
    assert failed.value.exit_code == 4 and "syncing failed" in failed.value.message

    reload(mgr, tmp_path, HooksConfig(before_run="sleep 30", timeout_ms=1000))
    with pytest.raises(HookError) as timed_out:
        await mgr.before_run(ws)
    assert timed_out.value.timed_out and "timed out" in timed_out.value.message
    assert ws.path.is_dir()  # the reused workspace is not reset


async def test_after_run_hook_runs_after_each_attempt_and_failures_and_timeouts_are_logged_and_ignored(
    tmp_path: Path,
) -> None:
    """`after_run` hook runs after each attempt and failure/timeouts are logged and ignored"""
    mgr = manager(tmp_path, HooksConfig(after_run="echo done >> after.log; exit 9"))
    ws = await mgr.prepare(issue("ABC-1"))
    with capture_logs() as logs:
        await mgr.after_run(ws)
        await mgr.after_run(ws)
    assert (ws.path / "after.log").read_text().splitlines() == ["done", "done"]
    failed = [e for e in logs if e["event"] == "workspace.hook.failed"]
    assert len(failed) == 2 and failed[0]["exit_code"] == 9 and failed[0]["hook"] == "after_run"

    reload(mgr, tmp_path, HooksConfig(after_run="sleep 30", timeout_ms=1000))
    with capture_logs() as logs:
        await mgr.after_run(ws)
    assert [e["hook"] for e in logs if e["event"] == "workspace.hook.timeout"] == ["after_run"]


async def test_before_remove_hook_runs_on_cleanup_and_failures_and_timeouts_are_ignored(
    tmp_path: Path,
) -> None:
    """`before_remove` hook runs on cleanup and failures/timeouts are ignored"""
    record = tmp_path / "removed.log"
    hooks = HooksConfig(before_remove=f"echo $TACK_ISSUE_IDENTIFIER >> {record}; exit 1")
    mgr = manager(tmp_path, hooks)
    ws = await mgr.prepare(issue("ABC-1"))
    with capture_logs() as logs:
        assert await mgr.remove("ABC-1") is True
    assert not ws.path.exists()
    assert record.read_text().splitlines() == ["ABC-1"]
    assert any(e["event"] == "workspace.hook.failed" for e in logs)

    slow = manager(tmp_path, HooksConfig(before_remove="sleep 30", timeout_ms=1000))
    ws = await slow.prepare(issue("ABC-2"))
    assert await slow.remove("ABC-2") is True
    assert not ws.path.exists()


async def test_workspace_path_sanitization_hash_collision_resistance_and_root_containment_are_enforced(
    tmp_path: Path,
) -> None:
    """Workspace path sanitization, stable original-identifier-hash collision resistance, and root
    containment invariants are enforced before agent launch"""
    mgr = manager(tmp_path)
    for identifier in ("../../etc", "a/b", "with space", "ünïcode", "x;rm -rf ~"):
        key = workspace_key(identifier)
        assert all(c.isascii() and (c.isalnum() or c in "._-") for c in key)
        assert key != identifier and len(key.rsplit("-", 1)[1]) == 16
        ws = await mgr.prepare(issue(identifier))
        assert ws.path.parent == tmp_path / "root" and ws.path.name == key
    assert workspace_key("a/b") == workspace_key("a/b")  # stable across calls
    for escape in ("..", ".", ""):
        with pytest.raises(WorkspaceError, match="not inside the workspace root"):
            mgr.path_for(escape)


async def test_identifiers_unchanged_by_sanitization_keep_deterministic_key_and_colliding_identifiers_get_distinct_keys(
    tmp_path: Path,
) -> None:
    """Identifiers unchanged by sanitization keep their deterministic workspace key; conformance
    tests include distinct identifiers that sanitize to the same text and verify distinct keys"""
    for clean in ("ABC-123", "team.sub_1", "x-y_z.9"):
        assert workspace_key(clean) == clean
    colliding = ["a/b", "a:b", "a b", "a_b"]
    keys = [workspace_key(i) for i in colliding]
    assert len(set(keys)) == len(colliding)
    assert keys[-1] == "a_b"
    mgr = manager(tmp_path)
    paths = [(await mgr.prepare(issue(i))).path for i in colliding]
    assert len(set(paths)) == len(colliding) and all(p.is_dir() for p in paths)


async def test_agent_launch_uses_workspace_path_as_cwd_and_rejects_out_of_root_paths(
    tmp_path: Path,
) -> None:
    """Agent launch uses the per-issue workspace path as cwd and rejects out-of-root paths"""
    mgr = manager(tmp_path)
    ws = await mgr.prepare(issue("ABC-1"))
    assert mgr.ensure_cwd(ws.path, "ABC-1") == ws.path
    with pytest.raises(WorkspaceError, match="Refusing to launch"):
        mgr.ensure_cwd(tmp_path, "ABC-1")
    with pytest.raises(WorkspaceError, match="Refusing to launch"):
        mgr.ensure_cwd((await mgr.prepare(issue("ABC-2"))).path, "ABC-1")

    # `../x` is sanitized into a key inside the root, never a path outside it.
    assert mgr.path_for("../x").parent == tmp_path / "root"
    # A symlink planted at a workspace location that points outside the root is rejected.
    outside = tmp_path / "outside"
    outside.mkdir()
    os.symlink(outside, tmp_path / "root" / "ABC-3")
    with pytest.raises(WorkspaceError, match="not inside the workspace root"):
        mgr.path_for("ABC-3")
    with pytest.raises(WorkspaceError, match="not inside the workspace root"):
        await mgr.prepare(issue("ABC-3"))
    # Symlinked roots are fine as long as the workspace resolves inside the real root.
    link_root = tmp_path / "root-link"
    os.symlink(tmp_path / "root", link_root)
    linked = WorkspaceManager(root=link_root, repo=tmp_path,
                              workspace=WorkspaceConfig(strategy="directory"), hooks=HooksConfig())
    assert linked.path_for("ABC-1").resolve() == ws.path.resolve()
