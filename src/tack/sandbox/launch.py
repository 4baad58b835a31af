"""Turns a command into a sandboxed one: limits, then bubblewrap, then (with network) the
forwarder to Tack's proxy. Callers spawn `SandboxedCommand.argv` with its `env` and call
`close()` when the process has ended.

Layout inside: `/` read-only; the workspace read-write except its `.git`, which is read-only
with the repository's git dirs (their hooks and config run on the host); a private `/tmp` with
HOME at /tmp/home; the `hide` paths, the other workspaces and Tack's state dir empty; fresh
`/proc` and `/dev`; no capabilities; own pid, ipc, uts and network namespaces. A process that
outlives Tack is impossible: bubblewrap dies with its parent, and its pid namespace with it.
"""

from __future__ import annotations

import contextlib
import functools
import os
import shlex
import shutil
import signal
import subprocess
import sys
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import psutil

from tack.errors import TackError
from tack.sandbox import seccomp
from tack.sandbox.limits import PidsCgroup, create_pids_cgroup
from tack.sandbox.policy import SANDBOX_HOME, SandboxPolicy
from tack.sandbox.proxy import proxy_for

PROXY_PORT = 3128
PROXY_SOCKET = "/tmp/.tack-proxy.sock"
FORWARDER = Path(__file__).with_name("forwarder.py")
PROBE_TIMEOUT_S = 10.0
CPU_GRACE_S = 2
SECCOMP_FD = 9  # the fd the limits prefix opens the filter on, for bubblewrap


class SandboxUnavailable(TackError):
    """bubblewrap is missing or cannot create namespaces here."""

    code = "sandbox_unavailable"


@dataclass(frozen=True)
class SandboxSupport:
    ok: bool
    bwrap: str | None
    detail: str


@functools.cache
def sandbox_support() -> SandboxSupport:
    """Whether bubblewrap works on this machine (asked once per process)."""
    bwrap = shutil.which("bwrap")
    if bwrap is None:
        return SandboxSupport(False, None, "bwrap not found on PATH (Debian package "
                                           "`bubblewrap`)")
    try:
        done = subprocess.run(
            [bwrap, "--ro-bind", "/", "/", "--unshare-all", "--cap-drop", "ALL",
             "--die-with-parent", "--", "true"],
            capture_output=True, text=True, timeout=PROBE_TIMEOUT_S, stdin=subprocess.DEVNULL)
    except (OSError, subprocess.TimeoutExpired) as exc:
        return SandboxSupport(False, bwrap, f"{bwrap} did not run: {exc}")
    if done.returncode != 0:
        reason = done.stderr.strip().splitlines()[-1:] or [f"exit code {done.returncode}"]
        return SandboxSupport(False, bwrap, f"{bwrap} cannot create namespaces ({reason[0]}); "
                                            "user namespaces may be disabled "
                                            "(sysctl kernel.unprivileged_userns_clone)")
    return SandboxSupport(True, bwrap, bwrap)


def require_sandbox() -> str:
    support = sandbox_support()
    if not support.ok or support.bwrap is None:
        raise SandboxUnavailable(
            f"The sandbox for agents' commands is not available: {support.detail}. Install "
            "bubblewrap (`apt-get install bubblewrap`), or set `sandbox: {enabled: false}` in "
            "WORKFLOW.md to run them unsandboxed (see docs/sandbox.md).")
    return support.bwrap


@dataclass
class SandboxedCommand:
    argv: list[str]
    env: dict[str, str]
    policy: SandboxPolicy
    cgroup: PidsCgroup | None = None

    def explain(self, returncode: int | None) -> str:
        """Why the sandbox ended or hampered the command, for the agent ('' when it did not)."""
        notes = []
        if self.cgroup is not None:
            events = _read(self.cgroup.path / "pids.events").split()
            if len(events) >= 2 and events[-1].isdigit() and int(events[-1]) > 0:
                notes.append(f"the sandbox refused {events[-1]} new processes: the command "
                             f"reached sandbox.limits.processes ({self.policy.limits.processes})")
        if returncode in (-signal.SIGXCPU, 128 + signal.SIGXCPU):
            notes.append("a process used up its CPU time (sandbox.limits.cpu_seconds = "
                         f"{self.policy.limits.cpu_seconds})")
        return "; ".join(notes)

    def close(self) -> None:
        if self.cgroup is not None:
            self.cgroup.remove()


def user_tasks() -> int:
    """Processes and threads of this user, as RLIMIT_NPROC counts them."""
    uid = os.getuid()
    count = 0
    for proc in psutil.process_iter(["uids", "num_threads"]):
        uids, threads = proc.info["uids"], proc.info["num_threads"]
        if uids is not None and uids.real == uid:
            count += threads or 1
    return count


def _read(path: Path) -> str:
    try:
        return path.read_text()
    except OSError:
        return ""


def _real(path: Path | str) -> str:
    return os.path.realpath(path)


def _git_dirs(workspace: Path) -> list[str]:
    """The git dirs a worktree's `.git` file points at (its own and the common one)."""
    dot_git = workspace / ".git"
    if not dot_git.is_file():
        return []
    text = _read(dot_git).strip()
    if not text.startswith("gitdir:"):
        return []
    gitdir = Path(text.split(":", 1)[1].strip())
    gitdir = gitdir if gitdir.is_absolute() else workspace / gitdir
    dirs = [_real(gitdir)]
    common = _read(gitdir / "commondir").strip()
    if common:
        dirs.append(_real(gitdir / common if not Path(common).is_absolute() else common))
    return [d for d in dirs if os.path.isdir(d)]


def _under(path: str, parent: str) -> bool:
    return path == parent or path.startswith(parent.rstrip("/") + "/")


def _own_runtime() -> list[str]:
    """The interpreter, its environment and Tack's own package: a checkout or venv under /tmp
    (a CI clone) must stay runnable inside the sandbox for `tack check` and the proxy relay."""
    import tack

    paths = {sys.prefix, sys.base_prefix, os.path.dirname(os.path.realpath(sys.executable)),
             str(Path(tack.__file__).resolve().parent.parent)}
    return sorted({_real(Path(p)) for p in paths if os.path.isdir(p)})


def bwrap_args(bwrap: str, policy: SandboxPolicy, workspace: Path,
               read_only: Sequence[Path] = ()) -> list[str]:
    """bubblewrap's command line up to `--`, for one workspace (a pure function)."""
    ws = _real(workspace)
    args = [bwrap, "--die-with-parent", "--new-session", "--unshare-all", "--cap-drop", "ALL",
            "--ro-bind", "/", "/", "--dev", "/dev", "--proc", "/proc",
            "--tmpfs", "/tmp", "--dir", SANDBOX_HOME,
            # Services' sockets live here (docker, postgres, dbus, systemd): a read-only
            # mount still lets a process connect() to a socket, so they must be absent.
            "--tmpfs", "/run"]
    for hidden in sorted({_real(p) for p in policy.hide}):
        if _under(hidden, "/tmp") and not _under(ws, hidden):
            continue  # the private /tmp already hides it
        if os.path.isdir(hidden):
            args += ["--tmpfs", hidden]
        elif os.path.lexists(hidden):
            args += ["--ro-bind", "/dev/null", hidden]
    for own in _own_runtime():  # read-only again when the private /tmp would hide them
        if _under(own, "/tmp") and not _under(ws, own):
            args += ["--ro-bind", own, own]
    args += ["--bind", ws, ws]
    for extra in policy.writable:
        if os.path.exists(extra):
            args += ["--bind", _real(extra), _real(extra)]
    for path in read_only:  # Tack's own files for this command, e.g. the prompt
        args += ["--ro-bind", _real(path), _real(path)]
    # Read-only last, so nothing above makes them writable: a worktree's `.git` file could
    # otherwise be pointed at a directory of the agent's hooks, run by Tack's next git command.
    if os.path.lexists(os.path.join(ws, ".git")):
        args += ["--ro-bind", os.path.join(ws, ".git"), os.path.join(ws, ".git")]
    for gitdir in _git_dirs(Path(ws)):
        args += ["--ro-bind", gitdir, gitdir]
    return args + ["--chdir", ws]


@contextlib.contextmanager
def seccomp_args() -> Iterator[tuple[list[str], tuple[int, ...]]]:
    """bubblewrap's `--seccomp FD` arguments and the fd to pass (open while in the block)."""
    fd = seccomp.open_filter()
    if fd is None:
        yield [], ()
        return
    try:
        yield ["--seccomp", str(fd)], (fd,)
    finally:
        os.close(fd)


def _limits_prefix(policy: SandboxPolicy, cgroup: PidsCgroup | None) -> list[str]:
    """`sh -c` that joins the cgroup and sets rlimits, then execs bubblewrap."""
    steps = []
    path = seccomp.filter_path()
    if path is not None:  # bubblewrap reads the filter from this fd (`--seccomp`)
        steps.append(f"exec {SECCOMP_FD}< {shlex.quote(str(path))} || exit 125")
    if cgroup is not None:
        steps.append('echo $$ > "$0" || exit 125')
    elif policy.limits.processes and os.geteuid() != 0:
        # No writable cgroup: RLIMIT_NPROC, which binds everyone but root, counts all of the
        # user's tasks, so it allows the configured number on top of those already running.
        steps.append(f"ulimit -u {user_tasks() + policy.limits.processes}")
    if policy.limits.cpu_seconds:
        # SIGXCPU at the soft limit says why; SIGKILL a little later ends a process ignoring it.
        steps.append(f"ulimit -St {policy.limits.cpu_seconds} && "
                     f"ulimit -Ht {policy.limits.cpu_seconds + CPU_GRACE_S}")
    if policy.limits.memory_mb:
        steps.append(f"ulimit -v {policy.limits.memory_mb * 1024}")
    if not steps:
        return []
    script = " && ".join(steps) + ' && exec "$@"'
    # dash (Debian's sh) starts fastest but spells the process limit `-p`; bash says `-u`.
    shell = "/bin/bash" if "ulimit -u" in script else "/bin/sh"
    return [shell, "-c", script, str(cgroup.procs) if cgroup else "sh"]


async def prepare(argv: Sequence[str], policy: SandboxPolicy, workspace: Path,
                  env: Mapping[str, str], *, read_only: Sequence[Path] = ()
                  ) -> SandboxedCommand:
    """`argv` as a sandboxed command in `workspace`, with `env` cut to the policy's names;
    `read_only` paths are bound in read-only (where they exist outside).

    Raises `SandboxUnavailable` when bubblewrap cannot run here.
    """
    bwrap = require_sandbox()
    args = bwrap_args(bwrap, policy, workspace, read_only)
    inner_env = policy.environment(env)
    inner = list(argv)
    if policy.network:
        proxy = await proxy_for(policy.allow_hosts)
        args += ["--ro-bind", str(proxy.socket_path), PROXY_SOCKET]
        url = f"http://127.0.0.1:{PROXY_PORT}"
        for name in ("HTTP_PROXY", "HTTPS_PROXY", "http_proxy", "https_proxy"):
            inner_env[name] = url
        inner = [sys.executable, "-I", "-S", str(FORWARDER), str(PROXY_PORT), PROXY_SOCKET,
                 *inner]
    cgroup = create_pids_cgroup(policy.limits.processes) if policy.limits.processes else None
    if seccomp.filter_path() is not None:
        args += ["--seccomp", str(SECCOMP_FD)]
    full = [*_limits_prefix(policy, cgroup), *args, "--", *inner]
    return SandboxedCommand(full, inner_env, policy, cgroup)
