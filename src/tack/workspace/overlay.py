"""Copy-on-write worktrees (`workspace.strategy: overlay`): one shared checkout per commit,
and per issue an overlayfs whose upper layer holds only what the agent changed.

The workspace is still a registered git worktree on the issue's branch: its `.git` file lives
in the upper layer, its index (copied from the shared checkout's) in the repository's
`worktrees/` directory. Mounting needs CAP_SYS_ADMIN in Tack's mount namespace (root, or a
container that grants it); every process on the host then sees the workspace. Layers live
beside the workspace root: `<root>.bases/<commit>` and `<root>.layers/<key>/{upper,work}`.
"""

from __future__ import annotations

import asyncio
import ctypes
import ctypes.util
import os
import shutil
import subprocess
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

from tack.errors import WorkspaceError
from tack.workspace.git import git


@dataclass(frozen=True)
class Layers:
    """Where the overlay parts of the workspaces under `root` live."""

    root: Path

    @property
    def bases(self) -> Path:
        return self.root.parent / f"{self.root.name}.bases"

    def of(self, key: str) -> Path:
        return self.root.parent / f"{self.root.name}.layers" / key


async def commit_of(repo: Path, ref: str) -> str:
    _, out = await git(repo, "rev-parse", "--verify", f"{ref}^{{commit}}")
    return out.strip()


def shared_path(commit: str, layers: Layers) -> Path:
    return layers.bases / commit


# In the shared checkout's admin directory, written once its files and index are all there
# and git reported success: a checkout cut off half-way (or by a failing hook) has none.
READY = "tack-ready"
CHECKOUT_WORKERS = max(4, os.cpu_count() or 1)  # git processes writing a shared checkout


def is_checked_out(lower: Path) -> bool:
    """Whether the shared checkout is complete (its `READY` marker is there)."""
    try:
        return (_index(lower).parent / READY).is_file()
    except (OSError, WorkspaceError):
        return False


async def shared_checkout(repo: Path, commit: str, layers: Layers,
                          registering: asyncio.Lock) -> Path:
    """The read-only lower layer for `commit` (callers run one at a time per commit). One
    left by an earlier run is kept if git finds it as checked out, and restored if someone
    changed it (workspaces mounted on it may be in use); one cut off before git wrote its
    index is made again. Only the registration holds `registering` (the repository's lock):
    the files are written outside it, so a checkout for one commit does not hold up the
    workspaces of others."""
    lower = shared_path(commit, layers)
    if _has_index(lower):
        await _restore(lower)
    else:
        if lower.exists():  # cut off before any workspace could use it: gone, then unregistered
            await asyncio.to_thread(shutil.rmtree, lower, True)
            async with registering:
                await git(repo, "worktree", "prune", check=False)
        lower.parent.mkdir(parents=True, exist_ok=True)
        async with registering:
            await git(repo, "worktree", "add", "--quiet", "--no-checkout", "--detach",
                      str(lower), commit)
        # Several processes write the files: 2–4× faster for 5,000 files, even on 2 cores (the
        # time goes to creating files in the kernel, not to the CPU).
        await git(lower, "-c", f"checkout.workers={CHECKOUT_WORKERS}", "checkout", "--quiet",
                  "--force")
    (_index(lower).parent / READY).write_text(f"{commit}\n")
    return lower


def _has_index(lower: Path) -> bool:
    try:
        return _index(lower).is_file()
    except (OSError, WorkspaceError):
        return False


async def _restore(lower: Path) -> None:
    """Put back what someone changed in a shared checkout, by git's own account."""
    _, changed = await git(lower, "status", "--porcelain")
    if changed:
        await git(lower, "reset", "--quiet", "--hard")
        await git(lower, "clean", "--quiet", "-d", "--force")


def _index(worktree: Path) -> Path:
    """A linked worktree's index, from its `.git` file (`gitdir: <admin dir>`), no git run."""
    text = (worktree / ".git").read_text().strip()
    if not text.startswith("gitdir:"):
        raise WorkspaceError(f"{worktree / '.git'} is not a linked worktree's .git file.",
                             code="workspace_overlay_unavailable")
    admin = Path(text.removeprefix("gitdir:").strip())
    return (admin if admin.is_absolute() else worktree / admin) / "index"


def share_index(shared: Path, own: Path) -> None:
    """Give a workspace the shared checkout's index as a hard link: git replaces an index by
    writing a new file and renaming it over, never in place, so the first write in either
    gives that one its own copy. A copy where links cannot be made."""
    try:
        os.link(shared, own)
    except OSError:
        shutil.copyfile(shared, own)


async def stack(path: Path, lower: Path, layers: Layers, key: str) -> None:
    """Turn the registered, empty worktree at `path` into an overlay of `lower`."""
    own = layers.of(key)
    upper, work = own / "upper", own / "work"
    try:
        index = _index(lower), _index(path)
        for part in (upper, work):
            part.mkdir(parents=True, exist_ok=True)
        # The shared checkout's index already describes these files: none is read or written.
        share_index(*index)
        (path / ".git").rename(upper / ".git")
        (own / "lower").write_text(str(lower))
    except OSError as exc:
        raise WorkspaceError(f"Could not lay out the overlay workspace {path}: {exc}.",
                             code="workspace_overlay_unavailable") from exc
    await mount(path, layers, key)


async def register(common: Path, path: Path, branch: str, lower: Path,
                   checked_out: asyncio.Future[Path], branch_made: asyncio.Future[bool],
                   layers: Layers, key: str) -> bool:
    """Make `path` an overlay worktree on `branch` without running git: the files `git
    worktree add --no-checkout` would write, plus the shared checkout's index. `git worktree
    add` takes the repository's lock for ~10 ms each, so 200 at once queue for seconds; these
    files are the workspace's own. Once the shared checkout (`checked_out`, shared: never
    cancelled from here) and the branch (`branch_made`) are there, the workspace is made in
    one trip to the thread pool, so the workspaces of a burst are ready one after another,
    not all at the end; while the shared checkout is still being made (seconds, at start-up)
    its directories are made meanwhile. False, with nothing left behind, when the name is
    taken in `<common>/worktrees` (`git worktree add` then picks another) or the branch was
    not made (it existed)."""
    admin, own = common / "worktrees" / key, layers.of(key)
    laid = not checked_out.done()
    if laid and not await _off_loop(_lay_out, admin, own, path, lower):
        return False
    try:
        shared = await asyncio.shield(checked_out)
        if await branch_made:
            return await _off_loop(_make, admin, own, path, shared, branch, laid)
    except BaseException:
        if laid:
            await asyncio.shield(_off_loop(_undo, path, own, None))
        raise
    if laid:
        await _off_loop(_undo, path, own, None)
    return False


def _lay_out(admin: Path, own: Path, path: Path, lower: Path) -> bool:
    """The workspace's own directories and files (not its registration)."""
    if os.path.lexists(admin):
        return False
    try:
        for part in (own / "upper", own / "work", path):
            part.mkdir(parents=True, exist_ok=part != path)
        (own / "upper" / ".git").write_text(f"gitdir: {admin}\n")
        (own / "lower").write_text(str(lower))
    except OSError as exc:
        raise WorkspaceError(f"Could not lay out the overlay workspace {path}: {exc}.",
                             code="workspace_overlay_unavailable") from exc
    return True


def _make(admin: Path, own: Path, path: Path, lower: Path, branch: str, laid: bool) -> bool:
    """Lay out (unless `laid`), mount, then register: the workspace is ready."""
    if not laid and not _lay_out(admin, own, path, lower):
        return False
    try:
        _mount_own(path, own, lower)
        # Mounted first: `git worktree prune` drops an entry whose `<path>/.git` is missing.
        _admit(admin, path, branch, lower)
    except BaseException:
        _undo(path, own, admin)
        raise
    return True


def _admit(admin: Path, path: Path, branch: str, lower: Path) -> None:
    """Register the mounted workspace at `path` with git: the admin files, `gitdir` last."""
    try:
        admin.mkdir(parents=True)
        (admin / "commondir").write_text("../..\n")
        (admin / "HEAD").write_text(f"ref: refs/heads/{branch}\n")
        share_index(_index(lower), admin / "index")
        (admin / "gitdir").write_text(f"{path / '.git'}\n")  # last: now it is registered
    except OSError as exc:
        raise WorkspaceError(f"Could not register the overlay workspace {path}: {exc}.",
                             code="workspace_overlay_unavailable") from exc


def _undo(path: Path, own: Path, admin: Path | None) -> None:
    """Take back what `register` did: unmount, drop the layers, the mount point, the admin."""
    if os.path.ismount(path):  # detached: nothing can use it yet, and nothing will
        _LIBC.umount2(str(path).encode(), _MNT_DETACH)
    for part in (own, path, *([admin] if admin else [])):
        shutil.rmtree(part, ignore_errors=True)


async def mount(path: Path, layers: Layers, key: str) -> None:
    """Mount the issue's layers on `path` (again, after a reboot dropped the mount)."""
    own = layers.of(key)
    lower = Path((own / "lower").read_text().strip())
    await _off_loop(_mount_own, path, own, lower)


def _mount_own(path: Path, own: Path, lower: Path) -> None:
    options = f"lowerdir={lower},upperdir={own / 'upper'},workdir={own / 'work'}"
    # The mount(2) call itself, in a thread: a `mount` process per workspace costs more than
    # the mount, and 200 of them queue on the cores the agents start on.
    error = _mount("overlay", str(path), "overlay", options)
    if error:
        raise WorkspaceError(
            f"Could not mount the overlay workspace {path}: {error}. "
            "`workspace.strategy: overlay` needs root (CAP_SYS_ADMIN) and overlayfs; use "
            "`strategy: worktree` otherwise.",
            code="workspace_overlay_unavailable")


# Each workspace's directories, files and mount(2), off the event loop (where every run's
# own work queues: ~3 ms of file system calls per workspace on the loop was most of what an
# overlay cost over a directory) and apart from asyncio's default threads, which the runs'
# other blocking calls use. More threads only queue on the kernel's locks of the same
# parent directories and of the mount table.
_FILES = ThreadPoolExecutor(max_workers=4, thread_name_prefix="tack-overlay")
_T = TypeVar("_T")


async def _off_loop(call: Callable[..., _T], *args: object) -> _T:
    return await asyncio.get_running_loop().run_in_executor(_FILES, call, *args)


def _mount(source: str, target: str, kind: str, options: str) -> str | None:
    """mount(2); the error's text, or None when it is mounted."""
    if _LIBC.mount(source.encode(), target.encode(), kind.encode(), 0, options.encode()) == 0:
        return None
    return os.strerror(ctypes.get_errno())


_LIBC = ctypes.CDLL(ctypes.util.find_library("c"), use_errno=True)
_LIBC.mount.argtypes = [ctypes.c_char_p, ctypes.c_char_p, ctypes.c_char_p, ctypes.c_ulong,
                        ctypes.c_char_p]
_LIBC.umount2.argtypes = [ctypes.c_char_p, ctypes.c_int]
_MNT_DETACH = 2


def has_layers(layers: Layers, key: str) -> bool:
    return (layers.of(key) / "lower").is_file()


def is_mounted(path: Path) -> bool:
    return os.path.ismount(path)


async def discard(repo: Path, path: Path, layers: Layers, key: str) -> None:
    """Unmount, drop the issue's layers and its worktree registration; the branch stays."""
    if is_mounted(path):
        proc = await asyncio.create_subprocess_exec(
            "umount", str(path), stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.DEVNULL)
        await proc.wait()
    await asyncio.to_thread(shutil.rmtree, layers.of(key), True)
    if os.path.lexists(path) and not is_mounted(path):
        await asyncio.to_thread(shutil.rmtree, path, True)
    await git(repo, "worktree", "prune", check=False)


def can_mount(scratch: Path) -> bool:
    """Whether this process may mount an overlayfs: mounts and unmounts a probe under
    `scratch` (which must not exist yet)."""
    dirs = [scratch / n for n in ("lo", "up", "wk", "mnt")]
    for d in dirs:
        d.mkdir(parents=True)
    done = subprocess.run(["mount", "-t", "overlay", "overlay", "-o",
                           f"lowerdir={dirs[0]},upperdir={dirs[1]},workdir={dirs[2]}",
                           str(dirs[3])], capture_output=True)
    if done.returncode == 0:
        subprocess.run(["umount", str(dirs[3])], check=True)
    return done.returncode == 0
