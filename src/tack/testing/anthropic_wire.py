"""The Anthropic Messages API shapes the stub model server speaks, as the claude CLI uses them.

Reads a request's history (first user message, how many assistant turns so far) and renders
a scripted step as a `message` object or the SSE event sequence of a streamed one.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from typing import Any

from tack.testing.openai_wire import Reply, split_chunks

# Answer given to requests that are not part of the agent's conversation (titles, summaries).
SIDE_REQUEST_TEXT = "Tack stub"


def block_text(content: Any) -> str:
    """All text of a message `content` (a string or a list of blocks), one block per line."""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return "\n".join(
            str(block.get("text", "")) for block in content
            if isinstance(block, dict) and block.get("type") == "text"
        )
    return ""


def first_user(messages: list[dict[str, Any]]) -> str:
    # claude puts <system-reminder> blocks before the prompt; matching searches all of them.
    for message in messages:
        if message.get("role") == "user":
            return block_text(message.get("content"))
    return ""


def step_index(messages: list[dict[str, Any]]) -> int:
    return sum(1 for m in messages if m.get("role") == "assistant")


def is_side_request(body: dict[str, Any]) -> bool:
    """A request outside the agent loop: claude offers tools on every agent request."""
    return not body.get("tools")


def error_body(message: str, status: int) -> dict[str, Any]:
    kind = {400: "invalid_request_error", 401: "authentication_error", 404: "not_found_error",
            429: "rate_limit_error", 529: "overloaded_error"}.get(status, "api_error")
    return {"type": "error", "error": {"type": kind, "message": message}}


def _tool_id() -> str:
    return f"toolu_{uuid.uuid4().hex[:24]}"


def _usage(reply: Reply, *, output: int | None = None) -> dict[str, Any]:
    return {"input_tokens": reply.input_tokens, "output_tokens":
            reply.output_tokens if output is None else output,
            "cache_creation_input_tokens": 0, "cache_read_input_tokens": 0}


def _blocks(reply: Reply) -> list[dict[str, Any]]:
    blocks: list[dict[str, Any]] = []
    if reply.text:
        blocks.append({"type": "text", "text": reply.text})
    for call in reply.calls:
        try:
            arguments = json.loads(call.arguments or "{}")
        except json.JSONDecodeError:
            arguments = {}
        blocks.append({"type": "tool_use", "id": call.call_id.replace("call_", "toolu_"),
                       "name": call.name, "input": arguments})
    return blocks


def _stop_reason(reply: Reply) -> str:
    return "tool_use" if reply.calls else "end_turn"


def message(reply: Reply) -> dict[str, Any]:
    """The non-streaming `message` object."""
    return {
        "id": f"msg_{uuid.uuid4().hex[:24]}", "type": "message", "role": "assistant",
        "model": reply.model, "content": _blocks(reply), "stop_reason": _stop_reason(reply),
        "stop_sequence": None, "usage": _usage(reply),
    }


def _event(payload: dict[str, Any]) -> bytes:
    return f"event: {payload['type']}\ndata: {json.dumps(payload)}\n\n".encode()


def message_stream(reply: Reply) -> Iterator[bytes]:
    """message_start, one block at a time (text_delta / input_json_delta), message_delta, stop."""
    start = message(reply)
    yield _event({"type": "message_start", "message": {
        **start, "content": [], "stop_reason": None, "usage": _usage(reply, output=1)}})
    for index, block in enumerate(start["content"]):
        if block["type"] == "text":
            yield _event({"type": "content_block_start", "index": index,
                          "content_block": {"type": "text", "text": ""}})
            for piece in split_chunks(block["text"], reply.chunks):
                yield _event({"type": "content_block_delta", "index": index,
                              "delta": {"type": "text_delta", "text": piece}})
        else:
            yield _event({"type": "content_block_start", "index": index,
                          "content_block": {**block, "input": {}}})
            for piece in split_chunks(json.dumps(block["input"]), 2):
                yield _event({"type": "content_block_delta", "index": index,
                              "delta": {"type": "input_json_delta", "partial_json": piece}})
        yield _event({"type": "content_block_stop", "index": index})
    yield _event({"type": "message_delta",
                  "delta": {"stop_reason": _stop_reason(reply), "stop_sequence": None},
                  "usage": {"output_tokens": reply.output_tokens}})
    yield _event({"type": "message_stop"})


def count_tokens(body: dict[str, Any]) -> dict[str, int]:
    return {"input_tokens": max(1, len(json.dumps(body.get("messages") or [])) // 4)}
