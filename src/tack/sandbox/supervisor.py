"""Runs inside a session's sandbox and starts each of its commands: the sandbox (bubblewrap,
namespaces, mounts, the proxy relay) is built once per agent session, so a command costs a
spawn instead of a new sandbox (see `session.py`, the host side).

Protocol, over the SEQPACKET socket passed as fd `argv[1]`: each message carries two fds,
the command's output pipe and a stream socket `ctl`. On `ctl` comes one JSON line (argv,
env); the command is spawned (`posix_spawn`: forking this interpreter costs ~10 ms) in its
own session with stdout and stderr on the pipe and `ctl` as fd 3, where Tack's shell prefix
does the hand-shake that puts it in its cgroup. This process reports `X <exit code>` on
`ctl` when it ends. Standard library only, started with `python -I -S`.
"""

from __future__ import annotations

import ctypes
import json
import os
import socket
import sys
import threading

PR_SET_DUMPABLE = 4


def _undumpable() -> None:
    """A command runs as the same user as this process: without this it could rewrite this
    process's memory through /proc/<pid>/mem and start the next commands unlimited."""
    try:
        ctypes.CDLL(None, use_errno=True).prctl(PR_SET_DUMPABLE, 0, 0, 0, 0)
    except (OSError, AttributeError):
        pass


def _command(out: int, ctl: socket.socket) -> None:
    try:
        # A buffered read cannot take bytes meant for the command's process: Tack sends
        # nothing more until that process has said `R`.
        request = json.loads(ctl.makefile("rb").readline())
        null = os.open(os.devnull, os.O_RDONLY | os.O_CLOEXEC)
        try:
            pid = os.posix_spawnp(request["argv"][0], request["argv"], request["env"],
                                  setsid=True, file_actions=[
                                      (os.POSIX_SPAWN_DUP2, null, 0),
                                      (os.POSIX_SPAWN_DUP2, out, 1),
                                      (os.POSIX_SPAWN_DUP2, out, 2),
                                      (os.POSIX_SPAWN_DUP2, ctl.fileno(), 3)])
        finally:
            os.close(null)
            os.close(out)
        _, status = os.waitpid(pid, 0)
        ctl.sendall(f"X {os.waitstatus_to_exitcode(status)}\n".encode())
    except (OSError, ValueError, KeyError) as exc:
        try:
            ctl.sendall(f"E {exc}\n".encode())
        except OSError:
            pass
    finally:
        ctl.close()


def main() -> None:
    _undumpable()
    channel = socket.socket(fileno=int(sys.argv[1]))
    channel.set_inheritable(False)
    fd_size = socket.CMSG_SPACE(2 * 4)
    while True:
        try:
            _, ancillary, _, _ = channel.recvmsg(16, fd_size)
        except InterruptedError:
            continue
        fds = [int.from_bytes(data[i:i + 4], sys.byteorder)
               for level, kind, data in ancillary
               if level == socket.SOL_SOCKET and kind == socket.SCM_RIGHTS
               for i in range(0, len(data) - len(data) % 4, 4)]
        if len(fds) != 2:
            return  # Tack closed the channel (or is gone): the sandbox ends with this process
        for fd in fds:  # no command may inherit another's pipe or socket
            os.set_inheritable(fd, False)
        # (Processes re-parented to the sandbox's pid 1, bubblewrap's init, are reaped there.)
        threading.Thread(target=_command, args=(fds[0], socket.socket(fileno=fds[1])),
                         daemon=True).start()


if __name__ == "__main__":
    main()
