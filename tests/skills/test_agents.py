"""Agents find materialised skills: the real codex and claude CLIs send the skill's name and
description to the (stub) model, and the built-in agent lists it and loads it with its tool."""

from __future__ import annotations

import asyncio
import json
import os
from pathlib import Path

import pytest

from tack.agents.base import AgentEvent, SessionContext
from tack.agents.builtin import BuiltinBackend
from tack.skills import SkillsHome
from tack.skills.installer import add
from tack.skills.materialise import materialise_skills
from tack.testing import StubModelServer
from tack.tracker.local import LocalTracker
from tack.workflow.config import BuiltinConfig, ClaudeConfig, SkillsConfig
from tests.agents.codex_helpers import codex_config, codex_env, codex_home, requires_codex
from tests.agents.test_claude import CLAUDE_BIN, claude_env, needs_claude
from tests.skills.helpers import write_skill

NAME = "frobnicate-widgets"
DESCRIPTION = "Frobnicate widgets (marker zq-7731) whenever an issue mentions widgets."
BODY = "Step 1: count the widgets (marker body-5512).\n"


@pytest.fixture
def tracker(tmp_path: Path) -> LocalTracker:
    with LocalTracker(tmp_path / "issues.db") as t:
        yield t


@pytest.fixture
def workspace(git_repo: Path, tmp_path: Path, tracker: LocalTracker) -> Path:
    """The repository with one installed skill, materialised as `tack up` would."""
    home = SkillsHome(git_repo)
    source = write_skill(tmp_path / "src", NAME, DESCRIPTION, BODY)
    (source / "references").mkdir()
    (source / "references" / "sizes.md").write_text("Widgets come in three sizes.\n")
    add(home, SkillsConfig(), str(source))
    issue = tracker.add_issue("Fix the widgets")
    materialise_skills(git_repo, home, SkillsConfig(), issue)
    return git_repo


def bodies(stub: StubModelServer) -> list[str]:
    return [json.dumps(r.body) for r in stub.requests if isinstance(r.body, dict)]


async def _quiet(event: AgentEvent) -> None:
    pass


@requires_codex
async def test_codex_sends_the_installed_skill_to_the_model(
        tmp_path: Path, workspace: Path, tracker: LocalTracker) -> None:
    script = {"conversations": [{"match": "widgets", "steps": [{"text": "done"}]}]}
    async with StubModelServer(script) as stub:
        home = codex_home(tmp_path, stub.url)
        ctx = SessionContext(workspace=workspace, issue=tracker.get("TACK-1"), tracker=tracker,
                             env={**os.environ, **codex_env(home)})
        from tack.agents.codex import CodexBackend

        session = await CodexBackend(codex_config()).start_session(ctx)
        try:
            result = await asyncio.wait_for(session.run_turn("Fix the widgets", _quiet), 90)
        finally:
            await session.stop()
    assert result.ok, result.error
    sent = bodies(stub)
    assert sent and all(NAME in b and DESCRIPTION in b for b in sent)
    assert "body-5512" not in sent[0]  # progressive disclosure: the body is read on demand


@needs_claude
async def test_claude_sends_the_installed_skill_to_the_model_and_loads_it(
        tmp_path: Path, workspace: Path, tracker: LocalTracker) -> None:
    # Claude Code's own Skill tool, allowed with the default claude.allowed_tools.
    script = {"conversations": [{"match": "widgets", "steps": [
        {"tool_calls": [{"name": "Skill", "arguments": {"skill": NAME}}]},
        {"text": "done"}]}]}
    async with StubModelServer(script) as stub:
        ctx = SessionContext(workspace=workspace, issue=tracker.get("TACK-1"), tracker=tracker,
                             env={**os.environ, **claude_env(tmp_path / "home", stub)})
        from tack.agents.claude import ClaudeBackend

        session = await ClaudeBackend(ClaudeConfig(command=CLAUDE_BIN)).start_session(ctx)
        try:
            result = await asyncio.wait_for(session.run_turn("Fix the widgets", _quiet), 90)
        finally:
            await session.stop()
    assert result.ok, result.error
    sent = [b for b in bodies(stub) if "widgets" in b]
    assert sent and any(NAME in b and DESCRIPTION in b for b in sent), sent[:1]
    assert "body-5512" not in sent[0]
    assert any("body-5512" in b for b in sent[1:]), "the Skill tool did not load the body"


@pytest.mark.parametrize("api", ["chat", "responses"])
async def test_the_builtin_agent_lists_skills_and_loads_one_with_its_tool(
        workspace: Path, tracker: LocalTracker, api: str) -> None:
    script = {"conversations": [{"match": "widgets", "steps": [
        {"tool_calls": [{"name": "skill", "arguments": {"name": NAME}}]},
        {"tool_calls": [{"name": "skill", "arguments": {"name": NAME,
                                                         "file": "references/sizes.md"}}]},
        {"text": "done"},
    ]}]}
    events: list[AgentEvent] = []

    async def record(event: AgentEvent) -> None:
        events.append(event)

    async with StubModelServer(script) as stub:
        ctx = SessionContext(workspace=workspace, issue=tracker.get("TACK-1"), tracker=tracker)
        backend = BuiltinBackend(BuiltinConfig(base_url=stub.url, api=api),
                                 skills_budget=SkillsConfig().budget_chars())
        session = await backend.start_session(ctx)
        try:
            result = await session.run_turn("Fix the widgets", record)
        finally:
            await session.stop()
    assert result.ok, result.error
    first = stub.requests[0].body
    system = first["messages"][0]["content"] if api == "chat" else first["instructions"]
    assert f"- {NAME}: {DESCRIPTION}" in system and "body-5512" not in system
    tools = [t.get("name") or t["function"]["name"] for t in first["tools"]]
    assert "skill" in tools
    outputs = [e.data["output"] for e in events if e.kind == "tool_result"]
    assert "body-5512" in outputs[0] and "references/sizes.md" in outputs[0]
    assert outputs[1] == "Widgets come in three sizes.\n"


async def test_the_catalog_budget_drops_skills_and_says_which(
        workspace: Path, tracker: LocalTracker, tmp_path: Path) -> None:
    skills = workspace / ".agents" / "skills"
    write_skill(skills, "another-skill", "x" * 300)
    script = {"conversations": [{"match": "widgets", "steps": [{"text": "done"}]}]}
    events: list[AgentEvent] = []

    async def record(event: AgentEvent) -> None:
        events.append(event)

    async with StubModelServer(script) as stub:
        ctx = SessionContext(workspace=workspace, issue=tracker.get("TACK-1"), tracker=tracker)
        session = await BuiltinBackend(BuiltinConfig(base_url=stub.url),
                                       skills_budget=400).start_session(ctx)
        try:
            await session.run_turn("Fix the widgets", record)
        finally:
            await session.stop()
    system = stub.requests[0].body["messages"][0]["content"]
    assert NAME in system and "another-skill" not in system
    dropped = [e for e in events if e.data.get("skills_dropped")]
    assert dropped and dropped[0].data["skills_dropped"] == ["another-skill"]
