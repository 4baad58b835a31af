"""What the workspaces prepared in one burst ask git about the repository: the commit
`workspace.base_ref` names and which branches exist. Read by one pair of git processes and
shared for a couple of seconds, instead of two `rev-parse`s per workspace; a dispatch tick
that starts 200 workspaces asks git once.

A stale answer is safe: a branch made by someone else since is found by `git worktree add
-b` refusing to overwrite it (`add_worktree` then checks it out as it is), and a branch
listed here is re-read before its commit is used, since its agent may have committed since.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, field
from pathlib import Path

from tack.workspace.git import git

# Long enough to cover the workspaces one tick dispatches, short enough that a moved base
# is seen by the next tick (the shortest polling interval people set is about a second).
TTL_S = 2.0


@dataclass
class Refs:
    """The base commit and the branches, as git reported them at `read_at` (monotonic);
    `common`: the repository's git directory (where `worktrees/` is)."""

    base: str
    common: Path
    branches: set[str] = field(default_factory=set)
    read_at: float = 0.0

    def has(self, branch: str) -> bool:
        return branch in self.branches

    def saw(self, branch: str) -> None:
        """`branch` exists now (Tack just made or used it)."""
        self.branches.add(branch)


async def read(repo: Path, base_ref: str) -> Refs:
    (_, dirs), (_, heads) = await asyncio.gather(
        git(repo, "rev-parse", "--path-format=absolute", "--git-common-dir", "--verify",
            f"{base_ref}^{{commit}}"),
        git(repo, "for-each-ref", "--format=%(refname:lstrip=2)", "refs/heads"))
    common, base = dirs.splitlines()[-2:]
    return Refs(base.strip(), Path(common.strip()), set(heads.split()), time.monotonic())


class RefCache:
    """`Refs` per (repository, base ref), re-read when older than `ttl_s`; concurrent
    callers share one read."""

    def __init__(self, ttl_s: float = TTL_S) -> None:
        self.ttl_s = ttl_s
        self._refs: dict[tuple[Path, str], Refs] = {}
        self._locks: dict[tuple[Path, str], asyncio.Lock] = {}
        self.reads = 0  # how many times git was asked, for the tests and the bench

    async def get(self, repo: Path, base_ref: str) -> Refs:
        key = (repo, base_ref)
        lock = self._locks.setdefault(key, asyncio.Lock())
        async with lock:
            refs = self._refs.get(key)
            if refs is None or time.monotonic() - refs.read_at >= self.ttl_s:
                refs = self._refs[key] = await read(repo, base_ref)
                self.reads += 1
            return refs


class NewBranches:
    """Creates branches for concurrent callers: the requests made while one `git update-ref
    --stdin` runs go into the next, so 200 new issues cost a handful of git processes."""

    def __init__(self, repo: Path) -> None:
        self.repo = repo
        self._pending: list[tuple[str, str, asyncio.Future[bool]]] = []
        self._runner: asyncio.Task[None] | None = None
        self.batches = 0

    async def create(self, branch: str, commit: str) -> bool:
        """Create `branch` at `commit`; False if it exists already (it is left as it is)."""
        done: asyncio.Future[bool] = asyncio.get_running_loop().create_future()
        self._pending.append((branch, commit, done))
        if self._runner is None or self._runner.done():
            self._runner = asyncio.create_task(self._drain())
        return await done

    async def _drain(self) -> None:
        while self._pending:
            batch, self._pending = self._pending, []
            self.batches += 1
            try:
                results = await self._create_all(batch)
            except BaseException as exc:
                for *_, done in batch:
                    if not done.done():
                        done.set_exception(exc)
                if not isinstance(exc, Exception):
                    raise
                continue
            for (*_, done), made in zip(batch, results):
                if not done.done():
                    done.set_result(made)

    async def _create_all(self, batch: list[tuple[str, str, asyncio.Future[bool]]]) -> list[bool]:
        # One transaction: all or nothing. The zero old value means "must not exist yet".
        lines = "".join(f"create refs/heads/{b} {c}\n" for b, c, _ in batch)
        if await _update_refs(self.repo, lines) == 0:
            return [True] * len(batch)
        # Someone's branch exists already: one at a time, to learn which.
        return [await _update_refs(self.repo, f"create refs/heads/{b} {c}\n") == 0
                for b, c, _ in batch]


async def _update_refs(repo: Path, lines: str) -> int:
    # Without a reflog entry for the creation: for 200 branches that halves the files git
    # writes (every agent waits for them). Their first commit starts their reflog as usual.
    code, _ = await git(repo, "-c", "core.logAllRefUpdates=false", "update-ref", "--stdin",
                        check=False, stdin=lines)
    return code
