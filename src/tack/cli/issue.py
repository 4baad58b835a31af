"""`tack issue ...`: add, list, show, move and comment on issues in the local tracker.

The tracker lives in `.tack/` beside the workflow file; its prefix and terminal states come from
the workflow's `tracker` section when the file exists, else from the defaults.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Optional

import typer
import typer.core
import yaml
from rich.console import Console
from rich.table import Table
from rich.text import Text
# Typer vendors its own Click; a command class overrides methods typed with its Context.
from typer._click.core import Context as ClickContext

from tack.errors import TrackerError
from tack.tracker.base import Issue
from tack.tracker.local import LocalTracker
from tack.workflow.config import TrackerConfig

WorkflowOption = Annotated[
    Path,
    typer.Option("--workflow", "-w", help="Workflow file; the tracker is .tack/ beside it."),
]
DEFAULT_WORKFLOW = Path("WORKFLOW.md")


def _tracker_config(path: Path) -> TrackerConfig:
    from tack.errors import WorkflowError
    from tack.workflow import load_workflow

    try:
        return load_workflow(path).config.tracker
    except WorkflowError:
        # A mistake elsewhere in WORKFLOW.md must not lock people out of their issues:
        # the tracker section alone is enough here.
        return _tracker_config_from_yaml(path)


def _tracker_config_from_yaml(path: Path) -> TrackerConfig:
    text = path.read_text(encoding="utf-8")
    lines = text.splitlines()
    if not lines or lines[0].strip() != "---" or "---" not in (x.strip() for x in lines[1:]):
        return TrackerConfig()
    end = next(i for i in range(1, len(lines)) if lines[i].strip() == "---")
    try:
        front = yaml.safe_load("\n".join(lines[1:end])) or {}
    except yaml.YAMLError as exc:
        raise TrackerError(f"{path}: the front matter is not valid YAML ({exc}).",
                           code="invalid_tracker_config") from exc
    section = front.get("tracker") if isinstance(front, dict) else None
    try:
        return TrackerConfig.model_validate(section or {})
    except ValueError as exc:
        raise TrackerError(f"{path}: the `tracker` section is invalid: {exc}",
                           code="invalid_tracker_config") from exc


def open_tracker(workflow: Path) -> LocalTracker:
    """The local tracker for this workflow file (defaults when the file does not exist)."""
    workflow = workflow.expanduser().absolute()
    tack_dir = workflow.parent / ".tack"
    if not workflow.exists():
        return LocalTracker.from_config(TrackerConfig(kind="local"), tack_dir=tack_dir)
    config = _tracker_config(workflow)
    kind = (config.kind or "local").strip().lower()
    if kind != "local":
        raise TrackerError(
            f"{workflow}: tracker.kind is {config.kind!r}; `tack issue` manages only the "
            "built-in local tracker. Use your tracker's own tools, or set `tracker.kind: local`.",
            code="unsupported_tracker_kind",
        )
    return LocalTracker.from_config(config, tack_dir=tack_dir)


def _print_json(data: object) -> None:
    typer.echo(json.dumps(data, indent=2, ensure_ascii=False))


def _issue_table(issues: list[Issue]) -> Table:
    table = Table(show_edge=False, header_style="bold")
    for name in ("identifier", "state", "priority", "title", "labels", "blocked by"):
        table.add_column(name, overflow="fold")
    for issue in issues:
        blockers = ", ".join(
            f"{b.identifier} ({b.state})" for b in issue.blocked_by if b.identifier
        )
        table.add_row(
            Text(issue.identifier, style="bold" if issue.dispatchable else "dim"),
            issue.state,
            "" if issue.priority is None else str(issue.priority),
            Text(issue.title),
            ", ".join(issue.labels),
            Text(blockers),
        )
    return table


def _show(console: Console, issue: Issue) -> None:
    console.print(Text(f"{issue.identifier}  {issue.title}", style="bold"))
    facts = [f"state: {issue.state}"]
    if issue.priority is not None:
        facts.append(f"priority: {issue.priority}")
    if issue.labels:
        facts.append(f"labels: {', '.join(issue.labels)}")
    if issue.branch_name:
        facts.append(f"branch: {issue.branch_name}")
    console.print(Text("  ".join(facts)))
    if issue.blocked_by:
        refs = ", ".join(f"{b.identifier} ({b.state})" for b in issue.blocked_by)
        note = "" if issue.dispatchable else " — waiting on unfinished blockers"
        console.print(Text(f"blocked by: {refs}{note}"))
    if issue.created_at:
        console.print(Text(f"created: {issue.created_at:%Y-%m-%d %H:%M} UTC"), style="dim")
    console.print()
    console.print(Text(issue.description or "(no description)"))
    if issue.comments:
        console.print()
        console.print(Text(f"comments ({len(issue.comments)})", style="bold"))
        for c in issue.comments:
            console.print(Text(f"— {c.author}, {c.created_at:%Y-%m-%d %H:%M} UTC", style="dim"))
            console.print(Text(c.body))


class FreeTextCommand(typer.core.TyperCommand):
    """A command whose positional text may start with `-` (`tack issue comment ID "-1 no"`).

    Click reads any word that starts with `-` as an option and rejects "-1 ..." as an unknown
    one. Here a word is an option only when it is one of the command's own (`--author`,
    `-a ana`, `--author=ana`, `-aana`); every other word is moved behind `--`, so Click takes
    it as the positional text it is. The order of the positional words is kept.
    """

    def parse_args(self, ctx: ClickContext, args: list[str]) -> list[str]:
        return super().parse_args(ctx, self._options_first(ctx, args))

    def _options_first(self, ctx: ClickContext, args: list[str]) -> list[str]:
        takes_value: set[str] = set()
        flags: set[str] = set(self.get_help_option_names(ctx))
        for param in self.params:
            if isinstance(param, typer.core.TyperOption):
                names = [*param.opts, *param.secondary_opts]
                (flags if param.is_flag else takes_value).update(names)
        options: list[str] = []
        positional: list[str] = []
        words = iter(args)
        for word in words:
            if word == "--":
                positional.extend(words)
                break
            if word in flags:
                options.append(word)
            elif word in takes_value:
                following = next(words, None)
                if following is None:
                    return args  # `--author` with no value: Click says so
                options += [word, following]
            elif _attached_value(word, takes_value):
                options.append(word)
            else:
                positional.append(word)
        return [*options, "--", *positional]


def _attached_value(word: str, takes_value: set[str]) -> bool:
    """`--author=ana` or `-aana`: an option of ours with its value in the same word."""
    if word.startswith("--"):
        return word.split("=", 1)[0] in takes_value and "=" in word
    return len(word) > 2 and word[:2] in takes_value and not any(c.isspace() for c in word)


def register(app: typer.Typer) -> None:
    issue_app = typer.Typer(
        help="Manage issues in the built-in local tracker (.tack/issues.db).",
        no_args_is_help=True,
    )
    app.add_typer(issue_app, name="issue")

    @issue_app.command("add", cls=FreeTextCommand)
    def add(
        title: Annotated[str, typer.Argument(help="Issue title.")],
        description: Annotated[Optional[str], typer.Option("--description", "-d")] = None,
        priority: Annotated[
            Optional[int], typer.Option("--priority", "-p", help="1 (urgent) .. 4 (low).")
        ] = None,
        label: Annotated[
            Optional[list[str]], typer.Option("--label", "-l", help="Repeatable.")
        ] = None,
        blocked_by: Annotated[
            Optional[list[str]],
            typer.Option("--blocked-by", "-b", help="Blocking issue; repeatable."),
        ] = None,
        state: Annotated[str, typer.Option("--state", "-s")] = "Todo",
        branch: Annotated[Optional[str], typer.Option("--branch", help="Branch name.")] = None,
        workflow: WorkflowOption = DEFAULT_WORKFLOW,
    ) -> None:
        """Add an issue; prints its identifier (for example TACK-1)."""
        with open_tracker(workflow) as tracker:
            issue = tracker.add_issue(
                title,
                description=description,
                priority=priority,
                labels=label or (),
                blocked_by=blocked_by or (),
                state=state,
                branch_name=branch,
            )
        typer.echo(issue.identifier)

    @issue_app.command("list")
    def list_(
        state: Annotated[
            Optional[list[str]],
            typer.Option("--state", "-s", help="Only these states; repeatable."),
        ] = None,
        as_json: Annotated[bool, typer.Option("--json", help="JSON array for scripts.")] = False,
        workflow: WorkflowOption = DEFAULT_WORKFLOW,
    ) -> None:
        """List issues (all, or those in the given states)."""
        with open_tracker(workflow) as tracker:
            # The JSON is the whole record, comments included; the table has no room for them.
            issues = tracker.list_issues(state or None, with_comments=as_json)
        if as_json:
            _print_json([i.to_dict() for i in issues])
            return
        console = Console()
        if not issues:
            console.print("No issues. Add one with `tack issue add TITLE`.")
            return
        console.print(_issue_table(issues))

    @issue_app.command("show")
    def show(
        ref: Annotated[str, typer.Argument(metavar="ID", help="Identifier or id.")],
        as_json: Annotated[bool, typer.Option("--json", help="JSON object for scripts.")] = False,
        workflow: WorkflowOption = DEFAULT_WORKFLOW,
    ) -> None:
        """Show one issue with its description and comments."""
        with open_tracker(workflow) as tracker:
            issue = tracker.get(ref)
        if as_json:
            _print_json(issue.to_dict())
        else:
            _show(Console(), issue)

    @issue_app.command("move")
    def move(
        ref: Annotated[str, typer.Argument(metavar="ID", help="Identifier or id.")],
        state: Annotated[str, typer.Argument(help="New state, e.g. 'In Progress'.")],
        workflow: WorkflowOption = DEFAULT_WORKFLOW,
    ) -> None:
        """Move an issue to another state."""
        with open_tracker(workflow) as tracker:
            before = tracker.get(ref)
            after = tracker.move_sync(before.id, state)
        typer.echo(f"{after.identifier}: {before.state} -> {after.state}")

    @issue_app.command("comment", cls=FreeTextCommand)
    def comment(
        ref: Annotated[str, typer.Argument(metavar="ID", help="Identifier or id.")],
        text: Annotated[str, typer.Argument(help="Comment body.")],
        author: Annotated[str, typer.Option("--author", "-a")] = "human",
        workflow: WorkflowOption = DEFAULT_WORKFLOW,
    ) -> None:
        """Add a comment to an issue."""
        with open_tracker(workflow) as tracker:
            issue = tracker.get(ref)
            tracker.comment_sync(issue.id, text, author=author)
        typer.echo(f"{issue.identifier}: comment added")

