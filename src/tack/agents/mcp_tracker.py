"""A minimal MCP stdio server that gives an agent CLI (claude) the tracker tool for one issue.

It speaks newline-delimited JSON-RPC (initialize, tools/list, tools/call) and opens the local
tracker's SQLite file directly; it never sees tracker secrets. Non-local trackers will route
through the orchestrator later. Run: `python -m tack.agents.mcp_tracker --db PATH --issue ID`.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from tack.errors import TackError
from tack.tracker.local import LocalTracker

SERVER_NAME = "tack"
TOOL_NAME = "tracker"
# The name claude gives the tool: mcp__<server>__<tool>.
CLAUDE_TOOL_NAME = f"mcp__{SERVER_NAME}__{TOOL_NAME}"
PROTOCOL_VERSION = "2025-06-18"

TOOL = {
    "name": TOOL_NAME,
    "description": (
        "Your issue in the tracker. action=show: the issue and its comments; "
        "action=move with state: move it (e.g. to the hand-off state when done); "
        "action=comment with body: add a comment."
    ),
    "inputSchema": {
        "type": "object",
        "properties": {
            "action": {"type": "string", "enum": ["show", "move", "comment"]},
            "state": {"type": "string", "description": "target state for move"},
            "body": {"type": "string", "description": "comment text for comment"},
        },
        "required": ["action"],
    },
}


class TrackerTool:
    def __init__(self, tracker: LocalTracker, issue_id: str) -> None:
        self.tracker = tracker
        self.issue_id = issue_id

    def call(self, args: dict[str, Any]) -> str:
        action = args.get("action")
        if action == "show":
            issue = self.tracker.get(self.issue_id)
            lines = [f"{issue.identifier}: {issue.title}", f"state: {issue.state}", "",
                     issue.description or "(no description)"]
            lines += [f"- {c.author}: {c.body}" for c in issue.comments]
            return "\n".join(lines)
        if action == "move":
            state = str(args.get("state") or "").strip()
            if not state:
                raise ValueError("`state` is required for action=move")
            moved = self.tracker.move_sync(self.issue_id, state)
            return f"moved {moved.identifier} to {moved.state}"
        if action == "comment":
            body = str(args.get("body") or "").strip()
            if not body:
                raise ValueError("`body` must not be empty for action=comment")
            self.tracker.comment_sync(self.issue_id, body, author="agent")
            return "commented"
        raise ValueError(f"unknown action {action!r}; use show, move or comment")


def handle(tool: TrackerTool, request: dict[str, Any]) -> dict[str, Any] | None:
    """The JSON-RPC response to one request (None for notifications)."""
    method = request.get("method")
    rid = request.get("id")
    if rid is None:
        return None
    result: dict[str, Any]
    if method == "initialize":
        params = request.get("params") or {}
        result = {"protocolVersion": params.get("protocolVersion", PROTOCOL_VERSION),
                  "capabilities": {"tools": {}},
                  "serverInfo": {"name": SERVER_NAME, "version": "1"}}
    elif method == "tools/list":
        result = {"tools": [TOOL]}
    elif method == "tools/call":
        params = request.get("params") or {}
        if params.get("name") != TOOL_NAME:
            return {"jsonrpc": "2.0", "id": rid,
                    "error": {"code": -32602, "message": f"unknown tool {params.get('name')}"}}
        try:
            text, failed = tool.call(params.get("arguments") or {}), False
        except (TackError, ValueError) as exc:
            text, failed = f"error: {exc}", True
        result = {"content": [{"type": "text", "text": text}], "isError": failed}
    elif method == "ping":
        result = {}
    else:
        return {"jsonrpc": "2.0", "id": rid,
                "error": {"code": -32601, "message": f"method {method} not supported"}}
    return {"jsonrpc": "2.0", "id": rid, "result": result}


def serve(tool: TrackerTool) -> None:
    for line in sys.stdin:
        if not line.strip():
            continue
        try:
            request = json.loads(line)
        except json.JSONDecodeError:
            continue
        response = handle(tool, request)
        if response is not None:
            sys.stdout.write(json.dumps(response) + "\n")
            sys.stdout.flush()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--db", required=True, type=Path)
    parser.add_argument("--prefix", default="TACK")
    parser.add_argument("--issue", required=True)
    args = parser.parse_args(argv)
    with LocalTracker(args.db, prefix=args.prefix) as tracker:
        serve(TrackerTool(tracker, args.issue))


if __name__ == "__main__":
    main()
