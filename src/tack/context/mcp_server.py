"""The context tools as an MCP server (official `mcp` SDK, FastMCP): stdio for one agent
session (`python -m tack.context.mcp_server --home H`), streamable HTTP inside the sidecar."""

from __future__ import annotations

import argparse
from typing import Any

from mcp.server.fastmcp import FastMCP
from mcp.types import ToolAnnotations

from tack.context import api
from tack.context.home import CONTEXT_SERVER_NAME, ContextHome
from tack.context.index import ContextIndex

SERVER_NAME = CONTEXT_SERVER_NAME
# Read-only tools: agents (codex with approval_policy=never) may call them without asking.
READ_ONLY = ToolAnnotations(readOnlyHint=True, openWorldHint=False)


def build_server(home: ContextHome, *, host: str = "127.0.0.1", port: int = 0) -> FastMCP:
    mcp = FastMCP(SERVER_NAME, host=host, port=port, log_level="WARNING",
                  instructions="Organisation-wide code, docs and data catalog context from "
                               "Tack's context sidecar. Results carry repo, commit, path, "
                               "line, indexed_at and a stale flag.")
    opened: list[ContextIndex] = []

    def index() -> ContextIndex:
        if not opened:
            opened.append(home.open_index())
        return opened[0]

    @mcp.tool(annotations=READ_ONLY, description=api.TOOL_DESCRIPTIONS["search"])
    def search(query: str, repo: str | None = None, lang: str | None = None,
               limit: int = 20) -> list[dict[str, Any]]:
        return api.search(index(), query, repo, lang, limit)

    @mcp.tool(annotations=READ_ONLY, description=api.TOOL_DESCRIPTIONS["symbol"])
    def symbol(name: str, repo: str | None = None) -> list[dict[str, Any]]:
        return api.symbol(index(), name, repo)

    @mcp.tool(annotations=READ_ONLY, description=api.TOOL_DESCRIPTIONS["refs"])
    def refs(name: str, repo: str | None = None, limit: int = 100) -> list[dict[str, Any]]:
        return api.refs(index(), name, repo, limit)

    @mcp.tool(annotations=READ_ONLY, description=api.TOOL_DESCRIPTIONS["read"])
    def read(ref: str) -> dict[str, Any]:
        return api.read(home, index(), ref)

    @mcp.tool(name="map", annotations=READ_ONLY, description=api.TOOL_DESCRIPTIONS["map"])
    def repo_map(repo: str | None = None, budget: int = 1024) -> str:
        return api.map_text(index(), repo, budget)

    @mcp.tool(annotations=READ_ONLY, description=api.TOOL_DESCRIPTIONS["catalog"])
    def catalog(query: str) -> list[dict[str, Any]]:
        return api.catalog(index(), query)

    return mcp


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="tack-context-mcp")
    parser.add_argument("--home", help="the sidecar's home (default: $TACK_CONTEXT_HOME)")
    args = parser.parse_args(argv)
    build_server(ContextHome.locate(args.home)).run("stdio")


if __name__ == "__main__":
    main()
