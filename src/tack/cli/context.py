"""`tack context serve|sync|status|search|symbol|refs|read|map|catalog` and `tack map [--check]`:
thin over tack.context."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Annotated, Any

import typer

from tack.context.home import ContextHome

context_app = typer.Typer(help="The org-context sidecar: mirrors, search, symbols, catalogs.",
                          no_args_is_help=True)

HomeOption = Annotated[str | None, typer.Option(
    "--home", help="The sidecar's home (default: $TACK_CONTEXT_HOME, else the workflow's "
                   "context.home, else .tack/context).")]
JsonOption = Annotated[bool, typer.Option("--json", help="Machine-readable output.")]
WorkflowOption = Annotated[Path, typer.Option("--workflow", "-w", help="Workflow file.")]


def register(app: typer.Typer) -> None:
    app.add_typer(context_app, name="context")
    app.command("map")(map_diagrams)


def _home(home: str | None, workflow: Path = Path("WORKFLOW.md")) -> ContextHome:
    import os

    from tack.context.home import HOME_ENV

    if home is None and not os.environ.get(HOME_ENV) and workflow.exists():
        from tack.context.wiring import home_for
        from tack.workflow import load_workflow

        found = home_for(load_workflow(workflow))
        if found is not None:
            return found
    return ContextHome.locate(home)


def _manifest(manifest: Path | None, workflow: Path) -> Path:
    if manifest is not None:
        return manifest
    if workflow.exists():
        from tack.workflow import load_workflow

        wf = load_workflow(workflow)
        if wf.config.context.manifest:
            return wf.base_dir / wf.config.context.manifest
    return Path("context.yaml")


def _print(data: Any, as_json: bool) -> None:
    if as_json or not isinstance(data, list):
        typer.echo(json.dumps(data, indent=2) if not isinstance(data, str) else data)
        return
    for row in data:
        flag = " [stale]" if row.get("stale") else ""
        where = f"{row.get('repo')}:{row.get('path')}:{row.get('line')}"
        label = row.get("text") or " ".join(
            str(row.get(k)) for k in ("kind", "parent", "name", "data_type", "description")
            if row.get(k))
        typer.echo(f"{where}{flag}  {label}")


@context_app.command("serve")
def serve_cmd(home: HomeOption = None,
              manifest: Annotated[Path | None, typer.Option("--manifest", help="context.yaml")
                                  ] = None,
              interval: Annotated[float, typer.Option("--interval", help="Seconds between "
                                                      "fetch cycles.")] = 300.0,
              port: Annotated[int, typer.Option("--port", help="HTTP port on 127.0.0.1 "
                                                "(0: any free port).")] = 0,
              workflow: WorkflowOption = Path("WORKFLOW.md")) -> None:
    """Run the sidecar: keep mirrors and indexes fresh, serve MCP at /mcp."""
    from tack.context.service import serve

    chosen = _home(home, workflow)
    try:
        asyncio.run(serve(chosen, _manifest(manifest, workflow).resolve(), interval_s=interval,
                          port=port))
    except KeyboardInterrupt:
        pass


@context_app.command("sync")
def sync_cmd(home: HomeOption = None,
             manifest: Annotated[Path | None, typer.Option("--manifest", help="context.yaml")
                                 ] = None,
             repo: Annotated[list[str] | None, typer.Option("--repo", help="Only this source.")
                             ] = None,
             as_json: JsonOption = False,
             workflow: WorkflowOption = Path("WORKFLOW.md")) -> None:
    """Fetch and re-index now (asks the running sidecar, else does it here)."""
    from tack.context.manifest import load_manifest
    from tack.context.service import notify
    from tack.context.sync import sync

    chosen = _home(home, workflow)
    if chosen.service() is not None and notify(chosen, repo):
        typer.echo(f"asked the sidecar at {chosen.service_file} to sync")
        return
    path = _manifest(manifest, workflow).resolve()
    parsed = load_manifest(path)
    chosen.configure(path, float(chosen.settings().get("interval_s", 300.0))
                     if chosen.config_file.is_file() else 300.0)
    index = chosen.open_index()
    try:
        report = sync(chosen.path, parsed, index, set(repo) if repo else None)
    finally:
        index.close()
    data = {"indexed": {k: vars(v) for k, v in report.indexed.items()},
            "catalog_rows": report.catalog_rows, "errors": report.errors}
    if as_json:
        typer.echo(json.dumps(data, indent=2))
    else:
        for name, stats in report.indexed.items():
            typer.echo(f"{name}: {stats.added} re-indexed, {stats.removed} removed, "
                       f"{stats.unchanged} unchanged")
        for name, rows in report.catalog_rows.items():
            typer.echo(f"{name}: {rows} catalog entries")
        for name, error in report.errors.items():
            typer.echo(f"{name}: error: {error}", err=True)
    if report.errors:
        raise typer.Exit(1)


@context_app.command("status")
def status_cmd(home: HomeOption = None, workflow: WorkflowOption = Path("WORKFLOW.md")) -> None:
    """Sources, their indexed commit, freshness, and the running service."""
    chosen = _home(home, workflow)
    index = chosen.open_index()
    try:
        typer.echo(json.dumps({"service": chosen.service(), "sources": index.status()},
                              indent=2))
    finally:
        index.close()


def _with_index(home: str | None, run: Any) -> Any:
    chosen = _home(home)
    index = chosen.open_index()
    try:
        return run(chosen, index)
    finally:
        index.close()


@context_app.command("search")
def search_cmd(query: str, repo: Annotated[str | None, typer.Option("--repo")] = None,
               lang: Annotated[str | None, typer.Option("--lang")] = None,
               limit: Annotated[int, typer.Option("--limit")] = 20,
               home: HomeOption = None, as_json: JsonOption = False) -> None:
    """BM25 full-text search across the organisation."""
    from tack.context import api

    _print(_with_index(home, lambda h, i: api.search(i, query, repo, lang, limit)), as_json)


@context_app.command("symbol")
def symbol_cmd(name: str, repo: Annotated[str | None, typer.Option("--repo")] = None,
               home: HomeOption = None, as_json: JsonOption = False) -> None:
    """Where NAME is defined, with its signature."""
    from tack.context import api

    _print(_with_index(home, lambda h, i: api.symbol(i, name, repo)), as_json)


@context_app.command("refs")
def refs_cmd(name: str, repo: Annotated[str | None, typer.Option("--repo")] = None,
             limit: Annotated[int, typer.Option("--limit")] = 100,
             home: HomeOption = None, as_json: JsonOption = False) -> None:
    """Every line that uses identifier NAME, across the organisation's code."""
    from tack.context import api

    _print(_with_index(home, lambda h, i: api.refs(i, name, repo, limit)), as_json)


@context_app.command("read")
def read_cmd(ref: Annotated[str, typer.Argument(help="REPO:PATH[:START-END]")],
             home: HomeOption = None, as_json: JsonOption = False) -> None:
    """A file (or lines of it) at its indexed commit."""
    from tack.context import api

    data = _with_index(home, lambda h, i: api.read(h, i, ref))
    if as_json:
        typer.echo(json.dumps(data, indent=2))
    else:
        stale = " [stale]" if data["stale"] else ""
        typer.echo(f"# {data['repo']}:{data['path']} @ {data['commit'][:12]}{stale}")
        typer.echo(data["text"])


@context_app.command("map")
def map_cmd(repo: Annotated[str | None, typer.Argument()] = None,
            budget: Annotated[int, typer.Option("--budget", help="Tokens.")] = 1024,
            home: HomeOption = None) -> None:
    """Files and signatures of REPO ranked by references (no REPO: the sources)."""
    from tack.context import api

    typer.echo(_with_index(home, lambda h, i: api.map_text(i, repo, budget)))


@context_app.command("catalog")
def catalog_cmd(query: str, home: HomeOption = None, as_json: JsonOption = False) -> None:
    """Tables, columns, metrics and endpoints matching QUERY, with descriptions."""
    from tack.context import api

    _print(_with_index(home, lambda h, i: api.catalog(i, query)), as_json)


def map_diagrams(
        check: Annotated[bool, typer.Option("--check", help="Fail when the committed "
                                            "diagrams are stale (for CI).")] = False,
        repo: Annotated[Path, typer.Option("--repo", help="Repository to map.")] = Path("."),
        out: Annotated[Path, typer.Option("--out", help="Folder, relative to the repo.")
                       ] = Path("docs/architecture")) -> None:
    """Mermaid diagrams of module dependencies and entity relationships."""
    from tack.context.diagrams import check_diagrams, write_diagrams

    if check:
        stale = check_diagrams(repo, out)
        if stale:
            typer.echo("stale architecture diagrams: " + ", ".join(stale)
                       + "; run `tack map` and commit the result", err=True)
            raise typer.Exit(1)
        typer.echo("architecture diagrams are up to date")
        return
    for path in write_diagrams(repo, out):
        typer.echo(f"wrote {path}")
