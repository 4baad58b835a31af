"""The tools a Tack agent gets: files, shell, the tracker and `commit`, all confined to one
workspace.

Tool specs are JSON-schema'd for both OpenAI APIs so any backend can offer them; `run_tool`
never raises for a bad call — the model gets "error: ..." back and can try again.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import shlex
import signal
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

from tack import sandbox
from tack.agents.base import AgentTool, SessionContext, ToolOutcome, ToolSpec
from tack.errors import TackError
from tack.store.feedback import agent_comment
from tack.tracker.credentials import environ_without
from tack.workspace.commit import AGENT_EMAIL, AGENT_NAME, commit_work, is_own_repository

__all__ = ["AgentTool", "ToolOutcome", "ToolSpec", "run_tool", "session_tools", "tool_specs"]

READ_MAX_CHARS = 48_000
SHELL_OUTPUT_MAX = 8_000
LIST_MAX_ENTRIES = 500
GIT_IDENTITY = {
    "GIT_AUTHOR_NAME": AGENT_NAME,
    "GIT_AUTHOR_EMAIL": AGENT_EMAIL,
    "GIT_COMMITTER_NAME": AGENT_NAME,
    "GIT_COMMITTER_EMAIL": AGENT_EMAIL,
}


class ToolInputError(Exception):
    """A bad tool call; its message goes back to the model."""


def _schema(required: list[str], **props: dict[str, Any]) -> dict[str, Any]:
    return {"type": "object", "properties": props, "required": required,
            "additionalProperties": False}


_STR = {"type": "string"}
_INT = {"type": "integer"}

TOOLS: list[ToolSpec] = [
    ToolSpec(
        "list_files",
        "List files and directories under a workspace path (directories end with /).",
        _schema([], path={**_STR, "description": "Directory relative to the workspace."},
                depth={**_INT, "description": "How many levels to descend (default 2)."}),
    ),
    ToolSpec(
        "read_file",
        "Read a text file; lines are numbered. Use start_line/end_line for large files.",
        _schema(["path"], path=_STR, start_line={**_INT, "description": "First line, 1-based."},
                end_line={**_INT, "description": "Last line, inclusive."}),
    ),
    ToolSpec(
        "write_file",
        "Create or overwrite a file with the given content (parent directories are created).",
        _schema(["path", "content"], path=_STR, content=_STR),
    ),
    ToolSpec(
        "edit_file",
        "Replace exact text in a file. `old` must occur at least once and at most `count` "
        "times (default 1); include enough context to make it unique.",
        _schema(["path", "old", "new"], path=_STR, old=_STR, new=_STR,
                count={**_INT, "description": "Occurrences allowed (default 1)."}),
    ),
    ToolSpec(
        "shell",
        "Run a bash command in the workspace; returns the exit code and combined output. "
        "Background processes do not outlive the command.",
        _schema(["command"], command=_STR,
                timeout_ms={**_INT, "description": "Kill the command after this long."}),
    ),
    ToolSpec(
        "tracker",
        "Your issue in the tracker: `show` it (with comments), `move` it to a state, or "
        "`comment` on it.",
        _schema(["action"], action={"type": "string", "enum": ["show", "move", "comment"]},
                state={**_STR, "description": "Target state for move."},
                body={**_STR, "description": "Comment text for comment."}),
    ),
]
# Offered through Tack's own plug-in (tack.plugins.builtin), like any plug-in's tool.
CHECK_TOOL = ToolSpec(
    "check",
    "Run the repository's tests and linters (`tack check`) and get the failures as short "
    "prose: what failed, where, why, and the runbook to follow. Run it before handing off.",
    _schema([], profile={**_STR, "description": "A check or profile from WORKFLOW.md."},
            command={**_STR, "description": "A command to check instead, e.g. `pytest -q`."}),
)
COMMIT_TOOL = ToolSpec(
    "commit",
    "Record your work on this issue's branch: stages every change in the workspace "
    "(.gitignore respected) and commits it with your message. Use it instead of `git "
    "commit`, which cannot write the repository from your sandbox.",
    _schema(["message"], message={**_STR, "description": "Why the change is needed."}),
)
TOOLS.append(COMMIT_TOOL)
TOOL_NAMES = [t.name for t in TOOLS] + [CHECK_TOOL.name]
# Offered only when the workspace has skills (tack.skills.agent_tool).
SKILL_TOOL = ToolSpec(
    "skill",
    "Load a skill listed under Skills in your instructions: its instructions and the list of "
    "its files; pass `file` to read one of those files.",
    _schema(["name"], name={**_STR, "description": "The skill's name."},
            file={**_STR, "description": "A file of the skill, e.g. references/api.md."}),
)

# Offered only when the run configured an app (`app:` in WORKFLOW.md; tack.app.agent_tool).
APP_TOOL = ToolSpec(
    "app",
    "See and drive the app you are building (one browser; docs/app.md). `snapshot` prints a "
    "digest of the page with refs like e12 (the full tree goes to a file); act with `click`, "
    "`fill`, `select`, `hover` on a ref; `open` a URL or path; `screenshot` keeps evidence "
    "for reviewers. `flag`: --full for snapshot, --errors for console, --failed for "
    "network, --url for wait.",
    _schema(["command"],
            command={"type": "string", "enum": ["start", "stop", "status", "logs", "open",
                                                "snapshot", "click", "fill", "press", "select",
                                                "hover", "wait", "screenshot", "console",
                                                "network", "eval", "record"]},
            target={**_STR, "description": "A ref (e12) or CSS selector."},
            value={**_STR, "description": "Text to fill, key to press, option, URL, text to "
                   "wait for, JS to eval, screenshot path, or record start|stop."},
            flag={"type": "boolean", "description": "The command's flag (see above)."}),
)


def session_tools(ctx: SessionContext) -> list[AgentTool]:
    """The plug-in tools offered in this session: the run's, or Tack's own for a session
    started outside a run (a reviewer, a distillation)."""
    return ctx.tools if ctx.tools is not None else own_tools()


def own_tools() -> list[AgentTool]:
    """Tack's own plug-in tools (tack.plugins.builtin): `check`."""
    return [AgentTool(CHECK_TOOL, _check)]


def tool_specs(ctx: SessionContext) -> list[ToolSpec]:
    """Every tool the model is offered: the built-in ones, then the plug-ins'."""
    return TOOLS + [t.spec for t in session_tools(ctx)]


# Offered when the session has an org-context index (tack.context.agent_tool).
CONTEXT_TOOL_NAME = "context"


def context_tool(env: dict[str, str] | None) -> list[ToolSpec]:
    """The `context` tool, when the session was given a context home; else nothing."""
    from tack.context import agent_tool

    if not agent_tool.available(env):
        return []
    return [ToolSpec(CONTEXT_TOOL_NAME, agent_tool.DESCRIPTION, agent_tool.PARAMETERS)]


async def run_tool(
    name: str, args: dict[str, Any] | str, ctx: SessionContext, *,
    shell_timeout_ms: int = 120_000,
) -> ToolOutcome:
    """Run one tool call for the model. Only cancellation escapes."""
    try:
        parsed = _parse_args(args)
        if name == "shell":
            return await _shell(parsed, ctx, shell_timeout_ms)
        if name == "tracker":
            return await _tracker(parsed, ctx)
        if name == "commit":
            return await commit_tool(parsed, ctx.workspace)
        if name == SKILL_TOOL.name:
            return _skill(parsed, ctx.workspace)
        if name == CONTEXT_TOOL_NAME:
            return await _context(parsed, ctx)
        if name == APP_TOOL.name:
            return await _app(parsed, ctx)
        plugged = {t.spec.name: t for t in session_tools(ctx)}
        if name in plugged:
            return await plugged[name].run(parsed, ctx, shell_timeout_ms)
        handler = _FILE_TOOLS.get(name)
        if handler is None:
            raise ToolInputError(f"unknown tool {name!r}; available tools: "
                                 + ", ".join(t.name for t in tool_specs(ctx)))
        return ToolOutcome(True, handler(parsed, ctx.workspace))
    except (ToolInputError, sandbox.SandboxUnavailable) as exc:
        return ToolOutcome(False, f"error: {exc}")
    except Exception as exc:  # a tool bug must not end the agent's turn
        return ToolOutcome(False, f"error: {type(exc).__name__}: {exc}")


def _parse_args(args: dict[str, Any] | str) -> dict[str, Any]:
    if isinstance(args, dict):
        return args
    try:
        parsed = json.loads(args or "{}")
    except json.JSONDecodeError as exc:
        raise ToolInputError(f"arguments are not valid JSON ({exc})") from None
    if not isinstance(parsed, dict):
        raise ToolInputError("arguments must be a JSON object")
    return parsed


def _arg(args: dict[str, Any], key: str, kind: type, default: Any = ...) -> Any:
    if key not in args or args[key] is None:
        if default is ...:
            raise ToolInputError(f"missing required argument {key!r}")
        return default
    value = args[key]
    if kind is int and isinstance(value, str) and value.strip().lstrip("-").isdigit():
        value = int(value)
    if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
        raise ToolInputError(f"argument {key!r} must be a {kind.__name__}")
    return value


def resolve_in_workspace(workspace: Path, path: str) -> Path:
    """The real path of `path` inside the workspace; symlinks out of it are rejected."""
    root = workspace.resolve()
    target = (root / path).resolve()
    if target != root and root not in target.parents:
        raise ToolInputError(f"path {path!r} is outside the workspace; use a relative path "
                             "inside it")
    return target


def _rel(workspace: Path, target: Path) -> str:
    return str(target.relative_to(workspace.resolve())) or "."


def _skill(args: dict[str, Any], workspace: Path) -> ToolOutcome:
    from tack.skills.agent_tool import load_skill

    try:
        return ToolOutcome(True, load_skill(args, workspace))
    except ValueError as exc:
        raise ToolInputError(str(exc)) from None


async def _context(args: dict[str, Any], ctx: SessionContext) -> ToolOutcome:
    from tack.context.agent_tool import run_context_tool

    try:
        return ToolOutcome(True, await run_context_tool(args, ctx.env))
    except ValueError as exc:
        raise ToolInputError(str(exc)) from None


# --- file tools -------------------------------------------------------------------------


async def _app(args: dict[str, Any], ctx: SessionContext) -> ToolOutcome:
    from tack.app.agent_tool import run_app_tool
    from tack.errors import TackError

    try:
        return ToolOutcome(True, await run_app_tool(args, ctx.workspace, shell_env(ctx)))
    except TackError as exc:
        return ToolOutcome(False, f"error: {exc.message}")


def _list_files(args: dict[str, Any], workspace: Path) -> str:
    base = resolve_in_workspace(workspace, _arg(args, "path", str, "."))
    depth = max(1, _arg(args, "depth", int, 2))
    if not base.is_dir():
        raise ToolInputError(f"{_arg(args, 'path', str, '.')!r} is not a directory")
    lines: list[str] = []

    def walk(directory: Path, level: int) -> None:
        for entry in sorted(directory.iterdir(), key=lambda p: p.name):
            if entry.name == ".git" or len(lines) >= LIST_MAX_ENTRIES:
                continue
            is_dir = entry.is_dir() and not entry.is_symlink()
            lines.append(_rel(workspace, entry.absolute()) + ("/" if is_dir else ""))
            if is_dir and level < depth:
                walk(entry, level + 1)

    walk(base, 1)
    if len(lines) >= LIST_MAX_ENTRIES:
        lines.append(f"... (stopped at {LIST_MAX_ENTRIES} entries; list a subdirectory)")
    return "\n".join(lines) or "(empty directory)"


def _read_file(args: dict[str, Any], workspace: Path) -> str:
    path = _arg(args, "path", str)
    target = resolve_in_workspace(workspace, path)
    if not target.is_file():
        raise ToolInputError(f"{path!r} is not a file")
    lines = target.read_text(encoding="utf-8", errors="replace").splitlines()
    start = max(1, _arg(args, "start_line", int, 1))
    end = min(len(lines), _arg(args, "end_line", int, len(lines)))
    out: list[str] = []
    size = 0
    for number in range(start, end + 1):
        line = f"{number:>6}\t{lines[number - 1]}"
        size += len(line) + 1
        if size > READ_MAX_CHARS:
            out.append(f"... (truncated at line {number - 1} of {len(lines)}; "
                       "read further with start_line)")
            break
        out.append(line)
    return "\n".join(out) if out else f"(no lines in range; the file has {len(lines)} lines)"


def _write_file(args: dict[str, Any], workspace: Path) -> str:
    path = _arg(args, "path", str)
    content = _arg(args, "content", str)
    target = resolve_in_workspace(workspace, path)
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(content, encoding="utf-8")
    return f"wrote {len(content.encode())} bytes to {_rel(workspace, target)}"


def _edit_file(args: dict[str, Any], workspace: Path) -> str:
    path = _arg(args, "path", str)
    old = _arg(args, "old", str)
    new = _arg(args, "new", str)
    allowed = _arg(args, "count", int, 1)
    if not old:
        raise ToolInputError("`old` must not be empty; use write_file to create a file")
    target = resolve_in_workspace(workspace, path)
    if not target.is_file():
        raise ToolInputError(f"{path!r} is not a file")
    text = target.read_text(encoding="utf-8")
    found = text.count(old)
    if found == 0:
        raise ToolInputError(f"`old` text not found in {path}; read the file and copy the "
                             "text exactly")
    if found > allowed:
        raise ToolInputError(f"`old` text occurs {found} times in {path} (allowed {allowed}); "
                             "add surrounding context or pass count")
    target.write_text(text.replace(old, new), encoding="utf-8")
    return f"replaced {found} occurrence(s) in {_rel(workspace, target)}"


_FILE_TOOLS: dict[str, Callable[[dict[str, Any], Path], str]] = {
    "list_files": _list_files,
    "read_file": _read_file,
    "write_file": _write_file,
    "edit_file": _edit_file,
}


# --- shell ------------------------------------------------------------------------------


class _HeadTail:
    """Keeps the first and last part of a stream of output."""

    def __init__(self, limit: int) -> None:
        self.half = limit // 2
        self.head = bytearray()
        self.tail = bytearray()
        self.dropped = 0

    def add(self, data: bytes) -> None:
        room = self.half - len(self.head)
        if room > 0:
            self.head += data[:room]
            data = data[room:]
        self.tail += data
        if len(self.tail) > self.half:
            cut = len(self.tail) - self.half
            self.dropped += cut
            del self.tail[:cut]

    def text(self) -> str:
        head = self.head.decode("utf-8", errors="replace")
        tail = self.tail.decode("utf-8", errors="replace")
        if self.dropped:
            return f"{head}\n... ({self.dropped} bytes omitted) ...\n{tail}"
        return head + tail


def shell_env(ctx: SessionContext) -> dict[str, str]:
    env = dict(ctx.env) if ctx.env else environ_without()
    for key, value in GIT_IDENTITY.items():
        env.setdefault(key, value)
    env.setdefault("GIT_TERMINAL_PROMPT", "0")
    env.setdefault("PAGER", "cat")
    env.setdefault("GIT_PAGER", "cat")
    return env


def _kill_group(pgid: int) -> None:
    try:
        os.killpg(pgid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass


async def _shell(args: dict[str, Any], ctx: SessionContext, default_timeout_ms: int
                 ) -> ToolOutcome:
    command = _arg(args, "command", str)
    timeout_s = max(1, _arg(args, "timeout_ms", int, default_timeout_ms)) / 1000
    argv, env = ["bash", "-c", command], shell_env(ctx)
    if ctx.sandbox is not None:
        return await _sandboxed_shell(argv, env, ctx, timeout_s)
    return await _run_shell(argv, env, ctx, timeout_s, None)


async def _sandboxed_shell(argv: list[str], env: dict[str, str], ctx: SessionContext,
                           timeout_s: float) -> ToolOutcome:
    """In the session's sandbox, built once and reused by each call (tack.sandbox.session)."""
    assert ctx.sandbox is not None
    output = _HeadTail(SHELL_OUTPUT_MAX)
    end = await sandbox.run_in_session(ctx.sandbox, ctx.workspace, argv, env, timeout_s,
                                       output.add, ctx.on_process)
    return _shell_outcome(end.returncode, end.timed_out, end.why, output.text(), timeout_s)


async def _run_shell(argv: list[str], env: dict[str, str], ctx: SessionContext,
                     timeout_s: float, boxed: sandbox.SandboxedCommand | None) -> ToolOutcome:
    proc = await asyncio.create_subprocess_exec(
        *argv, cwd=ctx.workspace, env=env,
        stdin=asyncio.subprocess.DEVNULL, stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT, start_new_session=True,
    )
    pgid = proc.pid  # start_new_session: the child leads its own process group
    if ctx.on_process:
        ctx.on_process(pgid, True)
    output = _HeadTail(SHELL_OUTPUT_MAX)

    async def pump() -> None:
        assert proc.stdout is not None
        while chunk := await proc.stdout.read(65536):
            output.add(chunk)

    reader = asyncio.create_task(pump())
    timed_out = False
    try:
        try:
            await asyncio.wait_for(proc.wait(), timeout_s)
        except TimeoutError:
            timed_out = True
        # Children left in the group may hold the pipe open; give them a moment, then end them.
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(asyncio.shield(reader), 0 if timed_out else 0.5)
        _kill_group(pgid)
        await proc.wait()
        await reader
    finally:
        _kill_group(pgid)
        reader.cancel()
        if ctx.on_process:
            ctx.on_process(pgid, False)
    why = boxed.explain(proc.returncode) if boxed is not None else ""
    return _shell_outcome(proc.returncode, timed_out, why, output.text(), timeout_s)


def _shell_outcome(returncode: int | None, timed_out: bool, why: str, text: str,
                   timeout_s: float) -> ToolOutcome:
    if why:
        text += f"\nsandbox: {why}"
    if timed_out:
        return ToolOutcome(False, f"error: command timed out after {timeout_s:g}s and was "
                                  f"killed\n{text}")
    return ToolOutcome(returncode == 0 and not why, f"exit code: {returncode}\n{text}")


# --- tracker ----------------------------------------------------------------------------


async def _tracker(args: dict[str, Any], ctx: SessionContext) -> ToolOutcome:
    action = _arg(args, "action", str)
    issue = ctx.issue
    if action == "show":
        found = await ctx.tracker.fetch_issues_by_ids([issue.id])
        current = found[0] if found else issue
        lines = [
            f"{current.identifier}: {current.title}",
            f"state: {current.state}",
            f"labels: {', '.join(current.labels) or '(none)'}",
            "",
            current.description or "(no description)",
        ]
        if current.comments:
            lines += ["", "comments:"]
            lines += [f"- {c.author} ({c.created_at:%Y-%m-%d %H:%M}): {c.body}"
                      for c in current.comments]
        return ToolOutcome(True, "\n".join(lines))
    if action == "move":
        state = _arg(args, "state", str)
        moved = await ctx.tracker.move(issue.id, state)
        return ToolOutcome(True, f"moved {issue.identifier} to {moved.state}")
    if action == "comment":
        body = _arg(args, "body", str)
        if not body.strip():
            raise ToolInputError("`body` must not be empty")
        await ctx.tracker.comment(issue.id, agent_comment(ctx.tracker.kind, body),
                                  author="agent")
        return ToolOutcome(True, f"commented on {issue.identifier}")
    raise ToolInputError(f"unknown action {action!r}; use show, move or comment")


# --- commit ---------------------------------------------------------------------------


async def commit_tool(args: dict[str, Any], workspace: Path) -> ToolOutcome:
    """The `commit` tool, run host-side for every backend (the agent's sandbox cannot
    write the git directory of its worktree). Like `run_tool`, it never raises."""
    try:
        return await _commit(args, workspace)
    except ToolInputError as exc:
        return ToolOutcome(False, f"error: {exc}")


async def _commit(args: dict[str, Any], workspace: Path) -> ToolOutcome:
    message = _arg(args, "message", str).strip()
    if not message:
        raise ToolInputError("`message` must not be empty; say why the change is needed")
    if not await is_own_repository(workspace):
        raise ToolInputError("this workspace is not a git repository (workspace.strategy: "
                             "directory), so there is no branch to commit to")
    try:
        recorded = await commit_work(workspace, message)
    except TackError as exc:
        return ToolOutcome(False, f"error: {exc.message}")
    if recorded is None:
        return ToolOutcome(True, "nothing to commit: the workspace matches the last commit")
    return ToolOutcome(True, recorded.summary())


# --- check ------------------------------------------------------------------------------


async def _check(args: dict[str, Any], ctx: SessionContext, timeout_ms: int) -> ToolOutcome:
    from tack.feedback import CheckSpec, resolve_settings, run_checks

    command = _arg(args, "command", str, "")
    if ctx.sandbox is not None:
        return await _sandboxed_check(command, _arg(args, "profile", str, None), ctx, timeout_ms)
    settings = resolve_settings(ctx.workspace)
    specs = ([CheckSpec("check", command, timeout_s=timeout_ms / 1000)] if command.strip()
             else settings.select(_arg(args, "profile", str, None)))
    if not specs:
        raise ToolInputError("no checks configured in WORKFLOW.md `feedback.checks`; pass "
                             "`command`, e.g. {\"command\": \"pytest -q\"}")
    report = await asyncio.to_thread(
        run_checks, specs, root=settings.root, cwd=ctx.workspace,
        runbooks_dir=settings.runbooks_dir, history_db=settings.history_db,
        budget=settings.budget, env=shell_env(ctx))
    return ToolOutcome(report.exit_code == 0,
                       f"exit code: {report.exit_code}\n{report.prose}")


async def _sandboxed_check(command: str, profile: str | None, ctx: SessionContext,
                           timeout_ms: int) -> ToolOutcome:
    """`tack check` itself inside the sandbox: the checks run the workspace's code (tests,
    conftest.py, build scripts), which must not run with Tack's rights."""
    assert ctx.sandbox is not None
    argv = [sys.executable, "-m", "tack", "check", "--no-history"]
    if command.strip():
        words = shlex.split(command) if not set(command) & set("|&;<>()$`*?[]{}~\n") else []
        argv += ["--", *(words or ["bash", "-c", command])]
    elif profile:
        argv += ["--profile", profile]
    with tempfile.TemporaryDirectory(prefix="tack-check-") as tmp:
        # Only the `feedback:` section goes in, resolved here: the rest of WORKFLOW.md may
        # name `$VAR`s (keys, endpoints) that the sandbox's environment rightly lacks.
        feedback = await asyncio.to_thread(_feedback_workflow, ctx.workspace, Path(tmp))
        if feedback is not None:
            argv[4:4] = ["--workflow", str(feedback)]
        boxed = await sandbox.prepare(argv, ctx.sandbox, ctx.workspace, shell_env(ctx),
                                      read_only=[Path(tmp)])
        # The same Tack as this one, wherever it is installed or checked out.
        boxed.env["PYTHONPATH"] = str(Path(__file__).resolve().parents[2])
        try:
            return await _run_shell(boxed.argv, boxed.env, ctx, timeout_ms / 1000, boxed)
        finally:
            boxed.close()


def _feedback_workflow(workspace: Path, directory: Path) -> Path | None:
    """A WORKFLOW.md holding only the workspace's `feedback:` section, or None without one."""
    import yaml

    from tack.feedback import resolve_settings
    from tack.workflow import load_workflow

    settings = resolve_settings(workspace)
    if settings.workflow is None:
        return None
    feedback = load_workflow(settings.workflow).config.feedback.model_dump(exclude_none=True)
    feedback.update(runbooks=str(settings.runbooks_dir), history=False)
    path = directory / "WORKFLOW.md"
    path.write_text(f"---\n{yaml.safe_dump({'feedback': feedback})}---\n", encoding="utf-8")
    return path
