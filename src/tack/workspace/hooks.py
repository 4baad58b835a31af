"""Workspace hooks: trusted shell scripts from WORKFLOW.md, run with a timeout (SPEC §9.4).

Each hook runs as `bash -lc` in its own process group, so a timeout stops the hook and
everything it started. Output goes to a temporary file rather than a pipe: a background child
that keeps the pipe open must not make us wait for it.
"""

from __future__ import annotations

import asyncio
import os
import signal
import tempfile
import time
from collections.abc import Collection
from dataclasses import dataclass, replace
from pathlib import Path
from typing import IO

import structlog

from tack.errors import WorkspaceError
from tack.tracker.credentials import DEFAULT_CREDENTIAL_ENV, environ_without
from tack.sandbox.launch import SandboxUnavailable, prepare
from tack.sandbox.policy import SandboxPolicy

log = structlog.get_logger(__name__)

OUTPUT_TAIL_BYTES = 4096
TERM_GRACE_S = 2.0


class HookError(WorkspaceError):
    """A hook exited non-zero or timed out."""

    code = "hook_failed"

    def __init__(
        self, hook: str, *, exit_code: int | None, timed_out: bool, output: str, cwd: Path
    ) -> None:
        self.hook = hook
        self.exit_code = exit_code
        self.timed_out = timed_out
        self.output = output
        what = "timed out (hooks.timeout_ms)" if timed_out else f"exited with code {exit_code}"
        tail = f" Last output:\n{output.rstrip()}" if output.strip() else ""
        super().__init__(
            f"Hook hooks.{hook} in WORKFLOW.md {what} in {cwd}. Fix the script or raise "
            f"hooks.timeout_ms.{tail}",
            code="hook_timeout" if timed_out else "hook_failed",
        )


@dataclass(frozen=True)
class HookResult:
    exit_code: int | None
    timed_out: bool
    output: str
    duration_ms: int


def _group_alive(pgid: int) -> bool:
    """Whether any process of the group still runs (zombies waiting to be reaped do not)."""
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    proc = Path("/proc")
    if not proc.is_dir():
        return True
    # kill(0) also succeeds for zombies, which an init that never reaps (some containers)
    # keeps forever; /proc tells running members from the dead.
    for entry in proc.iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        fields = stat[stat.rfind(")") + 2 :].split()
        if len(fields) > 2 and fields[2] == str(pgid) and fields[0] not in ("Z", "X"):
            return True
    return False


async def kill_group(proc: asyncio.subprocess.Process) -> None:
    """SIGTERM the process group led by `proc` (started with `start_new_session`), then
    SIGKILL whatever is still there."""
    pgid = proc.pid
    for sig in (signal.SIGTERM, signal.SIGKILL):
        try:
            os.killpg(pgid, sig)
        except ProcessLookupError:
            break
        if sig == signal.SIGTERM:
            try:
                await asyncio.wait_for(proc.wait(), TERM_GRACE_S)
            except asyncio.TimeoutError:
                pass
            # The shell may be gone while its children linger in the group.
            deadline = time.monotonic() + TERM_GRACE_S
            while _group_alive(pgid) and time.monotonic() < deadline:
                await asyncio.sleep(0.02)
    await proc.wait()


def _tail(file: IO[bytes]) -> str:
    file.seek(0, os.SEEK_END)
    size = file.tell()
    file.seek(max(0, size - OUTPUT_TAIL_BYTES))
    return file.read().decode("utf-8", errors="replace")


async def run_hook(
    name: str, script: str, *, cwd: Path, env: dict[str, str], timeout_ms: int,
    withheld: Collection[str] = DEFAULT_CREDENTIAL_ENV,
    sandbox: SandboxPolicy | None = None,
) -> HookResult:
    """Run one hook script; never raises for the script's own failure (see `HookResult`).
    The script inherits Tack's environment without the `withheld` credentials (hooks run in
    the workspace, where `before_run`/`after_run` execute code the agent may have written),
    and runs in `sandbox` when one is given (`sandbox.hooks`)."""
    argv, full_env = ["bash", "-lc", script], {**environ_without(withheld), **env}
    boxed = None
    if sandbox is not None:
        try:
            boxed = await prepare(argv, sandbox, cwd, full_env)
        except SandboxUnavailable as exc:
            return HookResult(-1, False, exc.message, 0)
        argv, full_env = boxed.argv, boxed.env
    try:
        result = await _run(name, argv, cwd=cwd, env=full_env, timeout_ms=timeout_ms)
        why = boxed.explain(result.exit_code) if boxed is not None else ""
        return replace(result, output=f"{result.output}\nsandbox: {why}") if why else result
    finally:
        if boxed is not None:
            boxed.close()


async def _run(name: str, argv: list[str], *, cwd: Path, env: dict[str, str], timeout_ms: int
               ) -> HookResult:
    started = time.monotonic()
    log.info("workspace.hook.start", hook=name, cwd=str(cwd))
    with tempfile.TemporaryFile() as out:
        try:
            proc = await asyncio.create_subprocess_exec(
                *argv,
                cwd=cwd,
                env=env,
                stdin=asyncio.subprocess.DEVNULL,
                stdout=out,
                stderr=out,
                start_new_session=True,
            )
        except OSError as exc:  # no bash, or the workspace vanished
            log.warning("workspace.hook.failed", hook=name, cwd=str(cwd), error=str(exc))
            return HookResult(-1, False, f"could not start the hook: {exc}", 0)
        timed_out = False
        try:
            await asyncio.wait_for(proc.wait(), timeout_ms / 1000)
        except asyncio.TimeoutError:
            timed_out = True
            await kill_group(proc)
        except BaseException:
            # Cancelled: the hook must not outlive the run that started it.
            await asyncio.shield(kill_group(proc))
            raise
        output = _tail(out)
    duration_ms = int((time.monotonic() - started) * 1000)
    result = HookResult(None if timed_out else proc.returncode, timed_out, output, duration_ms)
    if timed_out:
        log.warning("workspace.hook.timeout", hook=name, cwd=str(cwd), timeout_ms=timeout_ms,
                    output=output[-1000:])
    elif proc.returncode != 0:
        log.warning("workspace.hook.failed", hook=name, cwd=str(cwd), exit_code=proc.returncode,
                    output=output[-1000:])
    else:
        log.info("workspace.hook.done", hook=name, duration_ms=duration_ms)
    return result


def raise_for_result(name: str, result: HookResult, cwd: Path) -> None:
    if result.timed_out or result.exit_code != 0:
        raise HookError(name, exit_code=result.exit_code, timed_out=result.timed_out,
                        output=result.output, cwd=cwd)
