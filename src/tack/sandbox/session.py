"""One sandbox per agent session for the built-in agent's `shell` calls.

Building a sandbox (bubblewrap's namespaces and mounts, the proxy relay's interpreter) costs
tens of milliseconds; an agent runs hundreds of commands in the same workspace under the same
policy. So the sandbox is built once, with `supervisor.py` inside, and each command is forked
there: it still gets its own pids cgroup (Tack moves it in before it execs), its own CPU and
memory rlimits and its own process group, and it dies with the sandbox, which dies with Tack
(`--die-with-parent`). What commands of one session share: the sandbox's private `/tmp` and
its network namespace. A sandbox idle for `IDLE_S` is closed, and so is one whose session
stops.
"""

from __future__ import annotations

import array
import asyncio
import contextlib
import json
import os
import signal
import socket
import struct
import sys
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from tack.sandbox.launch import (
    CPU_GRACE_S,
    FORWARDER,
    PROXY_PORT,
    PROXY_SOCKET,
    SandboxedCommand,
    SandboxUnavailable,
    bwrap_args,
    require_sandbox,
    seccomp_args,
    user_tasks,
)
from tack.sandbox.limits import PidsCgroup, create_pids_cgroup
from tack.sandbox.policy import SandboxPolicy
from tack.sandbox.proxy import proxy_for

SUPERVISOR = Path(__file__).with_name("supervisor.py")
IDLE_S = 120.0
# After the command's own process ends, how long its children may keep the output open.
DRAIN_S = 0.5


@dataclass(frozen=True)
class CommandEnd:
    returncode: int | None
    timed_out: bool
    why: str  # what the sandbox did to the command, for the agent ('' when nothing)


async def _readable(fd: int) -> None:
    loop = asyncio.get_running_loop()
    ready: asyncio.Future[None] = loop.create_future()

    def wake() -> None:
        if not ready.done():
            ready.set_result(None)

    loop.add_reader(fd, wake)
    try:
        await ready
    finally:
        loop.remove_reader(fd)


async def _recv_credentials(ctl: socket.socket) -> tuple[bytes, int | None]:
    """The first byte on `ctl` and the pid (in Tack's pid namespace) of whoever sent it."""
    space = socket.CMSG_SPACE(struct.calcsize("3i"))
    while True:
        try:
            data, ancillary, _, _ = ctl.recvmsg(1, space)
            break
        except BlockingIOError:
            await _readable(ctl.fileno())
    for level, kind, payload in ancillary:
        if level == socket.SOL_SOCKET and kind == socket.SCM_CREDENTIALS:
            return data, int(struct.unpack("3i", payload[:12])[0])
    return data, None


async def _read_line(ctl: socket.socket, buffer: bytes = b"") -> bytes:
    """The rest of the supervisor's line on `ctl` (b'' when the sandbox itself went away)."""
    while not buffer.endswith(b"\n"):
        try:
            chunk = ctl.recv(256)
        except BlockingIOError:
            await _readable(ctl.fileno())
            continue
        if not chunk:
            return b""
        buffer += chunk
    return buffer


def _exit_code(line: bytes) -> int | None:
    words = line.split()
    if words[:1] == [b"X"] and len(words) == 2 and words[1].lstrip(b"-").isdigit():
        return int(words[1])
    return None


async def _drain(fd: int, on_output: Callable[[bytes], None]) -> None:
    os.set_blocking(fd, False)
    try:
        while True:
            try:
                chunk = os.read(fd, 65536)
            except BlockingIOError:
                await _readable(fd)
                continue
            if not chunk:
                return
            on_output(chunk)
    finally:
        os.close(fd)


def _kill(pid: int, cgroup: PidsCgroup | None) -> None:
    """The command's process group, and anything of it that left the group (its cgroup)."""
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pid, signal.SIGKILL)
    if cgroup is None:
        return
    with contextlib.suppress(OSError):
        for line in cgroup.procs.read_text().split():
            with contextlib.suppress(ProcessLookupError, PermissionError, ValueError):
                os.kill(int(line), signal.SIGKILL)


class _SpawnFailed(Exception):
    """The supervisor could not start the command's process (its words are the message)."""


@dataclass
class _Launcher:
    """A process in the sandbox waiting for its command: its control socket, the read end of
    its output pipe, its pid as Tack sees it, its cgroup and the environment it got."""

    ctl: socket.socket
    out_read: int
    pid: int | None
    cgroup: PidsCgroup | None
    env: dict[str, str]

    def waiting(self) -> bool:
        """Still alive and unused (a command may have killed every process of the sandbox)."""
        try:
            self.ctl.recv(1, socket.MSG_PEEK)  # an exit report, or the end of the stream
        except BlockingIOError:
            return True
        except OSError:
            pass
        return False

    def discard(self) -> None:
        if self.pid is not None:
            _kill(self.pid, self.cgroup)
        if self.out_read >= 0:
            os.close(self.out_read)
            self.out_read = -1
        self.ctl.close()
        if self.cgroup is not None:
            self.cgroup.remove()


class _SandboxGone(SandboxUnavailable):
    """The session's sandbox ended between commands (a command killed its supervisor)."""


class SessionSandbox:
    """A running sandbox for one workspace and policy, serving commands until `close()`."""

    def __init__(self, policy: SandboxPolicy, workspace: Path) -> None:
        self.policy = policy
        self.workspace = workspace
        self._proc: asyncio.subprocess.Process | None = None
        self._channel: socket.socket | None = None
        self._busy = 0
        self._idle: asyncio.TimerHandle | None = None
        self._ready: asyncio.Task[_Launcher] | None = None

    @property
    def alive(self) -> bool:
        return (self._proc is not None and self._proc.returncode is None
                and self._channel is not None)

    async def start(self) -> SessionSandbox:
        bwrap = require_sandbox()
        ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        args = bwrap_args(bwrap, self.policy, self.workspace)
        inner = [sys.executable, "-I", "-S", str(SUPERVISOR), str(theirs.fileno())]
        if self.policy.network:
            proxy = await proxy_for(self.policy.allow_hosts)
            args += ["--ro-bind", str(proxy.socket_path), PROXY_SOCKET]
            inner = [sys.executable, "-I", "-S", str(FORWARDER), str(PROXY_PORT),
                     PROXY_SOCKET, *inner]
        with seccomp_args() as (filter_args, filter_fds):
            try:
                self._proc = await asyncio.create_subprocess_exec(
                    *args, *filter_args, "--", *inner, pass_fds=(theirs.fileno(), *filter_fds),
                    stdin=asyncio.subprocess.DEVNULL, stdout=asyncio.subprocess.DEVNULL,
                    stderr=asyncio.subprocess.PIPE,
                    env={"PATH": os.environ.get("PATH", os.defpath)})
            finally:
                theirs.close()
        ours.setblocking(False)
        self._channel = ours
        return self

    async def _failure(self) -> str:
        """Why the sandbox ended (bubblewrap's own words), for the error the agent sees."""
        if self._proc is None or self._proc.stderr is None:
            return "the sandbox did not start"
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._proc.wait(), 5)
        text = (await self._proc.stderr.read(4096)).decode(errors="replace").strip()
        return text or f"the sandbox exited with code {self._proc.returncode}"

    async def run(self, argv: Sequence[str], env: Mapping[str, str], timeout_s: float,
                  on_output: Callable[[bytes], None],
                  on_process: Callable[[int, bool], None] | None = None) -> CommandEnd:
        """Run `argv` in the sandbox with the allowlisted part of `env`; its output (stdout
        and stderr) goes to `on_output`."""
        self._busy += 1
        if self._idle is not None:
            self._idle.cancel()
        inner_env = self._environment(env)
        launcher: _Launcher | None = None
        try:
            launcher = await self._take_ready(inner_env)
            if launcher is None:
                try:
                    launcher = await self._spawn(inner_env)
                except _SpawnFailed as exc:
                    return CommandEnd(127, False, f"the command did not start: {exc}")
            return await self._run(launcher, argv, timeout_s, on_output, on_process)
        finally:
            if launcher is not None:
                launcher.discard()
            self._busy -= 1
            loop = asyncio.get_running_loop()
            if self.alive and self._ready is None:
                # The next command's process, spawned and put in its cgroup while the agent
                # thinks: moving a process between cgroups is the slowest step (cgroup v1).
                self._ready = loop.create_task(self._spawn(inner_env))
            if not self._busy:
                self._idle = loop.call_later(IDLE_S, lambda: loop.create_task(self.close()))

    async def _take_ready(self, env: dict[str, str]) -> _Launcher | None:
        """The launcher spawned ahead for this command, if it is still waiting and was
        spawned with the same environment."""
        ready, self._ready = self._ready, None
        if ready is None:
            return None
        try:
            launcher = await ready
        except _SpawnFailed:
            return None
        if launcher.env == env and launcher.waiting():
            return launcher
        launcher.discard()
        return None

    async def _spawn(self, env: dict[str, str]) -> _Launcher:
        """A process in a fresh cgroup, with the rlimits set, waiting on fd 3 for its argv."""
        if self._channel is None:
            raise _SandboxGone("the agent's sandbox ended")
        loop = asyncio.get_running_loop()
        cgroup = (create_pids_cgroup(self.policy.limits.processes)
                  if self.policy.limits.processes else None)
        out_read, out_write = os.pipe()
        ctl, child_ctl = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
        ctl.setsockopt(socket.SOL_SOCKET, socket.SO_PASSCRED, 1)
        launcher = _Launcher(ctl, out_read, None, cgroup, env)
        try:
            try:
                self._channel.sendmsg([b"C"], [(socket.SOL_SOCKET, socket.SCM_RIGHTS,
                                                array.array("i", [out_write,
                                                                  child_ctl.fileno()]))])
            except OSError:
                self._channel = None  # dead: `session_for` starts a new one
                raise _SandboxGone(f"the agent's sandbox ended: {await self._failure()}"
                                   ) from None
            finally:
                os.close(out_write)
                child_ctl.close()
            ctl.setblocking(False)
            await loop.sock_sendall(ctl, json.dumps(
                {"argv": self._launcher(cgroup), "env": env}).encode() + b"\n")
            first, pid = await _recv_credentials(ctl)
            if first != b"R" or pid is None:  # the supervisor could not spawn it
                said = (await _read_line(ctl, first)).decode(errors="replace")
                raise _SpawnFailed(said[2:].strip() or "the sandbox ended")
            launcher.pid = pid
            if cgroup is not None:
                cgroup.procs.write_text(str(pid))
            await loop.sock_sendall(ctl, b"G\n")
            return launcher
        except BaseException:
            launcher.discard()
            raise

    async def _run(self, launcher: _Launcher, argv: Sequence[str], timeout_s: float,
                   on_output: Callable[[bytes], None],
                   on_process: Callable[[int, bool], None] | None) -> CommandEnd:
        loop = asyncio.get_running_loop()
        ctl, pid, cgroup = launcher.ctl, launcher.pid, launcher.cgroup
        assert pid is not None
        output = asyncio.create_task(_drain(os.dup(launcher.out_read), on_output))
        if on_process:
            on_process(pid, True)
        try:
            await loop.sock_sendall(ctl, b"".join(
                os.fsencode(arg) + b"\0" for arg in argv))
            ctl.shutdown(socket.SHUT_WR)
            timed_out = False
            try:
                code = _exit_code(await asyncio.wait_for(_read_line(ctl), timeout_s))
            except TimeoutError:
                timed_out, code = True, None
            os.close(launcher.out_read)  # only the command's processes hold the pipe now
            launcher.out_read = -1
            # Children left in the group may hold the pipe open; give them a moment.
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(asyncio.shield(output), 0 if timed_out else DRAIN_S)
        finally:
            _kill(pid, cgroup)
            if on_process:
                on_process(pid, False)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(output, DRAIN_S)
        if code is None and not timed_out:
            code = -signal.SIGKILL
            why = "the agent's sandbox ended while the command ran"
        else:
            why = SandboxedCommand([], {}, self.policy, cgroup).explain(code)
        return CommandEnd(code, timed_out, why)

    def _environment(self, env: Mapping[str, str]) -> dict[str, str]:
        inner = self.policy.environment(env)
        if self.policy.network:
            url = f"http://127.0.0.1:{PROXY_PORT}"
            for name in ("HTTP_PROXY", "HTTPS_PROXY", "http_proxy", "https_proxy"):
                inner[name] = url
        return inner

    def _launcher(self, cgroup: PidsCgroup | None) -> list[str]:
        """bash that says `R` on fd 3 (the kernel attaches its pid, SCM_CREDENTIALS), waits
        for `G` (Tack moved it into `cgroup`), sets the rlimits, then reads the command's
        argv from fd 3 (NUL-separated) and execs it in the workspace."""
        limits = self.policy.limits
        steps = ['printf R >&3 && read -r go <&3 && [ "$go" = G ] || exit 125']
        if cgroup is None and limits.processes and os.geteuid() != 0:
            steps.append(f"ulimit -u {user_tasks() + limits.processes} || exit 125")
        if limits.cpu_seconds:
            steps.append(f"ulimit -St {limits.cpu_seconds} && "
                         f"ulimit -Ht {limits.cpu_seconds + CPU_GRACE_S} || exit 125")
        if limits.memory_mb:
            steps.append(f"ulimit -v {limits.memory_mb * 1024} || exit 125")
        steps += ['cd -- "$0" || exit 125',
                  "args=(); while IFS= read -r -d '' a <&3; do args+=(\"$a\"); done",
                  "exec 3<&-", '[ ${#args[@]} -gt 0 ] || exit 125', 'exec "${args[@]}"']
        return ["/bin/bash", "-c", "\n".join(steps), str(self.workspace)]

    async def close(self) -> None:
        if self._idle is not None:
            self._idle.cancel()
        ready, self._ready = self._ready, None
        if ready is not None:
            ready.cancel()
            with contextlib.suppress(BaseException):
                (await ready).discard()
        if self._channel is not None:
            self._channel.close()
            self._channel = None
        if self._proc is not None and self._proc.returncode is None:
            with contextlib.suppress(ProcessLookupError):
                self._proc.kill()
            await self._proc.wait()


_Key = tuple[asyncio.AbstractEventLoop, str, SandboxPolicy]
_sessions: dict[_Key, SessionSandbox] = {}
_starting: dict[_Key, asyncio.Lock] = {}


async def session_for(policy: SandboxPolicy, workspace: Path) -> SessionSandbox:
    """This loop's running sandbox for `workspace` under `policy`, started on first use (and
    again when an agent's command ended it)."""
    key = (asyncio.get_running_loop(), os.path.realpath(workspace), policy)
    async with _starting.setdefault(key, asyncio.Lock()):
        current = _sessions.get(key)
        if current is None or not current.alive:
            if current is not None:
                await current.close()
            current = _sessions[key] = await SessionSandbox(policy, workspace).start()
        return current


async def run_in_session(policy: SandboxPolicy, workspace: Path, argv: Sequence[str],
                         env: Mapping[str, str], timeout_s: float,
                         on_output: Callable[[bytes], None],
                         on_process: Callable[[int, bool], None] | None = None) -> CommandEnd:
    """`argv` in the session sandbox of `workspace` (see `SessionSandbox.run`); a sandbox an
    earlier command ended is replaced once."""
    for attempt in (1, 2):
        box = await session_for(policy, workspace)
        try:
            return await box.run(argv, env, timeout_s, on_output, on_process)
        except _SandboxGone:
            if attempt == 2:
                raise
    raise AssertionError("unreachable")


async def close_sessions(workspace: Path | None = None) -> None:
    """Stop this loop's session sandboxes (of one workspace, or all)."""
    loop = asyncio.get_running_loop()
    want = os.path.realpath(workspace) if workspace is not None else None
    for key in [k for k in _sessions if k[0] is loop and want in (None, k[1])]:
        _starting.pop(key, None)
        await _sessions.pop(key).close()
