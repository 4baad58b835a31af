"""The OpenAI wire shapes the stub model server speaks: Chat Completions and Responses.

Reads a request's history (which conversation, how many model responses so far) and renders
a scripted step as the exact JSON objects and SSE events OpenAI's APIs send.
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from tack.testing.script import Step

# Responses API item types produced by the model (a run of them is one model response).
OUTPUT_ITEM_TYPES = {
    "function_call",
    "reasoning",
    "custom_tool_call",
    "local_shell_call",
    "web_search_call",
    "file_search_call",
    "computer_call",
}


def content_text(content: Any) -> str:
    """Text of a message `content`: a string, or a list of text parts."""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return "".join(
            str(part.get("text", "")) for part in content if isinstance(part, dict)
        )
    return ""


# --- reading histories ------------------------------------------------------------------


def chat_first_user(messages: list[dict[str, Any]]) -> str:
    for message in messages:
        if message.get("role") == "user":
            return content_text(message.get("content"))
    return ""


def chat_step_index(messages: list[dict[str, Any]]) -> int:
    return sum(1 for m in messages if m.get("role") == "assistant")


def responses_input_items(body: dict[str, Any]) -> list[dict[str, Any]]:
    raw = body.get("input")
    if isinstance(raw, str):
        return [{"type": "message", "role": "user", "content": raw}]
    if isinstance(raw, list):
        return [item for item in raw if isinstance(item, dict)]
    return []


def _is_output_item(item: dict[str, Any]) -> bool:
    kind = item.get("type", "message")
    if kind in OUTPUT_ITEM_TYPES:
        return True
    return kind == "message" and item.get("role") == "assistant"


def responses_first_user(items: list[dict[str, Any]]) -> str:
    """The opening user turn: every user message before the first model output. (codex sends
    its environment context and the prompt as separate user messages.)"""
    texts = []
    for item in items:
        if _is_output_item(item):
            break
        if item.get("type", "message") == "message" and item.get("role") == "user":
            texts.append(content_text(item.get("content")))
    return "\n".join(texts)


def responses_step_index(items: list[dict[str, Any]]) -> int:
    """Number of maximal runs of consecutive model-output items."""
    runs, inside = 0, False
    for item in items:
        if _is_output_item(item):
            if not inside:
                runs += 1
            inside = True
        else:
            inside = False
    return runs


# --- rendering replies ------------------------------------------------------------------


def _new_id(prefix: str) -> str:
    return f"{prefix}_{uuid.uuid4().hex[:24]}"


def split_chunks(text: str, pieces: int) -> list[str]:
    if not text:
        return []
    pieces = max(1, min(pieces, len(text)))
    size = -(-len(text) // pieces)
    return [text[i : i + size] for i in range(0, len(text), size)]


@dataclass
class ReplyCall:
    call_id: str
    item_id: str
    name: str
    arguments: str
    namespace: str | None = None


@dataclass
class Reply:
    """A scripted step made concrete: ids assigned, usage decided."""

    model: str
    text: str | None
    calls: list[ReplyCall]
    input_tokens: int
    output_tokens: int
    chunks: int
    created: int = field(default_factory=lambda: int(time.time()))

    @classmethod
    def from_step(cls, step: Step, *, model: str, request_chars: int) -> Reply:
        calls = [
            ReplyCall(_new_id("call"), _new_id("fc"), c.name, c.arguments_json(), c.namespace)
            for c in step.tool_calls
        ]
        produced = len(step.text or "") + sum(len(c.name) + len(c.arguments) for c in calls)
        usage = step.usage or {}
        return cls(
            model=model,
            text=step.text,
            calls=calls,
            input_tokens=usage.get("input_tokens", max(1, request_chars // 4)),
            output_tokens=usage.get("output_tokens", max(1, produced // 4)),
            chunks=step.events or 3,
        )

    @property
    def total_tokens(self) -> int:
        return self.input_tokens + self.output_tokens


def sse_data(payload: dict[str, Any] | str) -> bytes:
    data = payload if isinstance(payload, str) else json.dumps(payload)
    return f"data: {data}\n\n".encode()


def sse_event(payload: dict[str, Any]) -> bytes:
    return f"event: {payload['type']}\ndata: {json.dumps(payload)}\n\n".encode()


def error_body(message: str, status: int) -> dict[str, Any]:
    kind = "invalid_request_error" if status < 500 else "server_error"
    return {"error": {"message": message, "type": kind, "param": None, "code": None}}


# Chat Completions ----------------------------------------------------------------------


def chat_completion(reply: Reply) -> dict[str, Any]:
    message: dict[str, Any] = {"role": "assistant", "content": reply.text, "refusal": None}
    if reply.calls:
        message["tool_calls"] = [
            {
                "id": c.call_id,
                "type": "function",
                "function": {"name": c.name, "arguments": c.arguments},
            }
            for c in reply.calls
        ]
    return {
        "id": "chatcmpl-" + uuid.uuid4().hex[:24],
        "object": "chat.completion",
        "created": reply.created,
        "model": reply.model,
        "choices": [
            {
                "index": 0,
                "message": message,
                "logprobs": None,
                "finish_reason": "tool_calls" if reply.calls else "stop",
            }
        ],
        "usage": _chat_usage(reply),
    }


def _chat_usage(reply: Reply) -> dict[str, int]:
    return {
        "prompt_tokens": reply.input_tokens,
        "completion_tokens": reply.output_tokens,
        "total_tokens": reply.total_tokens,
    }


def chat_stream(reply: Reply, *, include_usage: bool) -> Iterator[bytes]:
    completion_id = "chatcmpl-" + uuid.uuid4().hex[:24]

    def chunk(delta: dict[str, Any], finish: str | None = None) -> bytes:
        payload: dict[str, Any] = {
            "id": completion_id,
            "object": "chat.completion.chunk",
            "created": reply.created,
            "model": reply.model,
            "choices": [
                {"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish}
            ],
        }
        if include_usage:
            payload["usage"] = None
        return sse_data(payload)

    yield chunk({"role": "assistant", "content": "", "refusal": None})
    for piece in split_chunks(reply.text or "", reply.chunks):
        yield chunk({"content": piece})
    for index, call in enumerate(reply.calls):
        yield chunk(
            {
                "tool_calls": [
                    {
                        "index": index,
                        "id": call.call_id,
                        "type": "function",
                        "function": {"name": call.name, "arguments": ""},
                    }
                ]
            }
        )
        for piece in split_chunks(call.arguments, 2):
            yield chunk({"tool_calls": [{"index": index, "function": {"arguments": piece}}]})
    yield chunk({}, "tool_calls" if reply.calls else "stop")
    if include_usage:
        yield sse_data(
            {
                "id": completion_id,
                "object": "chat.completion.chunk",
                "created": reply.created,
                "model": reply.model,
                "choices": [],
                "usage": _chat_usage(reply),
            }
        )
    yield sse_data("[DONE]")


# Responses -----------------------------------------------------------------------------


@dataclass
class ResponseShape:
    """Everything about one Responses API answer, reusable for streaming and plain JSON."""

    reply: Reply
    body: dict[str, Any]
    id: str = field(default_factory=lambda: _new_id("resp"))
    message_id: str = field(default_factory=lambda: _new_id("msg"))

    def message_item(self, *, done: bool) -> dict[str, Any]:
        content = [self.text_part()] if done else []
        return {
            "type": "message",
            "id": self.message_id,
            "status": "completed" if done else "in_progress",
            "role": "assistant",
            "content": content,
        }

    def text_part(self, text: str | None = None) -> dict[str, Any]:
        value = self.reply.text or "" if text is None else text
        return {"type": "output_text", "text": value, "annotations": []}

    def call_item(self, call: ReplyCall, *, done: bool) -> dict[str, Any]:
        return {
            "type": "function_call",
            "id": call.item_id,
            "call_id": call.call_id,
            "name": call.name,
            "arguments": call.arguments if done else "",
            "status": "completed" if done else "in_progress",
            **({"namespace": call.namespace} if call.namespace else {}),
        }

    def output(self) -> list[dict[str, Any]]:
        items = [self.message_item(done=True)] if self.reply.text is not None else []
        return items + [self.call_item(c, done=True) for c in self.reply.calls]

    def response(self, *, done: bool) -> dict[str, Any]:
        reply = self.reply
        return {
            "id": self.id,
            "object": "response",
            "created_at": reply.created,
            "status": "completed" if done else "in_progress",
            "error": None,
            "incomplete_details": None,
            "instructions": self.body.get("instructions"),
            "model": reply.model,
            "output": self.output() if done else [],
            "parallel_tool_calls": True,
            "previous_response_id": self.body.get("previous_response_id"),
            "store": self.body.get("store", True),
            "temperature": self.body.get("temperature", 1.0),
            "tool_choice": self.body.get("tool_choice", "auto"),
            "tools": self.body.get("tools", []),
            "usage": (
                {
                    "input_tokens": reply.input_tokens,
                    "input_tokens_details": {"cached_tokens": 0},
                    "output_tokens": reply.output_tokens,
                    "output_tokens_details": {"reasoning_tokens": 0},
                    "total_tokens": reply.total_tokens,
                }
                if done
                else None
            ),
        }


def responses_stream(shape: ResponseShape) -> Iterator[bytes]:
    seq = 0

    def event(kind: str, **fields: Any) -> bytes:
        nonlocal seq
        seq += 1
        return sse_event({"type": kind, "sequence_number": seq - 1, **fields})

    yield event("response.created", response=shape.response(done=False))
    yield event("response.in_progress", response=shape.response(done=False))
    index = 0
    reply = shape.reply
    if reply.text is not None:
        item_id = shape.message_id
        yield event("response.output_item.added", output_index=index,
                    item=shape.message_item(done=False))
        yield event("response.content_part.added", item_id=item_id, output_index=index,
                    content_index=0, part=shape.text_part(""))
        for piece in split_chunks(reply.text, reply.chunks):
            yield event("response.output_text.delta", item_id=item_id, output_index=index,
                        content_index=0, delta=piece, logprobs=[])
        yield event("response.output_text.done", item_id=item_id, output_index=index,
                    content_index=0, text=reply.text, logprobs=[])
        yield event("response.content_part.done", item_id=item_id, output_index=index,
                    content_index=0, part=shape.text_part())
        yield event("response.output_item.done", output_index=index,
                    item=shape.message_item(done=True))
        index += 1
    for call in reply.calls:
        yield event("response.output_item.added", output_index=index,
                    item=shape.call_item(call, done=False))
        for piece in split_chunks(call.arguments, 2):
            yield event("response.function_call_arguments.delta", item_id=call.item_id,
                        output_index=index, delta=piece)
        yield event("response.function_call_arguments.done", item_id=call.item_id,
                    output_index=index, arguments=call.arguments)
        yield event("response.output_item.done", output_index=index,
                    item=shape.call_item(call, done=True))
        index += 1
    yield event("response.completed", response=shape.response(done=True))
