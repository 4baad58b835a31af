"""The plug-in surface from Python: registering plug-ins, what each hook's answer does, and
how a failing plug-in is reported. `tests/e2e/test_plugins.py` runs one in `tack up`."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from tack.errors import PluginError, TackError
from tack.plugins import Plugins, Run, default_plugins, hookimpl
from tack.tracker import build_tracker
from tack.tracker.base import Issue
from tack.workflow import load_workflow

ISSUE = Issue(id="id-1", identifier="TACK-1", title="t", state="Todo")


@pytest.fixture
def workflow(tmp_path: Path) -> Any:
    path = tmp_path / "WORKFLOW.md"
    path.write_text("---\ntracker: {kind: local}\nagent: {backend: builtin}\n---\n"
                    "Work on {{ issue.identifier }}. {{ greeting }}\n")
    return load_workflow(path)


@pytest.fixture
def installed() -> Iterator[Plugins]:
    """The process-wide plug-ins that `tack up` uses; what a test adds is removed after."""
    plugins = default_plugins()
    before = set(plugins.names())
    yield plugins
    for name in set(plugins.names()) - before:
        plugins.unregister(name)


class Greeter:
    @hookimpl
    def prompt_context(self, run: Run) -> dict[str, Any]:
        return {"greeting": f"hello {run.identifier}"}

    @hookimpl
    def session_environment(self, run: Run) -> dict[str, str]:
        return {"GREETED": run.identifier}


def test_tacks_own_parts_are_plugins_and_a_plugin_adds_a_prompt_variable(workflow: Any) -> None:
    plugins = Plugins(load_entry_points=False)
    assert plugins.names() == ["tack.builtin"]
    assert [t.spec.name for t in plugins.session_tools(Run(workflow, ISSUE, None))] == ["check"]
    run = Run(workflow, ISSUE, None)
    with pytest.raises(TackError, match="greeting"):  # strict Liquid: not defined yet
        workflow.render_prompt(ISSUE, None, extra=plugins.prompt_context(run))
    plugins.register(Greeter(), name="greeter")
    variables = plugins.prompt_context(run)
    assert set(variables) == {"lessons", "principles", "greeting"}
    assert workflow.render_prompt(ISSUE, None, extra=variables) == \
        "Work on TACK-1. hello TACK-1"
    assert plugins.session_environment(run, {"PATH": "/bin"}) == {
        "PATH": "/bin", "GREETED": "TACK-1"}


def test_a_prompt_variable_set_twice_names_both_plugins(workflow: Any) -> None:
    plugins = Plugins(load_entry_points=False)
    plugins.register(Greeter(), name="greeter")
    plugins.register(Greeter(), name="second-greeter")
    with pytest.raises(PluginError) as err:
        plugins.prompt_context(Run(workflow, ISSUE, None))
    assert "'second-greeter'" in err.value.message and "'greeter'" in err.value.message


def test_a_failing_observer_is_skipped_and_the_others_still_run(workflow: Any) -> None:
    seen: list[str] = []

    class Broken:
        @hookimpl
        def run_ended(self, run: Run) -> None:
            raise RuntimeError("boom")

        @hookimpl
        async def handed_off(self, run: Run) -> None:
            raise RuntimeError("async boom")

    class Recorder:
        @hookimpl
        def run_ended(self, run: Run, status: str) -> None:
            seen.append(status)

        @hookimpl
        async def handed_off(self, run: Run, handoff: Any) -> None:
            seen.append(f"handed off {handoff}")

    plugins = Plugins(load_entry_points=False)
    plugins.register(Broken(), name="broken")
    plugins.register(Recorder(), name="recorder")
    run = Run(workflow, ISSUE, None)
    plugins.run_ended(run, "succeeded", None)
    asyncio.run(plugins.handed_off(run, None))
    assert seen == ["succeeded", "handed off None"]


def test_a_registered_tracker_kind_is_built(tmp_path: Path, installed: Plugins) -> None:
    made = SimpleNamespace(kind="memo")

    class Trackers:
        @hookimpl
        def register_trackers(self, register: Any) -> None:
            register("memo", lambda config, tack_dir: made)

    config = SimpleNamespace(kind="memo")
    with pytest.raises(TackError, match="not supported"):
        build_tracker(config, tack_dir=tmp_path)  # type: ignore[arg-type]
    installed.register(Trackers(), name="memo-trackers")
    assert build_tracker(config, tack_dir=tmp_path) is made  # type: ignore[arg-type]


def test_a_registered_agent_backend_is_a_valid_agent_backend(tmp_path: Path,
                                                            installed: Plugins) -> None:
    path = tmp_path / "WORKFLOW.md"
    path.write_text("---\ntracker: {kind: local}\nagent: {backend: echo}\n---\nhi\n")
    with pytest.raises(TackError) as err:
        load_workflow(path)
    assert "must be 'codex', 'claude', 'builtin' or 'command' (got 'echo')" in err.value.message

    class Backends:
        @hookimpl
        def register_agent_backends(self, register: Any) -> None:
            register("echo", lambda workflow: SimpleNamespace(name="echo"))

    installed.register(Backends(), name="echo-backends")
    from tack.agents import build_backend

    assert build_backend(load_workflow(path)).name == "echo"  # type: ignore[attr-defined]
