"""Session notes are built from a real agent's events (the built-in agent against the stub
model), survive a restart, and come back in the next prompt."""

from __future__ import annotations

from pathlib import Path

from tack.agents.base import AgentEvent, SessionContext
from tack.agents.builtin import BuiltinBackend
from tack.context.notes import SessionNotes
from tack.context.wiring import session_notes
from tack.plugins import Plugins, Run
from tack.testing import StubModelServer
from tack.tracker.local import LocalTracker
from tack.workflow import load_workflow
from tack.workflow.config import BuiltinConfig


async def test_notes_follow_the_agent_and_survive_a_restart(
        git_repo: Path, tmp_path: Path) -> None:
    script = {"conversations": [{"match": "parser", "steps": [
        {"tool_calls": [{"name": "write_file",
                         "arguments": {"path": "src/parser.py", "content": "x = (\n"}}]},
        {"tool_calls": [{"name": "shell", "arguments": {"command": "python -c 'import sys; "
                                                                    "sys.exit(3)'"}}]},
        {"text": "I chose to keep the old grammar. Should the parser accept tabs?"},
    ]}]}
    folder = tmp_path / "notes"
    with LocalTracker(tmp_path / "issues.db") as tracker:
        issue = tracker.add_issue("Fix the parser", description="It rejects trailing commas.")
        notes = SessionNotes(folder, issue.identifier, issue.title)
        assert notes.start_attempt() == ""  # nothing to show on a first attempt

        async def record(event: AgentEvent) -> None:
            notes.record(event)

        async with StubModelServer(script) as stub:
            ctx = SessionContext(workspace=git_repo, issue=issue, tracker=tracker)
            session = await BuiltinBackend(BuiltinConfig(base_url=stub.url)).start_session(ctx)
            try:
                result = await session.run_turn("Fix the parser", record)
            finally:
                await session.stop()
    assert result.ok, result.error
    written = (folder / f"{issue.identifier}.md").read_text()
    assert "- src/parser.py" in written
    assert "shell: python -c 'import sys; sys.exit(3)'" in written and "exit code: 3" in written
    assert "I chose to keep the old grammar." in written
    assert "- Should the parser accept tabs?" in written
    restarted = SessionNotes(folder, issue.identifier, issue.title)  # a new orchestrator
    shown = restarted.start_attempt()
    assert "Notes Tack kept" in shown and "src/parser.py" in shown and "accept tabs?" in shown
    assert restarted.state.attempts == 2


def test_notes_exist_only_when_context_is_configured(git_repo: Path) -> None:
    workflow = git_repo / "WORKFLOW.md"
    workflow.write_text("---\ntracker: {kind: local}\n---\nWork on {{ issue.title }}\n")
    with LocalTracker(git_repo / "issues.db") as tracker:
        issue = tracker.add_issue("Fix the parser")
        assert session_notes(load_workflow(workflow), issue) is None
        workflow.write_text("---\ntracker: {kind: local}\ncontext: {manifest: context.yaml}\n"
                            "---\nWork on {{ issue.title }}\n")
        notes = session_notes(load_workflow(workflow), issue)
        env = Plugins(load_entry_points=False).session_environment(
            Run(workflow=load_workflow(workflow), issue=issue, attempt=None), {})
    assert notes is not None
    assert notes.markdown == git_repo / ".tack" / "context" / "notes" / "TACK-1.md"
    # Every agent session is told where the org-context index lives (Tack's own plug-in).
    assert env["TACK_CONTEXT_HOME"] == str(git_repo / ".tack" / "context")
