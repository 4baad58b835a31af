"""The built-in agent's `context` tool: the sidecar's six tools behind one schema, offered
when the session was given a context home (TACK_CONTEXT_HOME)."""

from __future__ import annotations

import asyncio
from typing import Any

from tack.context import ContextError, api
from tack.context.wiring import session_home

ACTIONS = list(api.TOOL_DESCRIPTIONS)
DESCRIPTION = (
    "Organisation-wide context beyond your workspace: every repository, doc folder and data "
    "catalog of the org manifest. action=search (query, optional repo/lang): full-text hits; "
    "symbol (name): definitions with signatures; refs (name, optional repo): every line that "
    "uses the identifier; read (ref `REPO:PATH[:START-END]`); map "
    "(optional repo, budget): ranked files and signatures, or the list of sources; catalog "
    "(query): tables, columns, metrics, endpoints. Results carry repo, commit, path, line, "
    "indexed_at and stale.")
PARAMETERS: dict[str, Any] = {
    "type": "object",
    "properties": {
        "action": {"type": "string", "enum": ACTIONS},
        "query": {"type": "string", "description": "For search and catalog."},
        "name": {"type": "string", "description": "For symbol and refs: an identifier."},
        "ref": {"type": "string", "description": "For read: REPO:PATH[:START-END]."},
        "repo": {"type": "string", "description": "Limit to one source."},
        "lang": {"type": "string", "description": "For search: python, go, sql..."},
        "budget": {"type": "integer", "description": "For map: tokens (default 1024)."},
    },
    "required": ["action"],
    "additionalProperties": False,
}


def available(env: dict[str, str] | None) -> bool:
    return session_home(env) is not None


async def run_context_tool(args: dict[str, Any], env: dict[str, str] | None) -> str:
    """Answer one call; raises ValueError with a message for the model on bad input."""
    home = session_home(env)
    if home is None:
        raise ValueError("no context index is configured for this session (set `context:` "
                         "in WORKFLOW.md)")
    action = str(args.get("action") or "")
    if action not in ACTIONS:
        raise ValueError(f"unknown action {action!r}; use one of {', '.join(ACTIONS)}")

    def call() -> str:
        index = home.open_index()
        try:
            return api.run(home, index, action, args)
        finally:
            index.close()

    try:
        return await asyncio.to_thread(call)
    except ContextError as exc:
        raise ValueError(exc.message) from None
