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
from dataclasses import dataclass
from pathlib import Path

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


def is_checked_out(lower: Path) -> bool:
    """Whether the shared checkout is complete: `git worktree add` writes the `.git` file
    first and the index last, after the files, so only the index says it is done."""
    try:
        return _index(lower).is_file()
    except (OSError, WorkspaceError):
        return False


async def shared_checkout(repo: Path, commit: str, layers: Layers) -> Path:
    """The read-only lower layer for `commit`, checked out once (callers hold the repo lock)."""
    lower = shared_path(commit, layers)
    if not is_checked_out(lower):
        if lower.exists():  # a checkout interrupted half-way: gone, then unregistered
            await asyncio.to_thread(shutil.rmtree, lower, True)
            await git(repo, "worktree", "prune", check=False)
        lower.parent.mkdir(parents=True, exist_ok=True)
        await git(repo, "worktree", "add", "--quiet", "--detach", str(lower), commit)
    return lower


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


async def register(common: Path, path: Path, branch: str, lower: Path, layers: Layers,
                   key: str) -> bool:
    """Make `path` an overlay worktree on `branch` (which exists) without running git: the
    files `git worktree add --no-checkout` would write, plus the shared checkout's index.
    `git worktree add` takes the repository's lock for ~10 ms each, so 200 at once queue for
    seconds; these files are the workspace's own. False, with nothing done, when the name is
    taken in `<common>/worktrees` (`git worktree add` then picks another)."""
    admin, own = common / "worktrees" / key, layers.of(key)
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
    # Mounted first: `git worktree prune` drops an entry whose `<path>/.git` is missing.
    await mount(path, layers, key)
    try:
        admin.mkdir(parents=True)
        (admin / "commondir").write_text("../..\n")
        (admin / "HEAD").write_text(f"ref: refs/heads/{branch}\n")
        share_index(_index(lower), admin / "index")
        (admin / "gitdir").write_text(f"{path / '.git'}\n")  # last: now it is registered
    except OSError as exc:
        raise WorkspaceError(f"Could not register the overlay workspace {path}: {exc}.",
                             code="workspace_overlay_unavailable") from exc
    return True


async def mount(path: Path, layers: Layers, key: str) -> None:
    """Mount the issue's layers on `path` (again, after a reboot dropped the mount)."""
    own = layers.of(key)
    lower = (own / "lower").read_text().strip()
    options = f"lowerdir={lower},upperdir={own / 'upper'},workdir={own / 'work'}"
    # The mount(2) call itself, in a thread: a `mount` process per workspace costs more than
    # the mount, and 200 of them queue on the cores the agents start on.
    error = await asyncio.to_thread(_mount, "overlay", str(path), "overlay", options)
    if error:
        raise WorkspaceError(
            f"Could not mount the overlay workspace {path}: {error}. "
            "`workspace.strategy: overlay` needs root (CAP_SYS_ADMIN) and overlayfs; use "
            "`strategy: worktree` otherwise.",
            code="workspace_overlay_unavailable")


def _mount(source: str, target: str, kind: str, options: str) -> str | None:
    """mount(2); the error's text, or None when it is mounted."""
    if _LIBC.mount(source.encode(), target.encode(), kind.encode(), 0, options.encode()) == 0:
        return None
    return os.strerror(ctypes.get_errno())


_LIBC = ctypes.CDLL(ctypes.util.find_library("c"), use_errno=True)
_LIBC.mount.argtypes = [ctypes.c_char_p, ctypes.c_char_p, ctypes.c_char_p, ctypes.c_ulong,
                        ctypes.c_char_p]


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
