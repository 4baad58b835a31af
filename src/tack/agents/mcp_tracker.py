"""A minimal MCP stdio server that gives an agent CLI (claude) Tack's host-side tools for one
issue: `tracker` and `commit`, and `ask_human` where the run can park on a question (`--ask`),
with `permission`, claude's `--permission-prompt-tool` (`--permission`).

Two modes: `--socket PATH` relays each call over a unix socket to a `ToolRelay` in the
orchestrator, which runs it host-side: the tracker with the orchestrator's own credentials
(which the agent's processes never hold), and `commit` outside the agent's sandbox (which
cannot write the worktree's git directory). `--db PATH` opens a local tracker's SQLite file
directly and offers the tracker tool only.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import shutil
import socket
import sys
import tempfile
from pathlib import Path
from typing import Any, Callable

import structlog

from tack.agents.tools import COMMIT_TOOL, commit_tool
from tack.errors import TackError
from tack.questions.model import Asked
from tack.questions.tool import ASK_HUMAN_TOOL
from tack.store.feedback import agent_comment
from tack.tracker.base import Tracker
from tack.tracker.local import LocalTracker

log = structlog.get_logger(__name__)

SERVER_NAME = "tack"
TOOL_NAME = "tracker"
COMMIT_TOOL_NAME = COMMIT_TOOL.name
# The names claude gives the tools: mcp__<server>__<tool>.
CLAUDE_TOOL_NAME = f"mcp__{SERVER_NAME}__{TOOL_NAME}"
CLAUDE_COMMIT_TOOL_NAME = f"mcp__{SERVER_NAME}__{COMMIT_TOOL_NAME}"
# claude's `--permission-prompt-tool`: it calls this with {tool_name, input, tool_use_id}
# before a tool its permission mode would ask about, and reads back the JSON text
# {"behavior": "allow", "updatedInput": {...}} or {"behavior": "deny", "message": "..."}.
PERMISSION_TOOL_NAME = "permission"
CLAUDE_PERMISSION_TOOL_NAME = f"mcp__{SERVER_NAME}__{PERMISSION_TOOL_NAME}"
PROTOCOL_VERSION = "2025-06-18"
# A hosted tracker retries rate limits and outages itself; the relay waits that long.
RELAY_TIMEOUT_S = 300.0
RELAY_LINE_LIMIT = 4 * 1024 * 1024

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
MCP_COMMIT_TOOL = {"name": COMMIT_TOOL.name, "description": COMMIT_TOOL.description,
                   "inputSchema": COMMIT_TOOL.parameters}
MCP_ASK_TOOL = {"name": ASK_HUMAN_TOOL.name, "description": ASK_HUMAN_TOOL.description,
                "inputSchema": ASK_HUMAN_TOOL.parameters}
MCP_PERMISSION_TOOL = {
    "name": PERMISSION_TOOL_NAME,
    "description": "Tack's permission prompt: asks a person whether a tool call may run.",
    "inputSchema": {
        "type": "object",
        "properties": {"tool_name": {"type": "string"}, "input": {"type": "object"},
                       "tool_use_id": {"type": "string"}},
        "required": ["tool_name", "input"],
    },
}
# What the agent is told once its question is taken: the session parks when the turn ends.
ASKED_REPLY = ("Your question is with a person now. End your turn at once, without doing "
               "anything else; the answer will arrive as the next message of this "
               "conversation.")


async def run_action(tracker: Tracker, issue_id: str, args: dict[str, Any]) -> str:
    """One tracker tool call on `issue_id`, through the Tracker protocol. Raises ValueError
    for bad arguments and TackError when the tracker refuses."""
    action = args.get("action")
    if action == "show":
        found = await tracker.fetch_issues_by_ids([issue_id])
        if not found:
            raise ValueError(f"issue {issue_id} is not in the tracker any more")
        issue = found[0]
        lines = [f"{issue.identifier}: {issue.title}", f"state: {issue.state}", "",
                 issue.description or "(no description)"]
        lines += [f"- {c.author}: {c.body}" for c in issue.comments]
        return "\n".join(lines)
    if action == "move":
        state = str(args.get("state") or "").strip()
        if not state:
            raise ValueError("`state` is required for action=move")
        moved = await tracker.move(issue_id, state)
        return f"moved {moved.identifier} to {moved.state}"
    if action == "comment":
        body = str(args.get("body") or "").strip()
        if not body:
            raise ValueError("`body` must not be empty for action=comment")
        await tracker.comment(issue_id, agent_comment(tracker.kind, body), author="agent")
        return "commented"
    raise ValueError(f"unknown action {action!r}; use show, move or comment")


class TrackerTool:
    """The tool over a tracker opened in this process (the local SQLite tracker)."""

    def __init__(self, tracker: LocalTracker, issue_id: str) -> None:
        self.tracker = tracker
        self.issue_id = issue_id

    def call(self, args: dict[str, Any], tool: str = TOOL_NAME) -> str:
        return asyncio.run(run_action(self.tracker, self.issue_id, args))


class RelayClient:
    """The tools served by the orchestrator's `ToolRelay`, one unix-socket request per call."""

    def __init__(self, path: Path, timeout_s: float = RELAY_TIMEOUT_S, *,
                 ask: bool = False, permission: bool = False) -> None:
        self.path = path
        self.timeout_s = timeout_s
        self.ask = ask  # offer `ask_human` (the run can park on a question)
        self.permission = permission  # offer claude's permission prompt tool

    def call(self, args: dict[str, Any], tool: str = TOOL_NAME) -> str:
        try:
            with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
                sock.settimeout(self.timeout_s)
                sock.connect(str(self.path))
                sock.sendall((json.dumps({"tool": tool, "arguments": args}) + "\n").encode())
                with sock.makefile("rb") as reader:
                    line = reader.readline(RELAY_LINE_LIMIT)
        except OSError as exc:
            raise ValueError(f"the orchestrator's tool relay is not reachable ({exc}); "
                             "the run may have ended") from None
        try:
            reply = json.loads(line)
        except json.JSONDecodeError:
            raise ValueError("the tool relay closed the connection without an answer") from None
        if reply.get("error"):
            raise ValueError(str(reply["error"]))
        return str(reply.get("text", ""))


class ToolRelay:
    """Serves the host-side tools of one session on a unix socket in a private (0700)
    directory: `tracker` for one issue and, given a workspace, `commit` in it.

    Runs inside the orchestrator, next to the tracker it already holds; the issue and the
    workspace are fixed here, so a client reaches only what its session works on."""

    def __init__(self, tracker: Tracker, issue_id: str, workspace: Path | None = None,
                 on_ask: Callable[[Asked], None] | None = None,
                 on_permission: Callable[[dict[str, Any]], dict[str, Any]] | None = None,
                 ) -> None:
        self.tracker = tracker
        self.issue_id = issue_id
        self.workspace = workspace
        self.on_ask = on_ask  # given: `ask_human` hands its question to the session
        # given: claude's permission prompts go to the session, which answers allow or deny
        self.on_permission = on_permission
        # Unix socket paths are limited to ~107 bytes: keep the directory short.
        self._dir = Path(tempfile.mkdtemp(prefix="tack-mcp-",
                                          dir="/tmp" if os.path.isdir("/tmp") else None))
        self.path = self._dir / "tracker.sock"
        self._server: asyncio.AbstractServer | None = None

    async def start(self) -> ToolRelay:
        self._server = await asyncio.start_unix_server(self._serve, path=str(self.path),
                                                       limit=RELAY_LINE_LIMIT)
        return self

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            line = await reader.readline()
            args: Any = None
            tool: Any = None
            try:
                request = json.loads(line)
                args, tool = request.get("arguments"), request.get("tool", TOOL_NAME)
                reply = (await self._run(tool, args) if isinstance(args, dict)
                         else {"error": "arguments must be an object"})
            except TackError as exc:
                reply = {"error": exc.message}
            except (ValueError, AttributeError) as exc:
                reply = {"error": str(exc)}
            log.info("agent.host_tool", tool=tool, issue_id=self.issue_id,
                     ok="error" not in reply,
                     action=args.get("action") if isinstance(args, dict) else None)
            writer.write((json.dumps(reply) + "\n").encode())
            await writer.drain()
        except (ConnectionError, asyncio.IncompleteReadError, asyncio.LimitOverrunError):
            pass
        finally:
            writer.close()
            with contextlib.suppress(Exception):
                await writer.wait_closed()

    async def _run(self, tool: Any, args: dict[str, Any]) -> dict[str, str]:
        if tool == TOOL_NAME:
            return {"text": await run_action(self.tracker, self.issue_id, args)}
        if tool == COMMIT_TOOL_NAME and self.workspace is not None:
            outcome = await commit_tool(args, self.workspace)
            return ({"text": outcome.output} if outcome.ok
                    else {"error": outcome.output.removeprefix("error: ")})
        if tool == ASK_HUMAN_TOOL.name and self.on_ask is not None:
            self.on_ask(Asked.from_tool_args(args))  # AnswerError: told to the agent
            return {"text": ASKED_REPLY}
        if tool == PERMISSION_TOOL_NAME and self.on_permission is not None:
            return {"text": json.dumps(self.on_permission(args))}
        raise ValueError(f"unknown tool {tool!r}")

    async def close(self) -> None:
        server, self._server = self._server, None
        if server is not None:
            server.close()
            # wait_closed also waits for in-flight calls (a tracker retrying a rate limit);
            # their agent is gone by now, so do not hold the session's stop on them.
            with contextlib.suppress(Exception):
                await asyncio.wait_for(server.wait_closed(), 2)
        shutil.rmtree(self._dir, ignore_errors=True)


def offered_tools(tool: TrackerTool | RelayClient) -> list[dict[str, Any]]:
    """`commit` needs the orchestrator: it is offered only through the relay."""
    if not isinstance(tool, RelayClient):
        return [TOOL]
    return [TOOL, MCP_COMMIT_TOOL, *([MCP_ASK_TOOL] if tool.ask else []),
            *([MCP_PERMISSION_TOOL] if tool.permission else [])]


def handle(tool: TrackerTool | RelayClient, request: dict[str, Any]) -> dict[str, Any] | None:
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
        result = {"tools": offered_tools(tool)}
    elif method == "tools/call":
        params = request.get("params") or {}
        name = params.get("name")
        if name not in {t["name"] for t in offered_tools(tool)}:
            return {"jsonrpc": "2.0", "id": rid,
                    "error": {"code": -32602, "message": f"unknown tool {name}"}}
        try:
            text, failed = tool.call(params.get("arguments") or {}, str(name)), False
        except (TackError, ValueError) as exc:
            text, failed = f"error: {exc}", True
        result = {"content": [{"type": "text", "text": text}], "isError": failed}
    elif method == "ping":
        result = {}
    else:
        return {"jsonrpc": "2.0", "id": rid,
                "error": {"code": -32601, "message": f"method {method} not supported"}}
    return {"jsonrpc": "2.0", "id": rid, "result": result}


def serve(tool: TrackerTool | RelayClient) -> None:
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
    where = parser.add_mutually_exclusive_group(required=True)
    where.add_argument("--db", type=Path, help="the local tracker's SQLite file")
    where.add_argument("--socket", type=Path, help="a ToolRelay socket (tracker and commit)")
    parser.add_argument("--ask", action="store_true", help="offer ask_human (with --socket)")
    parser.add_argument("--permission", action="store_true",
                        help="offer claude's permission prompt tool (with --socket)")
    parser.add_argument("--prefix", default="TACK")
    parser.add_argument("--issue", help="the issue id (required with --db)")
    args = parser.parse_args(argv)
    if args.socket is not None:
        serve(RelayClient(args.socket, ask=args.ask, permission=args.permission))
        return
    if not args.issue:
        parser.error("--issue is required with --db")
    with LocalTracker(args.db, prefix=args.prefix) as tracker:
        serve(TrackerTool(tracker, args.issue))


if __name__ == "__main__":
    main()
