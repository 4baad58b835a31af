"""`tack status`: the dashboard's state as live rich tables (running sessions, retry queue,
hand-offs, recent runs), read from a `tack up` API.

Works against a remote `tack up` (over SSH port forwarding or a bearer token); `--once`
prints a single frame, for scripts and tests.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import httpx
import typer
from rich.console import Console, Group
from rich.live import Live
from rich.table import Table
from rich.text import Text

from tack.errors import TackError


def _fmt_seconds(value: float | None) -> str:
    s = max(int(value or 0), 0)
    if s < 60:
        return f"{s}s"
    if s < 3600:
        return f"{s // 60}m{s % 60:02d}s"
    return f"{s // 3600}h{s % 3600 // 60:02d}m"


def discover_url(workflow: Path) -> str:
    """The URL `tack up` wrote to `.tack/up.json` beside the workflow file."""
    info = workflow.absolute().parent / ".tack" / "up.json"
    try:
        data = json.loads(info.read_text())
        return str(data["url"])
    except (OSError, ValueError, KeyError, TypeError):
        raise TackError(
            f"No running `tack up` found ({info} is missing). Start `tack up --port 0` in the "
            f"project, or pass --url http://HOST:PORT (or set $TACK_URL)."
        ) from None


def fetch_state(client: httpx.Client) -> dict[str, Any]:
    try:
        response = client.get("/api/v1/state")
    except httpx.HTTPError as exc:
        raise TackError(
            f"Cannot reach the Tack API at {client.base_url}: {exc}. Is `tack up` running "
            f"there with a port? Check --url."
        ) from None
    if response.status_code == 401:
        raise TackError(
            f"{client.base_url} wants a bearer token: pass --token or set $TACK_TOKEN to the "
            f"server.token of that `tack up`."
        )
    if response.status_code != 200:
        raise TackError(f"{client.base_url}/api/v1/state answered HTTP {response.status_code}.")
    data: dict[str, Any] = response.json()
    return data


def render_state(state: dict[str, Any], url: str) -> Group:
    totals = state["codex_totals"]
    limits = state.get("limits") or {}
    # A continuation check after a clean exit is not a retry: counted apart.
    continuing = sum(1 for r in state.get("retrying") or [] if r.get("kind") == "continuation")
    header = Text.assemble(
        ("Tack ", "bold"), (url, "cyan"), "  running ",
        (f"{state['counts']['running']}/{limits.get('max_concurrent_agents', '?')}", "bold"),
        "  retrying ", (str(state["counts"]["retrying"] - continuing), "bold"),
        "  continuing ", (str(continuing), "bold"),
        "  tokens ", (f"{totals['total_tokens']:,}", "bold"),
        "  agent time ", (_fmt_seconds(totals["seconds_running"]), "bold"),
    )
    health = state.get("health") or {}
    problem = health.get("config_error") or health.get("dispatch_error")
    running = Table(title="Running sessions", title_justify="left", expand=True)
    for name, kw in (("Issue", {"no_wrap": True}), ("State", {}), ("Turn", {"justify": "right"}),
                     ("Last event", {"ratio": 3}), ("Tokens", {"justify": "right"}),
                     ("Elapsed", {"justify": "right"})):
        running.add_column(name, **kw)
    for r in state["running"]:
        last = Text(r.get("last_event") or "—", style="magenta")
        if r.get("last_message"):
            last.append(" " + str(r["last_message"])[:120])
        running.add_row(r["issue_identifier"], r.get("state") or "", str(r.get("turn_count", 0)), last,
                        f"{r['tokens']['total_tokens']:,}", _fmt_seconds(r.get("elapsed_seconds")))
    if not state["running"]:
        running.add_row(Text("no agents running", style="dim"), "", "", "", "", "")
    retry = Table(title="Retry queue", title_justify="left", expand=True)
    for name in ("Issue", "Attempt", "Next attempt in", "Kind", "Reason"):
        retry.add_column(name)
    for r in state["retrying"]:
        retry.add_row(r["issue_identifier"], str(r["attempt"]), _fmt_seconds(r["due_in_ms"] / 1000),
                      r.get("kind") or "", r.get("error") or "")
    if not state["retrying"]:
        retry.add_row(Text("nothing queued", style="dim"), "", "", "", "")
    parts: list[Any] = [header]
    if problem:
        parts.append(Text(f"problem: {problem}", style="bold red"))
    parts += [running, retry]
    handoffs = state.get("recent_handoffs") or []
    if handoffs:
        table = Table(title="Recent hand-offs", title_justify="left", expand=True)
        for name in ("Issue", "At", "Time to hand-off"):
            table.add_column(name)
        for h in handoffs[:5]:
            table.add_row(h["issue_identifier"], h["at"], _fmt_seconds(h["seconds_to_handoff"]))
        parts.append(table)
    # Finished runs with their ids: what `tack feedback RUN` takes (`tack runs` lists more).
    runs = state.get("recent_runs") or []
    if runs:
        from tack.cli.runs import runs_table

        parts.append(runs_table(runs[:10]))
    else:
        parts.append(Text("No finished runs yet.", style="dim"))
    return Group(*parts)


def register(app: typer.Typer) -> None:
    @app.command()
    def status(
        url: str | None = typer.Option(
            None, "--url", envvar="TACK_URL",
            help="Base URL of a `tack up` API (default: read .tack/up.json beside the workflow).",
        ),
        token: str | None = typer.Option(
            None, "--token", envvar="TACK_TOKEN", show_envvar=True,
            help="Bearer token for a `tack up` with server.token set.",
        ),
        workflow: Path = typer.Option(Path("WORKFLOW.md"), "--workflow", "-w",
                                      help="Find the local `tack up` through this workflow."),
        once: bool = typer.Option(False, "--once", help="Print one frame and exit."),
        interval: float = typer.Option(1.0, "--interval", min=0.2, help="Seconds between refreshes."),
    ) -> None:
        """Show running sessions, the retry queue, hand-offs and recent runs (with their ids),
        live, from the Tack API."""
        base = (url or discover_url(workflow)).rstrip("/")
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        console = Console()
        with httpx.Client(base_url=base, headers=headers, timeout=10) as client:
            if once:
                console.print(render_state(fetch_state(client), base))
                return
            with Live(render_state(fetch_state(client), base), console=console,
                      auto_refresh=False, screen=False) as live:
                try:
                    while True:
                        time.sleep(interval)  # a refresh cadence, not a wait for an event
                        live.update(render_state(fetch_state(client), base), refresh=True)
                except KeyboardInterrupt:
                    pass

