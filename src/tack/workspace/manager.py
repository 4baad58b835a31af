"""Per-issue workspaces: one directory (by default a git worktree on its own branch) per issue
under the workspace root, with lifecycle hooks (Symphony SPEC §9).

Every path is checked to stay inside the root; worktree registrations are serialised per
repository and checkouts run beside them, a few at a time; existing workspaces and branches
are reused, never reset.
"""

from __future__ import annotations

import asyncio
import os
import shutil
from collections.abc import AsyncIterator, Collection
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import structlog

from tack.errors import WorkspaceError
from tack.sandbox.policy import SandboxPolicy
from tack.tracker.base import Issue
from tack.tracker.credentials import DEFAULT_CREDENTIAL_ENV
from tack.workflow.config import HooksConfig, WorkspaceConfig
from tack.workspace import git, overlay, overlay_gc
from tack.workspace.refs import NewBranches, RefCache, Refs
from tack.workspace.hooks import raise_for_result, run_hook
from tack.workspace.keys import contained_path, workspace_key

if TYPE_CHECKING:
    from tack.workflow import Workflow

log = structlog.get_logger(__name__)


@dataclass(frozen=True)
class Workspace:
    path: Path
    key: str
    created_now: bool
    branch: str | None
    identifier: str = ""


class WorkspaceManager:
    """Creates, prepares and removes the workspaces of issues."""

    def __init__(
        self, *, root: Path, repo: Path, workspace: WorkspaceConfig, hooks: HooksConfig,
        withheld_env: Collection[str] = DEFAULT_CREDENTIAL_ENV,
        sandbox: SandboxPolicy | None = None,
    ) -> None:
        self._repo_locks: dict[str, asyncio.Lock] = {}
        # An issue's lock and how many hold or wait on it; dropped at zero, so the table
        # does not keep one entry per issue ever prepared for the life of the process.
        self._key_locks: dict[str, tuple[asyncio.Lock, list[int]]] = {}
        self._strategy_lock = asyncio.Lock()
        # Checkouts written at once: more only share the same disk and cores, so every one
        # would finish late; FIFO, so the workspaces asked for first are ready first.
        self._checkouts = asyncio.Semaphore(max(2, os.cpu_count() or 1))
        self.refs = RefCache()  # the base commit and branches, read once per burst
        self._warming: asyncio.Task[None] | None = None
        # Shared checkouts (`strategy: overlay`) made or checked by this process, by path.
        self._bases: dict[Path, asyncio.Future[Path]] = {}
        self._new_branches: dict[Path, NewBranches] = {}
        self.update(root=root, repo=repo, workspace=workspace, hooks=hooks,
                    withheld_env=withheld_env, sandbox=sandbox)

    @classmethod
    def for_workflow(cls, wf: Workflow, *, root: Path | None = None,
                     repo: Path | None = None) -> WorkspaceManager:
        """The manager a workflow's settings describe: hooks never get Tack's credentials,
        and run in the sandbox when `sandbox.hooks` is on."""
        from tack.sandbox.policy import hook_policy
        from tack.tracker.credentials import withheld_env

        return cls(root=root or wf.workspace_root(), repo=repo or wf.repo_dir(),
                   workspace=wf.config.workspace, hooks=wf.config.hooks,
                   withheld_env=withheld_env(wf), sandbox=hook_policy(wf, root))

    def update(
        self, *, root: Path, repo: Path, workspace: WorkspaceConfig, hooks: HooksConfig,
        withheld_env: Collection[str] = DEFAULT_CREDENTIAL_ENV,
        sandbox: SandboxPolicy | None = None,
    ) -> None:
        """Apply reloaded settings; operations already running finish with the old ones.
        `withheld_env`: variables hooks do not inherit (`tack.tracker.credentials`)."""
        # The sandbox hooks run in (`sandbox.hooks`); None: unconfined, like Symphony's.
        self.sandbox = sandbox
        self.root = Path(root).expanduser().absolute()
        self.repo = Path(repo).expanduser().absolute()
        self.config = workspace
        self.hooks = hooks
        self.withheld_env = frozenset(withheld_env)
        self._strategy: str | None = None

    # ------------------------------------------------------------------ paths

    def path_for(self, identifier: str) -> Path:
        """`<root>/<workspace_key>`, guaranteed to resolve inside the root."""
        return contained_path(self.root, workspace_key(identifier))

    def branch_for(self, issue: Issue) -> str:
        if issue.branch_name:
            return issue.branch_name
        return self.config.branch_prefix + workspace_key(issue.identifier).lower()

    def ensure_cwd(self, cwd: Path, identifier: str) -> Path:
        """Check an agent's cwd is this issue's workspace (SPEC §9.5 invariant 1)."""
        expected = self.path_for(identifier)
        if os.path.realpath(cwd) != os.path.realpath(expected):
            raise WorkspaceError(
                f"Refusing to launch the agent for {identifier} in {cwd}: its workspace is "
                f"{expected}. This is a bug in the caller; please report it.",
                code="workspace_cwd_mismatch",
            )
        return expected

    # --------------------------------------------------------------- strategy

    async def strategy(self) -> str:
        """`worktree` or `directory`, resolving `auto` by asking git once per settings."""
        async with self._strategy_lock:  # many workspaces prepared at once ask git once
            return await self._resolve_strategy()

    async def _resolve_strategy(self) -> str:
        if self._strategy is None:
            wanted = self.config.strategy
            if wanted == "directory":
                self._strategy = "directory"
            elif await git.is_work_tree(self.repo):
                self._strategy = "overlay" if wanted == "overlay" else "worktree"
            elif wanted in ("worktree", "overlay"):
                raise WorkspaceError(
                    f"workspace.strategy is `{wanted}` in WORKFLOW.md but {self.repo} is not a "
                    "git work tree. Point workspace.repo at a git repository, or use "
                    "`strategy: auto` / `directory`.",
                    code="workspace_not_a_repo",
                )
            else:
                self._strategy = "directory"
        return self._strategy

    def _lock(self, table: dict[str, asyncio.Lock], name: str) -> asyncio.Lock:
        lock = table.get(name)
        if lock is None:
            lock = table[name] = asyncio.Lock()
        return lock

    @asynccontextmanager
    async def _key_lock(self, key: str) -> AsyncIterator[None]:
        lock, users = self._key_locks.setdefault(key, (asyncio.Lock(), [0]))
        users[0] += 1
        try:
            async with lock:
                yield
        finally:
            users[0] -= 1
            if users[0] == 0:
                del self._key_locks[key]

    def _repo_lock(self) -> asyncio.Lock:
        return self._lock(self._repo_locks, os.path.realpath(self.repo))

    # -------------------------------------------------------------- lifecycle

    async def prepare(self, issue: Issue) -> Workspace:
        """Create the issue's workspace, or reuse it as it is; runs `after_create` when new."""
        key = workspace_key(issue.identifier)
        async with self._key_lock(key):
            try:
                self.root.mkdir(parents=True, exist_ok=True)
            except OSError as exc:
                raise WorkspaceError(
                    f"Cannot create the workspace root {self.root}: {exc.strerror or exc}. "
                    "Fix workspace.root in WORKFLOW.md or the directory's permissions.",
                    code="workspace_root_unusable",
                ) from exc
            path = self.path_for(issue.identifier)
            strategy = await self.strategy()
            branch = self.branch_for(issue) if strategy != "directory" else None
            if path.is_dir():
                layers = overlay.Layers(self.root)
                if overlay.has_layers(layers, key) and not overlay.is_mounted(path):
                    await overlay.mount(path, layers, key)  # a reboot dropped the mount
                return Workspace(path, key, False, branch, issue.identifier)
            if os.path.lexists(path):
                raise WorkspaceError(
                    f"{path} exists but is not a directory, so it cannot be the workspace of "
                    f"{issue.identifier}. Move or delete it; Tack never overwrites it.",
                    code="workspace_path_not_directory",
                )
            await self._create(path, strategy, branch, key)
            ws = Workspace(path, key, True, branch, issue.identifier)
            if self.hooks.after_create:
                result = await run_hook(
                    "after_create", self.hooks.after_create, cwd=path, env=self._env(ws),
                    timeout_ms=self.hooks.timeout_ms, sandbox=self.sandbox,
                    withheld=self.withheld_env,
                )
                if result.timed_out or result.exit_code != 0:
                    # A half-prepared workspace would be reused as if it were ready.
                    await self._discard(path)
                    raise_for_result("after_create", result, path)
            log.info("workspace.created", identifier=issue.identifier, path=str(path),
                     branch=branch)
            return ws

    async def _create(self, path: Path, strategy: str, branch: str | None, key: str) -> None:
        if strategy == "directory" or branch is None:
            path.mkdir()
            return
        try:
            # Read-only questions first, asked once for every workspace of this burst.
            refs = await self.refs.get(self.repo, self.config.base_ref or "HEAD")
            if strategy == "overlay":
                # Pinned: no collection removes the lower until the workspace records it.
                async with overlay_gc.pinned(overlay.Layers(self.root)):
                    await self._create_overlay(path, branch, key, refs)
                return
            async with self._repo_lock():
                # A new branch starts at the ref itself, as `git worktree add -b` sets it up
                # (with `branch.autoSetupMerge`, tracking a remote-tracking base).
                await git.add_worktree(self.repo, path, branch, self.config.base_ref,
                                       refs.has(branch))
            refs.saw(branch)
            async with self._checkouts:
                await git.populate(path)
        except WorkspaceError as exc:
            if path.exists():
                await self._discard(path)
            raise WorkspaceError(
                f"Could not create the git worktree {path} on branch {branch} from "
                f"{self.config.base_ref or 'HEAD'} (workspace.base_ref in WORKFLOW.md). "
                f"{exc.message}",
                code="workspace_population_failed",
            ) from exc

    async def _create_overlay(self, path: Path, branch: str, key: str, refs: Refs) -> None:
        exists, base = refs.has(branch), refs.base
        if exists:  # its agent may have committed since: the overlay must show its head
            base = await overlay.commit_of(self.repo, branch)
        layers = overlay.Layers(self.root)
        if not exists:
            # The common case, a new issue: no git process and no lock for this workspace
            # (its branch is made with the burst's others); at start-up its directories are
            # made while the shared checkout is written.
            made = asyncio.ensure_future(self._new_branch(branch, base))
            try:
                if await overlay.register(refs.common, path, branch,
                                          overlay.shared_path(base, layers), self._base(base),
                                          made, layers, key):
                    refs.saw(branch)
                    return
            finally:
                exists = await made  # False: someone else's branch, found below
            if exists:
                refs.saw(branch)  # the name is taken under `worktrees/`: git picks another
        lower = await self._shared_checkout(base)
        async with self._repo_lock():
            created = await git.add_worktree(self.repo, path, branch, base, exists)
        refs.saw(branch)
        if not created and not exists:  # someone made the branch after refs were read
            lower = await self._shared_checkout(await overlay.commit_of(self.repo, branch))
        await overlay.stack(path, lower, layers, key)

    async def _new_branch(self, branch: str, commit: str) -> bool:
        batcher = self._new_branches.get(self.repo)
        if batcher is None:
            batcher = self._new_branches[self.repo] = NewBranches(self.repo)
        return await batcher.create(branch, commit)

    async def _shared_checkout(self, commit: str) -> Path:
        return await asyncio.shield(self._base(commit))

    def _base(self, commit: str) -> asyncio.Future[Path]:
        """The shared checkout of `commit`, made (or checked, when an earlier run left it)
        once per process; the workspaces that need it meanwhile all wait for that one. Done
        already (no trip through the event loop) once it is there."""
        lower = overlay.shared_path(commit, overlay.Layers(self.root))
        making = self._bases.get(lower)
        if making is None or making.done() and (
                making.cancelled() or making.exception() is not None
                or not overlay.is_checked_out(lower)):  # failed, or removed since
            making = self._bases[lower] = asyncio.ensure_future(overlay.shared_checkout(
                self.repo, commit, overlay.Layers(self.root), self._repo_lock()))
            making.add_done_callback(self._made_base)
        return making

    def _made_base(self, making: asyncio.Future[Path]) -> None:
        if not making.cancelled() and making.exception() is None:
            self._collect_soon()  # the base moved: the old one may be unused now

    async def warm(self) -> None:
        """With `strategy: overlay`, check out the base commit's shared checkout now, so the
        first workspaces do not all wait for it, and remove unused shared checkouts; nothing
        for the other strategies."""
        if await self.strategy() == "overlay":
            layers = overlay.Layers(self.root)
            refs = await self.refs.get(self.repo, self.config.base_ref or "HEAD")
            async with overlay_gc.pinned(layers):
                await self._shared_checkout(refs.base)
            self._collect_soon()

    def _collect_soon(self) -> None:
        """Remove the shared checkouts no workspace uses, in the background
        (`tack.workspace.overlay_gc`)."""
        overlay_gc.collect_soon(self.repo, overlay.Layers(self.root),
                                self.config.base_ref or "HEAD")

    def warm_soon(self) -> None:
        """`warm()` in the background (once at a time); a failure is logged, and the first
        workspace that needs the checkout tries again and reports it."""
        if self._warming is None or self._warming.done():
            self._warming = asyncio.create_task(self._warm_logged())

    async def _warm_logged(self) -> None:
        try:
            await self.warm()
        except WorkspaceError as exc:
            log.warning("workspace.warm_failed", error=exc.message)

    async def _discard(self, path: Path) -> None:
        layers = overlay.Layers(self.root)
        if overlay.has_layers(layers, path.name) or overlay.is_mounted(path):
            async with self._repo_lock():
                await overlay.discard(self.repo, path, layers, path.name)
            return
        if (path / ".git").is_file():
            async with self._repo_lock():
                await git.remove_worktree(self.repo, path)
        if os.path.lexists(path):
            await asyncio.to_thread(shutil.rmtree, path, True)

    async def before_run(self, ws: Workspace) -> None:
        """Run `before_run`; a failure or timeout aborts this attempt (raises HookError)."""
        if self.hooks.before_run:
            result = await run_hook("before_run", self.hooks.before_run, cwd=ws.path,
                                    env=self._env(ws), timeout_ms=self.hooks.timeout_ms,
                                    sandbox=self.sandbox, withheld=self.withheld_env)
            raise_for_result("before_run", result, ws.path)

    async def after_run(self, ws: Workspace) -> None:
        """Run `after_run`; failures and timeouts are logged and ignored."""
        if self.hooks.after_run:
            await self._best_effort("after_run", self.hooks.after_run, ws)

    async def remove(self, identifier: str) -> bool:
        """Run `before_remove` (failures ignored), then delete the workspace; keeps the branch."""
        key = workspace_key(identifier)
        async with self._key_lock(key):
            path = self.path_for(identifier)
            if not path.is_dir():
                if os.path.lexists(path):
                    log.warning("workspace.remove.not_directory", path=str(path))
                return False
            ws = Workspace(path, key, False, None, identifier)
            if self.hooks.before_remove:
                await self._best_effort("before_remove", self.hooks.before_remove, ws)
            await self._discard(path)
            log.info("workspace.removed", identifier=identifier, path=str(path))
            if overlay.Layers(self.root).bases.is_dir():
                self._collect_soon()  # its shared checkout may be unused now
            return True

    async def _best_effort(self, name: str, script: str, ws: Workspace) -> None:
        # run_hook logs failures and timeouts; this hook's outcome changes nothing.
        await run_hook(name, script, cwd=ws.path, env=self._env(ws),
                       timeout_ms=self.hooks.timeout_ms, sandbox=self.sandbox,
                       withheld=self.withheld_env)

    def _env(self, ws: Workspace) -> dict[str, str]:
        env = {"TACK_ISSUE_IDENTIFIER": ws.identifier, "TACK_WORKSPACE": str(ws.path)}
        if ws.branch:
            env["TACK_BRANCH"] = ws.branch
        return env
