"""`tack answer ISSUE (TEXT | --option N)` and `tack questions list|show`: the questions
agents asked, read from and written to the state db (a running `tack up` need not be up;
it resumes the issue on its next poll)."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

from tack.errors import TackError

WorkflowOption = Annotated[Path, typer.Option(
    "--workflow", "-w", help="The project's workflow file (finds the state db).")]


def _questions(workflow: Path) -> Any:
    from tack.questions.store import QuestionStore
    from tack.store import Store
    from tack.workflow import load_workflow

    wf = load_workflow(workflow)
    path = wf.store_path()
    if not path.exists():
        raise TackError(f"No state db at {path}: no agent has asked anything yet. Pass "
                        "--workflow for the project whose questions you mean.")
    store = Store(path)
    return store, QuestionStore(store.db)


def _when(at: float | None) -> str:
    return "—" if at is None else time.strftime("%Y-%m-%d %H:%M", time.localtime(at))


def register(app: typer.Typer) -> None:
    @app.command()
    def answer(
        issue: Annotated[str, typer.Argument(help="The issue whose open question to answer.")],
        text: Annotated[str | None, typer.Argument(help="The answer, in words.")] = None,
        option: Annotated[int | None, typer.Option("--option", "-o",
                                                   help="Answer with option N (from 1).")] = None,
        by: Annotated[str, typer.Option("--as", help="Who answers.")] = "cli",
        workflow: WorkflowOption = Path("WORKFLOW.md"),
    ) -> None:
        """Answer the open question an agent asked on ISSUE; `tack up` resumes it."""
        from tack.questions.park import record_answer

        if (text is None) == (option is None):
            raise TackError("Give the answer as TEXT or as --option N (one of them), e.g. "
                            f"`tack answer {issue} --option 1`.")
        store, questions = _questions(workflow)
        try:
            open_ = questions.where(status="open", identifier=issue)
            if not open_:
                raise TackError(f"{issue} has no open question. `tack questions list` shows "
                                "the questions agents asked.")
            question = open_[-1]  # the oldest open one first
            given = record_answer(store, question, text, option, f"cli:{by}")
        finally:
            store.close()
        shown = "[secret]" if question.secret else given
        typer.echo(f"{question.identifier}: question {question.id} answered: {shown}. "
                   "`tack up` resumes the agent on its next poll.")

    questions_app = typer.Typer(help="Questions agents asked people, and their answers.",
                                no_args_is_help=True)
    app.add_typer(questions_app, name="questions")

    @questions_app.command("list")
    def list_(
        status: Annotated[str | None, typer.Option(
            "--status", help="open, answered, resumed or failed.")] = None,
        as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
        workflow: WorkflowOption = Path("WORKFLOW.md"),
    ) -> None:
        """The questions agents asked, newest first."""
        store, questions = _questions(workflow)
        try:
            rows = [q.public() for q in questions.where(status=status)]
        finally:
            store.close()
        if as_json:
            typer.echo(json.dumps(rows, indent=2))
            return
        table = Table(title="Questions", title_justify="left", expand=True)
        for name in ("Id", "Issue", "Status", "Asked", "Answered by", "Question"):
            table.add_column(name)
        for q in rows:
            table.add_row(str(q["id"]), q["issue_identifier"], q["status"], _when(q["asked_at"]),
                          q["answered_by"] or "—", q["text"][:120])
        Console().print(table if rows else "No questions yet.")

    @questions_app.command("show")
    def show(
        question_id: Annotated[int, typer.Argument(metavar="ID")],
        workflow: WorkflowOption = Path("WORKFLOW.md"),
    ) -> None:
        """One question: its text, options, status and answer."""
        store, questions = _questions(workflow)
        try:
            question = questions.get(question_id)
        finally:
            store.close()
        if question is None:
            raise TackError(f"No question {question_id}; `tack questions list` shows them.")
        q = question.public()
        lines = [f"Question {q['id']} on {q['issue_identifier']} ({q['status']}, "
                 f"asked {_when(q['asked_at'])} by {q['source']})", "", q["text"]]
        for number, label in enumerate(q["options"], 1):
            lines.append(f"  {number}. {label}" + (" (recommended)"
                                                   if q["recommended"] == number else ""))
        if q["answer"] is not None:
            lines.append(f"\nAnswer: {q['answer']} (by {q['answered_by']}, "
                         f"{_when(q['answered_at'])})")
        typer.echo("\n".join(lines))
