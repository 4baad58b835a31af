"""Removing the shared checkouts of `workspace.strategy: overlay` (`<root>.bases/<commit>`)
that no workspace stands on any more, and remounting the workspaces a reboot unmounted.

A shared checkout is kept while it is the current base commit, while any workspace's layers
name it as their lower (`<root>.layers/<key>/lower`: mounted or not, a workspace on disk is
mounted again on that lower after a restart), and while any overlay mount in this mount
namespace has it as a lower directory. Everything else is garbage. Making or choosing a
lower happens under a shared lock (`pinned`), collecting under the exclusive one, so a
workspace being created never loses its lower between choosing it and recording it.
A condemned checkout is first renamed into `<root>.bases.trash/` (atomic: a crash leaves
either the checkout or the trash), then unregistered and deleted; trash a crash left behind
is deleted by the next collection. The lock is the file `<root>.bases.lock`.
"""

from __future__ import annotations

import asyncio
import fcntl
import os
import re
import secrets
import shutil
import subprocess
from collections.abc import AsyncIterator, Iterable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path

import structlog

from tack.errors import WorkspaceError
from tack.workspace import overlay
from tack.workspace.overlay import Layers

log = structlog.get_logger(__name__)

_COMMIT = re.compile(r"[0-9a-f]{40}(?:[0-9a-f]{24})?")  # SHA-1 or SHA-256 object names
_MOUNTINFO = Path("/proc/self/mountinfo")


@dataclass(frozen=True)
class SharedCheckout:
    """One `<root>.bases/<commit>` and how many workspaces stand on it."""

    commit: str
    path: Path
    workspaces: int

    @property
    def in_use(self) -> bool:
        return self.workspaces > 0


@dataclass
class Collected:
    """What one collection did: the commits whose checkouts it removed and the disk freed."""

    removed: list[str] = field(default_factory=list)
    freed_bytes: int = 0
    kept: int = 0
    skipped: str | None = None  # why nothing was looked at (the lock was held, ...)


# ---------------------------------------------------------------------------- inventory

def checkouts(layers: Layers) -> list[Path]:
    """The shared checkouts under `layers.bases` (directories named by a commit)."""
    try:
        entries = list(os.scandir(layers.bases))
    except FileNotFoundError:
        return []
    return sorted(Path(e.path) for e in entries if _COMMIT.fullmatch(e.name) and e.is_dir())


def lowers_in_use(layers: Layers) -> dict[str, int]:
    """The real paths of the lowers workspaces stand on, with how many stand on each: every
    workspace's recorded lower, and every overlay mounted here. Raises OSError when a record
    cannot be read (then nothing may be judged unused)."""
    used: dict[str, int] = {}
    parent = _layers_dir(layers)
    try:
        keys = [e.name for e in os.scandir(parent) if e.is_dir()]
    except FileNotFoundError:
        keys = []
    for key in keys:
        try:
            lower = (parent / key / "lower").read_text().strip()
        except FileNotFoundError:
            continue  # a workspace being laid out records its lower under `pinned`
        _count(used, lower.split(":"))
    _count(used, mounted_lowers())
    return used


def _layers_dir(layers: Layers) -> Path:
    return layers.of("_").parent  # `<root>.layers`


def _count(used: dict[str, int], lowers: Iterable[str]) -> None:
    for lower in lowers:
        if lower:
            real = os.path.realpath(lower)
            used[real] = used.get(real, 0) + 1


def mounted_lowers(mountinfo: Path = _MOUNTINFO) -> list[str]:
    """The lower directories of the overlays mounted in this mount namespace."""
    try:
        lines = mountinfo.read_text().splitlines()
    except OSError:
        return []
    found: list[str] = []
    for line in lines:
        _, sep, tail = line.partition(" - ")
        fields = tail.split(" ")
        if not sep or len(fields) < 3 or fields[0] != "overlay":
            continue
        # Option values escape `,`, `=`, blanks and `\` as octal (`\054`).
        for option in fields[2].split(","):
            if option.startswith("lowerdir="):
                found += _unescape(option.removeprefix("lowerdir=")).split(":")
    return found


def _unescape(text: str) -> str:
    return re.sub(r"\\([0-7]{3})", lambda m: chr(int(m.group(1), 8)), text)


def inventory(layers: Layers) -> list[SharedCheckout]:
    """Every shared checkout and how many workspaces stand on it (for `tack doctor`)."""
    try:
        used = lowers_in_use(layers)
    except OSError:
        used = {}
    return [SharedCheckout(p.name, p, used.get(os.path.realpath(p), 0))
            for p in checkouts(layers)]


def disk_bytes(path: Path) -> int:
    """Disk used under `path` (allocated blocks, each hard-linked file counted once)."""
    seen: set[tuple[int, int]] = set()
    total = 0
    for top, dirs, files in os.walk(path):
        for name in (*dirs, *files):
            try:
                st = os.lstat(os.path.join(top, name))
            except OSError:
                continue
            if (st.st_dev, st.st_ino) not in seen:
                seen.add((st.st_dev, st.st_ino))
                total += st.st_blocks * 512
    return total


# ------------------------------------------------------------------------------ the lock

def trash_dir(layers: Layers) -> Path:
    """Beside the bases (same file system, so renaming into it is atomic), not inside them."""
    return layers.bases.with_name(f"{layers.bases.name}.trash")


def _open_lock(layers: Layers) -> int:
    path = layers.bases.with_name(f"{layers.bases.name}.lock")
    try:
        return os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
    except FileNotFoundError:
        path.parent.mkdir(parents=True, exist_ok=True)
        return os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)


@dataclass
class _State:
    """Per bases directory, in this process: pins held, and the collection to run."""

    pins: int = 0
    repo: Path | None = None
    base_ref: str = "HEAD"
    wanted: bool = False  # asked for while pinned, or while one ran
    task: asyncio.Task[Collected] | None = None


_STATES: dict[Path, _State] = {}


def _state(layers: Layers) -> _State:
    return _STATES.setdefault(layers.bases, _State())


@asynccontextmanager
async def pinned(layers: Layers) -> AsyncIterator[None]:
    """Hold off collections (of every process) while a lower is made or chosen and recorded.
    Shared: pins never wait for one another; a collection holds the lock for milliseconds."""
    state = _state(layers)
    state.pins += 1
    fd = -1
    try:
        try:
            fd = _open_lock(layers)
            try:
                fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
            except BlockingIOError:  # another process is renaming its garbage away
                await asyncio.to_thread(fcntl.flock, fd, fcntl.LOCK_SH)
        except OSError as exc:
            raise WorkspaceError(
                f"Could not lock the shared checkouts in {layers.bases}: {exc}.",
                code="workspace_overlay_unavailable") from exc
        yield
    finally:
        if fd >= 0:
            os.close(fd)
        state.pins -= 1
        if state.pins == 0 and state.wanted and state.repo is not None:
            collect_soon(state.repo, layers, state.base_ref)


# ---------------------------------------------------------------------------- collecting

def collect_soon(repo: Path, layers: Layers, base_ref: str) -> None:
    """`collect` in the background: once at a time per bases directory, again afterwards if
    asked meanwhile, and after the last pin of this process is released if pinned now."""
    state = _state(layers)
    state.repo, state.base_ref, state.wanted = repo, base_ref, True
    if state.pins or (state.task is not None and not state.task.done()):
        return
    state.wanted = False
    state.task = asyncio.get_running_loop().create_task(_collect_logged(repo, layers, base_ref))


async def idle(layers: Layers) -> None:
    """Return once no background collection of these bases runs in this process."""
    state = _state(layers)
    while state.task is not None and not state.task.done():
        await asyncio.wait({state.task})


async def _collect_logged(repo: Path, layers: Layers, base_ref: str) -> Collected:
    try:
        done = await collect(repo, layers, base_ref)
    except (WorkspaceError, OSError, subprocess.SubprocessError) as exc:
        log.warning("workspace.shared_checkouts_collect_failed", bases=str(layers.bases),
                    error=getattr(exc, "message", str(exc)))
        done = Collected(skipped=str(exc))
    # Not when cancelled (Tack is stopping): asked for meanwhile, so run once more.
    state = _state(layers)
    if state.wanted and not state.pins:
        state.wanted = False
        state.task = asyncio.get_running_loop().create_task(
            _collect_logged(repo, layers, base_ref))
    return done


async def collect(repo: Path, layers: Layers, base_ref: str) -> Collected:
    """Remove the shared checkouts no workspace stands on and that are not `base_ref`'s
    commit now; then delete them and any trash an interrupted collection left."""
    # All in a thread, git included: an asyncio subprocess cancelled while it starts can hang
    # the loop's shutdown (CPython 3.11), and Tack may stop while a collection runs.
    result = await asyncio.to_thread(_collect, repo, layers, base_ref)
    if result.skipped and _state(layers).pins:
        _state(layers).wanted = True  # again once this process's pins are released
    return result


def _collect(repo: Path, layers: Layers, base_ref: str) -> Collected:
    if not layers.bases.is_dir():
        return Collected()
    # Read before the lock: a base that moves meanwhile is checked out under a pin.
    keep = _commit_of(repo, base_ref)
    done = _condemn(layers, keep)
    if isinstance(done, str):
        log.info("workspace.shared_checkouts_collect_deferred", reason=done)
        return Collected(skipped=done)
    condemned, kept = done
    result = Collected(kept=kept)
    for trash in _trash(layers):
        commit, _, _ = trash.name.partition("-")
        result.freed_bytes += _destroy(trash)
        if trash in condemned:
            result.removed.append(commit)
    if result.removed or result.freed_bytes:
        log.info("workspace.shared_checkouts_collected", bases=str(layers.bases),
                 removed=result.removed, freed_bytes=result.freed_bytes, kept=result.kept)
    return result


def _commit_of(repo: Path, ref: str) -> str:
    env = {k: v for k, v in os.environ.items()
           if k not in ("GIT_DIR", "GIT_WORK_TREE", "GIT_INDEX_FILE")}
    done = subprocess.run(["git", "-C", str(repo), "rev-parse", "--verify", f"{ref}^{{commit}}"],
                          capture_output=True, text=True, env=env, stdin=subprocess.DEVNULL,
                          timeout=60)
    if done.returncode != 0:
        raise WorkspaceError(f"Could not resolve {ref} in {repo} to keep its shared checkout: "
                             f"{done.stderr.strip()[-500:]}", code="workspace_git_failed")
    return done.stdout.strip()


def _condemn(layers: Layers, keep: str) -> tuple[list[Path], int] | str:
    """Under the exclusive lock: rename every unused checkout into the trash. The trash
    paths and how many checkouts were kept, or why nothing was done."""
    fd = _open_lock(layers)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return "a workspace is being prepared on a shared checkout"
        try:
            used = lowers_in_use(layers)
        except OSError as exc:
            return f"could not read which lowers are in use: {exc}"
        condemned: list[Path] = []
        kept = 0
        for path in checkouts(layers):
            if path.name == keep or os.path.realpath(path) in used:
                kept += 1
                continue
            trash = trash_dir(layers) / f"{path.name}-{secrets.token_hex(4)}"
            trash.parent.mkdir(exist_ok=True)
            os.rename(path, trash)
            # Now, not later: git refuses to check out a path registered but missing.
            _unregister(trash)
            condemned.append(trash)
        return condemned, kept
    finally:
        os.close(fd)


def _trash(layers: Layers) -> list[Path]:
    try:
        return sorted(Path(e.path) for e in os.scandir(trash_dir(layers)))
    except FileNotFoundError:
        return []


def _unregister(trash: Path) -> None:
    """Drop a condemned checkout's `worktrees/<name>` entry, unless another checkout took
    that entry since (after an interrupted collection)."""
    admin = _admin_of(trash)
    if admin is not None and not _claimed_elsewhere(admin, trash):
        shutil.rmtree(admin, ignore_errors=True)


def _destroy(trash: Path) -> int:
    """Delete a condemned checkout (unregistering it, if a crash did not let that happen);
    the bytes freed."""
    _unregister(trash)
    freed = disk_bytes(trash)
    shutil.rmtree(trash, ignore_errors=True)
    return freed


def _admin_of(checkout: Path) -> Path | None:
    try:
        text = (checkout / ".git").read_text().strip()
    except OSError:
        return None
    if not text.startswith("gitdir:"):
        return None
    admin = Path(text.removeprefix("gitdir:").strip())
    return admin if admin.is_absolute() else checkout / admin


def _claimed_elsewhere(admin: Path, trash: Path) -> bool:
    """Whether a live worktree other than `trash` has `admin` as its git directory (a new
    checkout of the same commit that git gave the same entry name, after a prune)."""
    try:
        claimant = Path((admin / "gitdir").read_text().strip())
    except OSError:
        return False
    if claimant.parent == trash:
        return False
    try:
        return _admin_of(claimant.parent) == admin
    except OSError:
        return False


# ------------------------------------------------------------------------------ start-up

async def remount(root: Path, layers: Layers) -> list[str]:
    """Mount again every workspace under `root` whose layers are there but whose mount a
    reboot dropped, before anything runs `git worktree prune` (which would drop the
    registration of a worktree whose `.git`, in the upper layer, is not visible). The keys
    mounted; a workspace that cannot be mounted is logged and left for `prepare`."""
    parent = _layers_dir(layers)
    try:
        keys = sorted(e.name for e in os.scandir(parent) if e.is_dir())
    except FileNotFoundError:
        return []
    mounted: list[str] = []
    # Run at start-up before anything else touches the workspaces (no per-issue lock here):
    # a removal running meanwhile would have its unmount undone.
    for key in keys:
        path = root / key
        if not overlay.has_layers(layers, key) or not path.is_dir() or overlay.is_mounted(path):
            continue
        try:
            await overlay.mount(path, layers, key)
        except (WorkspaceError, OSError) as exc:
            log.warning("workspace.remount_failed", path=str(path),
                        error=getattr(exc, "message", str(exc)))
            continue
        mounted.append(key)
    if mounted:
        log.info("workspace.remounted", root=str(root), keys=mounted)
    return mounted


def describe(layers: Layers) -> str:
    """One line on what the shared checkouts hold on disk (for `tack doctor`)."""
    found = inventory(layers)
    if not found:
        return f"no shared checkouts yet under {layers.bases}"
    used = [c for c in found if c.in_use]
    total = sum(disk_bytes(c.path) for c in found)
    idle = len(found) - len(used)
    many = len(found) != 1
    return (f"{len(found)} shared checkout{'s' if many else ''} under {layers.bases} "
            f"hold{'' if many else 's'} {_size(total)}; {len(used)} in use by workspaces, "
            f"{idle} not "
            "(removed when a workspace is removed, when a new base is checked out, and at "
            "start-up, unless it is the current base)")


def _size(n: int) -> str:
    size, unit = float(n), "B"
    for unit in ("B", "KB", "MB", "GB"):
        if size < 1024 or unit == "GB":
            break
        size /= 1024
    return f"{size:.0f} B" if unit == "B" else f"{size:.1f} {unit}"
