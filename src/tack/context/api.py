"""The six context tools as plain functions over an open index. The CLI, the MCP server and
the built-in agent's tools all call these, so every surface answers the same way."""

from __future__ import annotations

import json
import re
from typing import Any

from tack.context import ContextError
from tack.context.home import ContextHome
from tack.context.index import ContextIndex, Hit
from tack.context.repomap import repo_map
from tack.context.sync import mirror_of

READ_MAX_LINES = 400
TOOL_DESCRIPTIONS = {
    "search": "Full-text (BM25) search across every repository and doc folder of the "
              "organisation. Each hit: repo, commit, path, line, indexed_at, stale.",
    "symbol": "Where a function, class, type, method or table is defined, across every "
              "repository, with its signature.",
    "refs": "Where an identifier (function, class, type, table...) is used, across every "
            "repository: each line that names it, marked definition or reference.",
    "read": "Read a file from any repository at its indexed commit: `REPO:PATH` or "
            "`REPO:PATH:START-END` (lines, 1-based).",
    "map": "A map of a repository: its files and signatures ranked by how often they are "
           "referenced, within a token budget. Without a repo: the list of repositories.",
    "catalog": "Find tables, columns, metrics and API endpoints (dbt, SQL DDL, OpenAPI) with "
               "their descriptions.",
}


def search(index: ContextIndex, query: str, repo: str | None = None,
           lang: str | None = None, limit: int = 20) -> list[dict[str, Any]]:
    return [h.as_dict() for h in index.search(query, repo=repo, lang=lang, limit=limit)]


def symbol(index: ContextIndex, name: str, repo: str | None = None) -> list[dict[str, Any]]:
    return [h.as_dict() for h in index.symbol(name, repo=repo)]


def refs(index: ContextIndex, name: str, repo: str | None = None,
         limit: int = 100) -> list[dict[str, Any]]:
    return [h.as_dict() for h in index.refs(name, repo=repo, limit=limit)]


def catalog(index: ContextIndex, query: str) -> list[dict[str, Any]]:
    return index.catalog(query)


def parse_ref(ref: str) -> tuple[str, str, int | None, int | None]:
    m = re.fullmatch(r"([^:]+):(.+?)(?::(\d+)(?:-(\d+))?)?", ref.strip())
    if not m:
        raise ContextError(f"cannot read {ref!r}; write REPO:PATH or REPO:PATH:START-END, "
                           "e.g. billing:src/app.py:10-40")
    start = int(m.group(3)) if m.group(3) else None
    end = int(m.group(4)) if m.group(4) else start if m.group(3) and not m.group(4) else None
    return m.group(1), m.group(2), start, end


def read(home: ContextHome, index: ContextIndex, ref: str) -> dict[str, Any]:
    repo, path, start, end = parse_ref(ref)
    state = index.sources().get(repo)
    if state is None:
        raise ContextError(f"no source named {repo!r} in the context index; known: "
                           + ", ".join(index.sources()))
    manifest = home.manifest()
    if state.kind == "docs":
        doc = next(d for d in manifest.docs if d.name == repo)
        root = manifest.resolve(doc.path)
        target = (root / path).resolve()
        if root not in target.parents or not target.is_file():
            raise ContextError(f"{path!r} is not a file of doc folder {repo!r}")
        data = target.read_bytes()
    else:
        try:
            data = mirror_of(home.path, manifest, repo).show(state.commit, path)
        except ContextError:
            raise ContextError(f"{repo}:{path} does not exist at commit {state.commit[:12]}; "
                               "use `search` or `map` to find the path") from None
    lines = data.decode("utf-8", errors="replace").split("\n")
    first = max(start or 1, 1)
    last = min(end or first + READ_MAX_LINES - 1, len(lines), first + READ_MAX_LINES - 1)
    body = "\n".join(f"{n:>6}\t{lines[n - 1]}" for n in range(first, last + 1))
    hit = Hit(repo=repo, commit=state.commit, path=path, line=first, text=body,
              indexed_at=state.indexed_at, stale=state.stale(index.max_age_s))
    return {**hit.as_dict(), "end_line": last, "total_lines": len(lines)}


def map_text(index: ContextIndex, repo: str | None = None, budget: int = 1024) -> str:
    sources = index.sources()
    if repo is None:
        return "\n".join(f"{s.name} ({s.kind}) @ {s.commit[:12]}{' stale' if s.stale(index.max_age_s) else ''}"
                         f" — {s.purpose} [owner: {s.owner}]" for s in sources.values())
    if repo not in sources:
        raise ContextError(f"no source named {repo!r} in the context index; known: "
                           + ", ".join(sources))
    return repo_map(index, repo, budget)


def run(home: ContextHome, index: ContextIndex, name: str, args: dict[str, Any]) -> str:
    """One tool call by name, answered as text for a model (JSON for structured results)."""
    if name == "search":
        out: Any = search(index, str(args.get("query") or ""), args.get("repo"),
                          args.get("lang"), int(args.get("limit") or 20))
    elif name == "symbol":
        out = symbol(index, str(args.get("name") or ""), args.get("repo"))
    elif name == "refs":
        out = refs(index, str(args.get("name") or ""), args.get("repo"),
                   int(args.get("limit") or 100))
    elif name == "read":
        out = read(home, index, str(args.get("ref") or ""))
    elif name == "map":
        return map_text(index, args.get("repo"), int(args.get("budget") or 1024))
    elif name == "catalog":
        out = catalog(index, str(args.get("query") or ""))
    else:
        raise ContextError(f"unknown context tool {name!r}; tools: {', '.join(TOOL_DESCRIPTIONS)}")
    return json.dumps(out, indent=1)
