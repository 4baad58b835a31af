"""The seccomp filter of every sandboxed process: system calls that only serve to reach past
the sandbox fail with `Operation not permitted` (sockets of other families with `Address
family not supported`).

Built once per Tack process with libseccomp (through `pyseccomp`, a ctypes binding to the
Debian package `libseccomp2`) and handed to bubblewrap as a compiled BPF program
(`--seccomp FD`), which loads it just before the command starts. Where libseccomp is
missing the sandbox runs without a filter and `tack doctor` says so.
"""

from __future__ import annotations

import atexit
import errno
import functools
import os
import shutil
import tempfile
from pathlib import Path
from typing import Any

import structlog

log = structlog.get_logger(__name__)

# Denied outright: debugging other processes (and their memory), mounts, kernel keyrings,
# loading kernels, modules or BPF programs, perf and userfaultfd (favourite kernel-exploit
# primitives), io_uring (its operations bypass seccomp), joining other namespaces.
DENIED = (
    "ptrace", "process_vm_readv", "process_vm_writev", "kcmp",
    "mount", "umount2", "pivot_root", "move_mount", "open_tree", "fsopen", "fsmount",
    "fsconfig", "fspick", "mount_setattr",
    "kexec_load", "kexec_file_load", "init_module", "finit_module", "delete_module",
    "bpf", "perf_event_open", "userfaultfd",
    "keyctl", "add_key", "request_key",
    "io_uring_setup", "io_uring_enter", "io_uring_register",
    "setns", "open_by_handle_at", "name_to_handle_at",
    "swapon", "swapoff", "reboot", "acct", "syslog", "quotactl",
)
CLONE_NEWUSER = 0x10000000
# Socket families a sandboxed command may open; the network itself is off anyway (only
# loopback, and Tack's proxy through a Unix socket).
AF_UNIX, AF_INET, AF_INET6 = 1, 2, 10
MAX_FAMILY = 64


def _build(pyseccomp: Any) -> Any:
    deny = pyseccomp.ERRNO(errno.EPERM)
    program = pyseccomp.SyscallFilter(pyseccomp.ALLOW)
    for name in DENIED:
        try:
            program.add_rule(deny, name)
        except OSError:
            continue  # a call this kernel or libseccomp does not know: nothing to deny
    # New user namespaces would give a process every capability again, inside them.
    for call in ("unshare", "clone"):
        program.add_rule(deny, call, pyseccomp.Arg(0, pyseccomp.MASKED_EQ, CLONE_NEWUSER,
                                                   CLONE_NEWUSER))
    # clone3 passes its flags in memory a filter cannot read: glibc falls back to clone.
    program.add_rule(pyseccomp.ERRNO(errno.ENOSYS), "clone3")
    nosupport = pyseccomp.ERRNO(errno.EAFNOSUPPORT)
    for family in range(MAX_FAMILY):
        if family not in (AF_UNIX, AF_INET, AF_INET6):
            program.add_rule(nosupport, "socket", pyseccomp.Arg(0, pyseccomp.EQ, family))
    program.add_rule(nosupport, "socket", pyseccomp.Arg(0, pyseccomp.GE, MAX_FAMILY))
    return program


@functools.cache
def filter_path() -> Path | None:
    """The compiled filter (a file only Tack's user can read), or None without libseccomp."""
    try:
        import pyseccomp
    except (ImportError, OSError) as exc:  # the binding, or libseccomp.so.2 itself
        log.warning("sandbox.seccomp.unavailable", error=str(exc))
        return None
    try:
        program = _build(pyseccomp)
    except OSError as exc:
        log.warning("sandbox.seccomp.unavailable", error=str(exc))
        return None
    directory = tempfile.mkdtemp(prefix="tack-seccomp-")  # 0700
    atexit.register(shutil.rmtree, directory, True)
    path = Path(directory) / "filter.bpf"
    with path.open("wb") as fh:
        program.export_bpf(fh)
    return path


def open_filter() -> int | None:
    """A read-only fd of the compiled filter for bubblewrap's `--seccomp`, or None."""
    path = filter_path()
    return os.open(path, os.O_RDONLY) if path is not None else None


def describe() -> str:
    """One line for `tack doctor`."""
    if filter_path() is None:
        return ("seccomp: unavailable (install the Debian package libseccomp2 and the PyPI "
                "package pyseccomp); sandboxed commands run without a system-call filter")
    return ("seccomp: on (ptrace, mount, bpf, keyctl, perf_event_open, userfaultfd, "
            "io_uring, setns, new user namespaces and non-inet sockets denied)")
