"""The `tack` command's typer app (`tack.cli.main` comes here for everything but a plain scan).

Each command group lives in its own module and registers itself on `app`. Every `TackError`
becomes a one-paragraph message on stderr and exit code 2 — never a traceback for a user
mistake.
"""

from __future__ import annotations

import sys

import typer
from rich.console import Console

from tack.errors import TackError

app = typer.Typer(
    name="tack",
    help="Harness engineering for autonomous coding agents.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)

err_console = Console(stderr=True, soft_wrap=True)


def _register() -> None:
    if sys.argv[1:2] == ["app"]:
        # Agents call `tack app` many times a turn: skip importing every other command.
        from tack.cli import app_cmds; app_cmds.register(app)  # noqa: E702
        return
    if sys.argv[1:2] == ["scan"]:
        # A warm `tack scan` (hooks, CI) is mostly start-up: skip importing every other command.
        from tack.cli import scan; scan.register(app)  # noqa: E702
        return
    from tack.cli import doctor, issue, run, stub, workflow_cmds

    run.register(app)
    issue.register(app)
    workflow_cmds.register(app)
    stub.register(app)
    doctor.register(app)
    from tack.cli import check; check.register(app)  # noqa: E702
    from tack.cli import metrics, status; status.register(app); metrics.register(app)  # noqa: E702
    from tack.cli import runs; runs.register(app)  # noqa: E702
    from tack.cli import distill; distill.register(app)
    from tack.cli import worker; worker.register(app)  # noqa: E702
    from tack.cli import principles, scan; principles.register(app); scan.register(app)  # noqa: E702
    from tack.cli import learn; learn.register(app)  # noqa: E702
    from tack.cli import skills; skills.register(app)  # noqa: E702
    from tack.cli import questions; questions.register(app)  # noqa: E702
    from tack.cli import app_cmds; app_cmds.register(app)  # noqa: E702
    from tack.cli import eval as eval_cmds; eval_cmds.register(app)  # noqa: E702
    from tack.cli import context; context.register(app)  # noqa: E702


def _print_version(value: bool) -> None:
    if value:
        import tack

        typer.echo(f"tack {tack.__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    ctx: typer.Context,
    version: bool = typer.Option(
        False, "--version", callback=_print_version, is_eager=True, help="Print the version and exit."
    ),
) -> None:
    """Harness engineering for autonomous coding agents."""
    if ctx.invoked_subcommand == "scan":
        return  # `tack scan` loads the plug-ins itself, only when its principles need them
    from tack.plugins import default_plugins

    default_plugins()  # installed plug-ins' trackers, backends, checks, parsers (docs/extending.md)


def run_app() -> None:
    # Logs go to stderr, at warning level unless a command (`tack up`) asks for more, so a
    # command's stdout stays clean for pipes (`tack prompt ... | pbcopy`, `--json`). `tack
    # scan` configures them itself, only on the paths that log (structlog costs its start-up).
    if sys.argv[1:2] != ["scan"]:
        from tack.logs import configure_logging

        configure_logging("warning")
    _register()
    try:
        app()
    except TackError as exc:
        from rich.text import Text

        err_console.print(Text("error: ", style="bold red") + Text(exc.message), highlight=False)
        sys.exit(2)
