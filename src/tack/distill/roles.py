"""The three distillation roles: their workspaces, their prompts, and one agent session each.

Every role step is a fresh session of the configured backend in its own directory, so the
implementer never shares a conversation or a file with the writer or the judge.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tack.agents import AgentBackend, AgentEvent, SessionContext, TokenUsage
from tack.agents.tools import GIT_IDENTITY
from tack.distill.source import DistillError, SourceLayout, list_tree
from tack.sandbox import SandboxPolicy
from tack.distill.verdict import FINDINGS_EXAMPLE
from tack.tracker.credentials import environ_without
from tack.tracker.local import LocalTracker

SPEC_FILE = "SPEC.md"
FINDINGS_FILE = "findings.json"
GROUNDING_FILE = "grounding.json"

_SPEC_STYLE = """\
Write the spec like a good protocol specification (Symphony's SPEC.md is the model):
- precise about business-critical behaviour: inputs, outputs, edge cases, errors, defaults,
  the public names and signatures other code relies on, and the file/module layout
  (which paths must exist so existing callers and tests can import them);
- open about toolchain choices that do not matter to callers (libraries, internal
  structure, helper names): say what must hold, not how to build it;
- never paste the implementation; a reader must be able to build it from the prose."""

WRITER_NEW = """\
Distillation round {round}: writer.

The directory `source/` holds a working implementation ({name}). Read all of it, including
its tests, and write a specification in `SPEC.md` from which an engineer who never sees this
code could rebuild a system that passes the same tests and offers the same interface.

""" + _SPEC_STYLE + """

Write the complete spec to `SPEC.md` with the write_file tool, then reply with one line."""

WRITER_REVISE = """\
Distillation round {round}: writer (revision).

The directory `source/` holds a working implementation ({name}). `SPEC.md` is the spec from
round {previous}; a fresh engineer rebuilt the system from it and a judge compared the two.
The judge's verdict is in `findings.json` (score {score}; `findings` are gaps and mismatches,
`spec_changes` are proposed edits, `over_specification` lists parts that constrain choices
that do not matter). Revise `SPEC.md`: close every gap, apply the changes that are right,
and loosen what is over-specified.

""" + _SPEC_STYLE + """

Write the complete revised spec to `SPEC.md` with the write_file tool, then reply with one
line."""

IMPLEMENTER = """\
Distillation round {round}: implementer.

`SPEC.md` in this directory is a specification. Build the system it describes from scratch,
in this directory, exactly at the paths and with the names the spec gives. There is no other
code to look at: the spec is all you have. Follow it precisely where it is precise and make
sensible choices where it leaves them open. Do not modify SPEC.md. When done, reply with a
short summary of the files you wrote."""

JUDGE = """\
Distillation round {round}: judge.

Compare three things in this directory:
- `original/`: the working implementation (with its tests);
- `reimplementation/`: a system a fresh engineer built from the spec alone;
- `SPEC.md`: the spec they built it from.
`grounding.json` holds facts measured for you: the original's tests run against the
re-implementation ({passed}/{total} passed) and a diff of the public API surfaces
(match {api_match}). Trust these over impressions.

Judge the spec, not the engineer: for every behavioural difference, find the gap or
ambiguity in the spec that allowed it. Flag over-specification too: parts of the spec that
prescribe choices callers do not depend on. Write `findings.json` with the write_file tool,
shaped like:
{example}
`score` (0 to 1) is how completely the spec reproduces the original's behaviour. Then reply
with one line."""


@dataclass
class RoleOutcome:
    ok: bool
    usage: TokenUsage
    session_id: str | None
    error: str | None
    final_message: str = ""


def _git_init(workspace: Path) -> None:
    """A repository with the seed files committed: agents expect one, and it shows changes."""
    env = {**os.environ, **GIT_IDENTITY}
    for argv in (["git", "init", "-q", "-b", "main"], ["git", "add", "-A"],
                 ["git", "commit", "-q", "--allow-empty", "-m", "distill: seed"]):
        subprocess.run(argv, cwd=workspace, env=env, check=True, capture_output=True)


def fresh_workspace(path: Path) -> Path:
    if path.exists():
        shutil.rmtree(path)
    path.mkdir(parents=True)
    return path


def seed_writer(workspace: Path, layout: SourceLayout, previous_spec: str | None,
                previous_findings: dict[str, Any] | None) -> None:
    fresh_workspace(workspace)
    layout.copy_members(workspace / "source", with_tests=True)
    if previous_spec is not None:
        (workspace / SPEC_FILE).write_text(previous_spec, encoding="utf-8")
        (workspace / FINDINGS_FILE).write_text(
            json.dumps(previous_findings or {}, indent=2) + "\n", encoding="utf-8")
    _git_init(workspace)


def seed_implementer(workspace: Path, spec: str) -> None:
    fresh_workspace(workspace)
    (workspace / SPEC_FILE).write_text(spec, encoding="utf-8")
    _git_init(workspace)
    held = list_tree(workspace)
    # The whole point of the exercise: the implementer sees the spec and nothing else.
    if held != [SPEC_FILE]:
        raise DistillError(f"the implementer workspace {workspace} must hold only {SPEC_FILE} "
                           f"but holds {held}; remove what put them there.")


def seed_judge(workspace: Path, layout: SourceLayout, implementation: Path, spec: str,
               grounding: dict[str, Any]) -> None:
    fresh_workspace(workspace)
    layout.copy_members(workspace / "original", with_tests=True)
    shutil.copytree(implementation, workspace / "reimplementation",
                    ignore=shutil.ignore_patterns(".git", SPEC_FILE, "__pycache__"))
    (workspace / SPEC_FILE).write_text(spec, encoding="utf-8")
    (workspace / GROUNDING_FILE).write_text(json.dumps(grounding, indent=2) + "\n",
                                            encoding="utf-8")
    _git_init(workspace)


def judge_prompt(number: int, tests: dict[str, Any], api: dict[str, Any]) -> str:
    match = api.get("match")
    return JUDGE.format(round=number, passed=tests.get("passed", 0),
                        total=tests.get("total", 0),
                        api_match="n/a" if match is None else f"{match:.0%}",
                        example=FINDINGS_EXAMPLE)


async def run_role(
    backend: AgentBackend,
    tracker: LocalTracker,
    workspace: Path,
    *,
    title: str,
    prompt: str,
    events_path: Path,
    on_event: Callable[[AgentEvent], None] | None = None,
    sandbox: SandboxPolicy | None = None,
) -> RoleOutcome:
    """One fresh agent session, one turn; events are appended to `events_path` as JSONL.
    The agent's commands run in `sandbox` (None: unsandboxed)."""
    issue = tracker.add_issue(title, description=prompt, state="In Progress")
    ctx = SessionContext(workspace=workspace, issue=issue, tracker=tracker,
                         env=environ_without(), sandbox=sandbox)
    usage = TokenUsage()

    async def sink(event: AgentEvent) -> None:
        with events_path.open("a", encoding="utf-8") as fh:
            fh.write(json.dumps({"at": event.at, "kind": event.kind,
                                 "message": event.message[:500]}) + "\n")
        if on_event is not None:
            on_event(event)

    session = await backend.start_session(ctx)
    try:
        result = await session.run_turn(prompt, sink)
        usage = result.usage
    finally:
        await session.stop()
    return RoleOutcome(result.ok, usage, session.session_id, result.error,
                       result.final_message)
