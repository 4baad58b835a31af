"""`tack app …`: drive the app under construction from inside a workspace (docs/app.md).

Thin over tack.app.client: each command is one request to the workspace's daemon. Output is
compact text for an agent; `--json` prints the structured answer.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import typer

from tack.app.client import call
from tack.app.home import find_workspace

app_app = typer.Typer(help="Start, see and drive the app being built in this workspace "
                           "(one daemon per workspace, one Chromium).", no_args_is_help=True)
record_app = typer.Typer(help="Record the page as video for reviewers.", no_args_is_help=True)
app_app.add_typer(record_app, name="record")

JsonOption = Annotated[bool, typer.Option("--json", help="Machine-readable output.")]


def register(app: typer.Typer) -> None:
    app.add_typer(app_app, name="app")


def _run(cmd: str, as_json: bool, **args: Any) -> None:
    reply = call(find_workspace(), cmd, **{k: v for k, v in args.items() if v is not None})
    if as_json:
        typer.echo(json.dumps({"text": reply.text, **reply.data}, default=str))
    else:
        typer.echo(reply.text)


@app_app.command("start")
def start_cmd(as_json: JsonOption = False) -> None:
    """Start the app (`app.start`) and wait until it is ready."""
    _run("start", as_json)


@app_app.command("stop")
def stop_cmd(as_json: JsonOption = False) -> None:
    """Stop the app, the browser and the daemon of this workspace."""
    _run("stop", as_json)


@app_app.command("status")
def status_cmd(as_json: JsonOption = False) -> None:
    """Whether the app and browser run, and which page is open."""
    _run("status", as_json)


@app_app.command("logs")
def logs_cmd(lines: Annotated[int, typer.Option("--lines", "-n")] = 50,
             as_json: JsonOption = False) -> None:
    """The last lines the app printed."""
    _run("logs", as_json, lines=lines)


@app_app.command("open")
def open_cmd(url: Annotated[str | None, typer.Argument(help="URL or path; default: the "
                                                       "app's url.")] = None,
             as_json: JsonOption = False) -> None:
    """Open a page (paths are relative to the app's url)."""
    _run("open", as_json, url=url)


@app_app.command("snapshot")
def snapshot_cmd(scope: Annotated[str | None, typer.Option("--scope", help="A ref or CSS "
                                                           "selector to snapshot.")] = None,
                 full: Annotated[bool, typer.Option("--full", help="Print the whole tree.")]
                 = False,
                 as_json: JsonOption = False) -> None:
    """A digest of the page's accessibility tree (the full tree goes to a file)."""
    _run("snapshot", as_json, scope=scope, full=full)


@app_app.command("click")
def click_cmd(ref: str, as_json: JsonOption = False) -> None:
    """Click an element by ref (from the latest snapshot) or CSS selector."""
    _run("click", as_json, target=ref)


@app_app.command("fill")
def fill_cmd(ref: str, text: str, as_json: JsonOption = False) -> None:
    """Fill a text field."""
    _run("fill", as_json, target=ref, value=text)


@app_app.command("select")
def select_cmd(ref: str, value: str, as_json: JsonOption = False) -> None:
    """Choose an option of a select element."""
    _run("select", as_json, target=ref, value=value)


@app_app.command("hover")
def hover_cmd(ref: str, as_json: JsonOption = False) -> None:
    """Move the mouse over an element."""
    _run("hover", as_json, target=ref)


@app_app.command("press")
def press_cmd(key: str, as_json: JsonOption = False) -> None:
    """Press a key (Enter, Tab, Control+A, ...)."""
    _run("press", as_json, key=key)


@app_app.command("wait")
def wait_cmd(text: Annotated[str | None, typer.Argument()] = None,
             url: Annotated[str | None, typer.Option("--url")] = None,
             gone: Annotated[str | None, typer.Option("--gone")] = None,
             timeout_ms: Annotated[int, typer.Option("--timeout-ms")] = 10_000,
             as_json: JsonOption = False) -> None:
    """Wait for TEXT to show, the URL to match, or an element to go."""
    _run("wait", as_json, text=text, url=url, gone=gone, timeout_ms=timeout_ms)


@app_app.command("screenshot")
def screenshot_cmd(path: Annotated[Path | None, typer.Argument()] = None,
                   ref: Annotated[str | None, typer.Option("--ref")] = None,
                   as_json: JsonOption = False) -> None:
    """Save a screenshot (kept as evidence with the run)."""
    _run("screenshot", as_json, path=str(path) if path else None, ref=ref)


@app_app.command("console")
def console_cmd(errors: Annotated[bool, typer.Option("--errors")] = False,
                as_json: JsonOption = False) -> None:
    """The page's console messages (the last 50)."""
    _run("console", as_json, errors=errors)


@app_app.command("network")
def network_cmd(failed: Annotated[bool, typer.Option("--failed")] = False,
                as_json: JsonOption = False) -> None:
    """The page's requests (the last 50)."""
    _run("network", as_json, failed=failed)


@app_app.command("eval")
def eval_cmd(script: str, as_json: JsonOption = False) -> None:
    """Evaluate a JavaScript expression in the page and print its value as JSON."""
    _run("eval", as_json, script=script)


@record_app.command("start")
def record_start_cmd(as_json: JsonOption = False) -> None:
    """Start recording the page."""
    _run("record", as_json, action="start")


@record_app.command("stop")
def record_stop_cmd(as_json: JsonOption = False) -> None:
    """Stop recording; print the video and poster paths."""
    _run("record", as_json, action="stop")
