"""Tack's plug-in manager: Tack's own parts and installed plug-ins, behind the hooks of
`tack.plugins.hookspecs` (pluggy, project name and entry-point group `tack`).

The parts never import this module: what plug-ins register (trackers, agent backends, scan
checks, check parsers) is put into each part's own table when the plug-ins load, and the
orchestrator calls the run-lifecycle hooks. `tack` loads the plug-ins before any command.

Observer hooks (`workspace_prepared`, `turn_event`, `run_ended`, `handed_off`,
`pull_request_merged`) never break a run: a failing plug-in is logged and skipped. Hooks whose
answer the run needs (`session_environment`, `session_tools`, `prompt_context`) raise
`PluginError` naming the plug-in.
"""

from __future__ import annotations

import functools
import importlib
import inspect
from collections.abc import Awaitable, Callable
from importlib.metadata import entry_points
from typing import Any

import pluggy
import structlog

from tack.errors import PluginError
from tack.plugins import hookspecs
from tack.plugins.types import AgentTool, Run

__all__ = ["ENTRY_POINT_GROUP", "AgentTool", "PluginError", "Plugins", "Run", "default_plugins",
           "hookimpl"]

log = structlog.get_logger(__name__)

ENTRY_POINT_GROUP = "tack"
hookimpl = pluggy.HookimplMarker("tack")
# Template variables Tack itself binds; a plug-in may not replace them.
RESERVED_PROMPT_NAMES = frozenset({"issue", "attempt"})
# Tack's own parts, registered first, by module name (as simonw/llm's default plug-ins).
DEFAULT_PLUGINS = {"tack.builtin": "tack.plugins.builtin"}


class Plugins:
    """The registered plug-ins, Tack's own first, and typed calls of each hook."""

    def __init__(self, *, load_entry_points: bool = True) -> None:
        self.pm = pluggy.PluginManager("tack")
        self.pm.add_hookspecs(hookspecs)
        # How to take out what each plug-in put into the parts' tables.
        self._undo: dict[str, list[Callable[[], object]]] = {}
        for name, module in DEFAULT_PLUGINS.items():
            self.register(importlib.import_module(module), name=name)
        if load_entry_points:
            self._load_entry_points()

    def _load_entry_points(self) -> None:
        for ep in entry_points(group=ENTRY_POINT_GROUP):
            if self.pm.get_plugin(ep.name) is not None:
                continue
            try:
                plugin = ep.load()
                self.register(plugin, name=ep.name)
            except Exception as exc:  # noqa: BLE001 - a broken plug-in must name itself
                raise PluginError(
                    f"Tack plug-in {ep.name!r} (entry point {ep.value} in group "
                    f"{ENTRY_POINT_GROUP!r}) cannot be loaded: {type(exc).__name__}: {exc}. "
                    "Fix or uninstall the package that provides it."
                ) from None

    def register(self, plugin: object, name: str | None = None) -> None:
        registered = self.pm.register(plugin, name=name)
        if registered is not None:
            self._install_kinds(registered)

    def unregister(self, name: str) -> None:
        from tack.principles.rules import python_checks

        self.pm.unregister(name=name)
        for undo in self._undo.pop(name, []):
            undo()
        python_checks.cache_clear()

    def _install_kinds(self, name: str) -> None:
        """Put what plug-in `name` registers into the parts' tables; the first plug-in to claim
        a name keeps it, and no plug-in replaces a built-in one."""
        from tack.agents import PLUGGED_BACKENDS
        from tack.feedback.parsers import FORMATS
        from tack.principles.checks import BUILTIN_CHECKS
        from tack.principles.rules import PLUGGED_CHECKS, python_checks
        from tack.tracker import PLUGGED_KINDS, SUPPORTED_KINDS
        from tack.workflow.config import AGENT_BACKENDS

        tables: dict[str, tuple[dict[str, Any], Any]] = {
            "register_trackers": (PLUGGED_KINDS, SUPPORTED_KINDS),
            "register_agent_backends": (PLUGGED_BACKENDS, AGENT_BACKENDS),
            "register_scan_rules": (PLUGGED_CHECKS, BUILTIN_CHECKS),
            "register_feedback_parsers": (FORMATS, ()),
        }
        undo = self._undo.setdefault(name, [])
        for hook, (table, builtin) in tables.items():
            for key, thing in self._registered_by(name, hook).items():
                if key in table or key in builtin:
                    continue
                table[key] = thing
                undo.append(functools.partial(table.pop, key, None))
                if hook == "register_agent_backends":  # `agent.backend` accepts it now
                    AGENT_BACKENDS.append(key)
                    undo.append(functools.partial(AGENT_BACKENDS.remove, key))
        python_checks.cache_clear()

    def names(self) -> list[str]:
        return [name for name, _ in self.pm.list_name_plugin()]

    def _impls(self, hook: str) -> list[pluggy.HookImpl]:
        impls: list[pluggy.HookImpl] = getattr(self.pm.hook, hook).get_hookimpls()
        return impls

    def implemented(self, hook: str) -> bool:
        return bool(self._impls(hook))

    def _answers(self, hook: str, **kwargs: Any) -> list[tuple[str, Any]]:
        """Each plug-in's answer, in registration order (Tack's own first)."""
        out: list[tuple[str, Any]] = []
        for impl in self._impls(hook):
            try:
                answer = _call(impl, kwargs)
            except Exception as exc:
                raise PluginError(f"Tack plug-in {impl.plugin_name!r} failed in its {hook} "
                                  f"hook: {type(exc).__name__}: {exc}") from exc
            if answer is not None:
                out.append((impl.plugin_name, answer))
        return out

    def _observe(self, hook: str, **kwargs: Any) -> list[Any]:
        """Call an observer hook; a failing plug-in is logged, never raised. Returns what the
        plug-ins returned (awaitables for async ones)."""
        out: list[Any] = []
        for impl in self._impls(hook):
            try:
                answer = _call(impl, kwargs)
            except Exception as exc:  # noqa: BLE001 - observers never break a run
                log.warning("plug-in hook failed", plugin=impl.plugin_name, hook=hook,
                            error=f"{type(exc).__name__}: {exc}")
                continue
            if answer is not None:
                out.append((impl.plugin_name, answer))
        return out

    # -- a run's life ----------------------------------------------------------------------

    def workspace_prepared(self, run: Run) -> None:
        self._observe("workspace_prepared", run=run)

    def session_environment(self, run: Run, env: dict[str, str]) -> dict[str, str]:
        merged = dict(env)
        for _, extra in self._answers("session_environment", run=run):
            merged.update({str(k): str(v) for k, v in extra.items()})
        return merged

    def session_tools(self, run: Run | None) -> list[AgentTool]:
        tools: dict[str, AgentTool] = {}
        for name, offered in self._answers("session_tools", run=run):
            for tool in offered:
                if tool.spec.name in tools:
                    raise PluginError(f"Tack plug-in {name!r} offers a tool named "
                                      f"{tool.spec.name!r}, which another plug-in already "
                                      "offers. Rename one of them.")
                tools[tool.spec.name] = tool
        return list(tools.values())

    def prompt_context(self, run: Run) -> dict[str, Any]:
        variables: dict[str, Any] = {}
        owner: dict[str, str] = {}
        for name, answer in self._answers("prompt_context", run=run):
            for key, value in answer.items():
                if key in RESERVED_PROMPT_NAMES or key in owner:
                    raise PluginError(
                        f"Tack plug-in {name!r} sets the prompt variable {key!r}, which "
                        + (f"plug-in {owner[key]!r} already sets" if key in owner
                           else "Tack itself binds") + ". Rename the variable.")
                owner[key] = name
                variables[key] = value
        return variables

    def run_attempt(self, run: Run) -> Awaitable[str | None] | None:
        """The first plug-in that takes the attempt over (best-of-N), or None."""
        answers = self._answers("run_attempt", run=run)
        return answers[0][1] if answers else None

    def turn_event(self, run: Run, event: Any) -> None:
        self._observe("turn_event", run=run, event=event)

    def run_ended(self, run: Run, status: str, error: str | None) -> None:
        self._observe("run_ended", run=run, status=status, error=error)

    async def handed_off(self, run: Run, handoff: Any) -> None:
        for name, answer in self._observe("handed_off", run=run, handoff=handoff):
            if inspect.isawaitable(answer):
                try:
                    await answer
                except Exception as exc:  # noqa: BLE001 - observers never break a run
                    log.warning("plug-in hook failed", plugin=name, hook="handed_off",
                                error=f"{type(exc).__name__}: {exc}")

    # -- outside a run ---------------------------------------------------------------------

    def pull_request_merged(self, workflow: Any, pull_request: Any) -> None:
        self._observe("pull_request_merged", workflow=workflow, pull_request=pull_request)

    # -- plug-in kinds ---------------------------------------------------------------------

    def _registered_by(self, plugin: str, hook: str) -> dict[str, Any]:
        """What plug-in `plugin` registers through `hook` (e.g. `register_trackers`)."""
        found: dict[str, Any] = {}

        def register(name: str, thing: Any) -> None:
            found.setdefault(name, thing)

        for impl in self._impls(hook):
            if impl.plugin_name != plugin:
                continue
            try:
                _call(impl, {"register": register})
            except Exception as exc:
                raise PluginError(f"Tack plug-in {plugin!r} failed in its {hook} hook: "
                                  f"{type(exc).__name__}: {exc}") from exc
        return found


def _call(impl: pluggy.HookImpl, kwargs: dict[str, Any]) -> Any:
    # As pluggy does: an implementation may take fewer arguments than its hook offers.
    return impl.function(*[kwargs[name] for name in impl.argnames])


@functools.lru_cache(maxsize=1)
def default_plugins() -> Plugins:
    """Tack's own parts plus every installed plug-in, loaded once per process."""
    return Plugins()
