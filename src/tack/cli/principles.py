"""`tack principles list|show|add|lint`: read, grow and validate PRINCIPLES.md.

`add` drafts a principle from a title, a review comment, a local tracker issue's comments
or a GitHub comment-thread export, and appends it to the document.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table
from rich.text import Text

from tack.errors import TackError

RootOption = Annotated[Path | None, typer.Option(
    "--root", help="Repository (default: the current directory).")]
WorkflowOption = Annotated[Path | None, typer.Option(
    "--workflow", "-w", help="Workflow file (default: ROOT/WORKFLOW.md).")]
FileOption = Annotated[Path | None, typer.Option(
    "--file", "-f", help="Principles document (default: principles.path, PRINCIPLES.md).")]

HEADER = """# Golden principles

The rules this code base lives by. `tack scan` checks the ones with a `check` block;
agents get the relevant ones in their prompts. Format: docs/principles.md.
"""


def _doc_path(root: Path | None, workflow: Path | None, file: Path | None) -> Path:
    from tack.principles.project import open_project

    if file is not None:
        return file.expanduser().absolute()
    return open_project(root, workflow).principles_path


def register(app: typer.Typer) -> None:
    group = typer.Typer(help="The golden principles (PRINCIPLES.md).", no_args_is_help=True)
    app.add_typer(group, name="principles")

    @group.command("list")
    def list_(
        as_json: Annotated[bool, typer.Option("--json", help="JSON for scripts.")] = False,
        root: RootOption = None, workflow: WorkflowOption = None, file: FileOption = None,
    ) -> None:
        """List the principles: id, severity, how each is checked, title."""
        from tack.principles.document import load_document

        doc = load_document(_doc_path(root, workflow, file))
        if as_json:
            typer.echo(json.dumps([p.to_dict() for p in doc.principles], indent=2))
            return
        console = Console()
        if not console.is_terminal:
            for p in doc.principles:
                kind = p.check.kind if p.check else "review"
                typer.echo(f"{p.id}\t{p.severity}\t{kind}\t{p.title}")
            return
        table = Table(show_edge=False, header_style="bold")
        for name in ("id", "severity", "checked by", "title"):
            table.add_column(name, overflow="fold")
        for p in doc.principles:
            table.add_row(Text(p.id, style="bold"), p.severity,
                          p.check.kind if p.check else "review", Text(p.title))
        console.print(table)

    @group.command("show")
    def show(
        principle_id: Annotated[str, typer.Argument(metavar="ID", help="For example P003.")],
        as_json: Annotated[bool, typer.Option("--json", help="JSON for scripts.")] = False,
        root: RootOption = None, workflow: WorkflowOption = None, file: FileOption = None,
    ) -> None:
        """Show one principle in full."""
        from tack.principles.document import PrinciplesError, load_document

        path = _doc_path(root, workflow, file)
        doc = load_document(path)
        p = doc.get(principle_id)
        if p is None:
            known = ", ".join(x.id for x in doc.principles) or "none"
            raise PrinciplesError(f"{path}: no principle {principle_id!r}. Known: {known}.")
        if as_json:
            typer.echo(json.dumps(p.to_dict(), indent=2))
            return
        lines = path.read_text("utf-8").splitlines()
        end = next((n for n in range(p.line, len(lines)) if lines[n].startswith("## ")),
                   len(lines))
        typer.echo("\n".join(lines[p.line - 1 : end]).rstrip())

    @group.command("lint")
    def lint_cmd(
        as_json: Annotated[bool, typer.Option("--json", help="JSON for scripts.")] = False,
        root: RootOption = None, workflow: WorkflowOption = None, file: FileOption = None,
    ) -> None:
        """Validate the document: format, ids, and that every check can really run."""
        from tack.principles.document import load_document
        from tack.principles.lint import lint

        doc = load_document(_doc_path(root, workflow, file))
        problems = lint(doc)
        errors = [p for p in problems if p.level == "error"]
        if as_json:
            typer.echo(json.dumps([{"path": str(p.path), "line": p.line, "level": p.level,
                                    "message": p.message, "fix": p.fix} for p in problems],
                                  indent=2))
        else:
            for p in problems:
                typer.echo(str(p))
            typer.echo(f"{doc.path}: {len(doc.principles)} principle(s), {len(errors)} "
                       f"error(s), {len(problems) - len(errors)} warning(s).")
        raise typer.Exit(1 if errors else 0)

    @group.command("add")
    def add(
        title: Annotated[str | None, typer.Argument(help="Title of a new principle.")] = None,
        why: Annotated[str | None, typer.Option("--why", help="Why it matters.")] = None,
        from_comment: Annotated[str | None, typer.Option(
            "--from-comment", help="Draft from the text of a review comment ('-' = stdin).")
        ] = None,
        from_issue: Annotated[str | None, typer.Option(
            "--from-issue", help="Draft one principle per comment of this local issue.")
        ] = None,
        from_json: Annotated[Path | None, typer.Option(
            "--from-json", help="A GitHub issue comments export (GET .../issues/N/comments).")
        ] = None,
        model: Annotated[str | None, typer.Option(
            "--model", help="Let this model write the drafts (built-in agent's endpoint); "
            "'default' uses the configured model.")] = None,
        dry_run: Annotated[bool, typer.Option(
            "--dry-run", help="Print the drafts; do not change the document.")] = False,
        root: RootOption = None, workflow: WorkflowOption = None, file: FileOption = None,
    ) -> None:
        """Add a principle, or draft principles from comments, to PRINCIPLES.md."""
        _add(title, why, from_comment, from_issue, from_json, model, dry_run, root, workflow,
             file)


def _add(
    title: str | None, why: str | None, from_comment: str | None, from_issue: str | None,
    from_json: Path | None, model: str | None, dry_run: bool, root: Path | None,
    workflow: Path | None, file: Path | None,
) -> None:
    from tack.principles import drafting
    from tack.principles.document import PrinciplesError, parse_document
    from tack.principles.project import open_project

    sources = [x for x in (title, from_comment, from_issue, from_json) if x is not None]
    if len(sources) != 1:
        raise TackError("Give exactly one of: a TITLE, --from-comment TEXT, --from-issue ID or "
                        "--from-json FILE. Example: `tack principles add --from-comment "
                        "\"Don't call time.sleep in tests; poll with a deadline.\"`.")
    project = open_project(root, workflow)
    path = file.expanduser().absolute() if file is not None else project.principles_path
    existing = path.read_text("utf-8") if path.exists() else ""
    doc = parse_document(existing, path)
    comments: list[drafting.CommentText] = []
    if from_comment is not None:
        body = sys.stdin.read() if from_comment == "-" else from_comment
        comments = [drafting.CommentText(body, "a review comment")]
    elif from_issue is not None:
        from tack.tracker.local import LocalTracker

        with LocalTracker.from_config(project.config.tracker,
                                      tack_dir=project.tack_dir) as tracker:
            issue = tracker.get(from_issue)
        comments = [drafting.CommentText(c.body, f"{issue.identifier}, comment by {c.author}")
                    for c in issue.comments]
    elif from_json is not None:
        comments = drafting.comments_from_github_export(from_json)
    drafts: list[str] = []
    next_number = int(doc.next_id()[1:])
    if title is not None:
        pid = f"P{next_number:03d}"
        reason = (why or "Say why this matters.").strip()
        drafts.append(f"## {pid}: {title.strip()}\n\nWhy: {reason}\n")
    for comment in drafting.useful(comments):
        pid = f"P{next_number + len(drafts):03d}"
        if model is not None:
            settings = project.judge_settings(model=None if model == "default" else model)
            drafts.append(drafting.draft_with_model(comment.body, principle_id=pid,
                                                    source=comment.source, settings=settings))
        else:
            drafts.append(drafting.draft_from_comment(comment.body, principle_id=pid,
                                                      source=comment.source))
    if not drafts:
        raise PrinciplesError("No comment long enough to become a principle (acknowledgements "
                              "and one-liners are skipped). Pass a fuller comment or a TITLE.")
    text = "\n".join(drafts)
    if dry_run:
        typer.echo(text.rstrip())
        return
    base = existing if existing.strip() else HEADER
    separator = "\n" if base.endswith("\n") else "\n\n"
    path.write_text(base + separator + text, "utf-8")
    ids = [d.split(":", 1)[0].removeprefix("## ") for d in drafts]
    typer.echo(f"added {', '.join(ids)} to {path}; review the draft(s), then run "
               "`tack principles lint`.")
