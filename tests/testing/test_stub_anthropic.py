"""The stub model server's Anthropic Messages API, driven over real HTTP."""

from __future__ import annotations

import json

import httpx

from tack.testing.stub_model import StubModelServer

SCRIPT = {"conversations": [{"match": "Fix VALUE", "steps": [
    {"text": "editing", "tool_calls": [{"name": "Edit", "arguments": {"file_path": "a.py"}}]},
    {"text": "done", "usage": {"input_tokens": 7, "output_tokens": 3}},
]}]}


def _body(messages: list[dict[str, object]], *, stream: bool, tools: bool = True) -> dict:
    body: dict = {"model": "claude-x", "max_tokens": 100, "messages": messages,
                  "stream": stream}
    if tools:
        body["tools"] = [{"name": "Edit", "input_schema": {"type": "object"}}]
    return body


FIRST = [{"role": "user", "content": [{"type": "text", "text": "<system-reminder>x"},
                                      {"type": "text", "text": "Fix VALUE now"}]}]


def _events(text: str) -> list[tuple[str, dict]]:
    out = []
    for chunk in text.strip().split("\n\n"):
        lines = dict(line.split(": ", 1) for line in chunk.splitlines())
        out.append((lines["event"], json.loads(lines["data"])))
    return out


def test_streamed_tool_use_then_text_by_assistant_count() -> None:
    with StubModelServer(SCRIPT) as stub:
        base = stub.url.removesuffix("/v1")
        headers = {"x-api-key": "secret", "anthropic-version": "2023-06-01"}
        first = httpx.post(f"{base}/v1/messages?beta=true", json=_body(FIRST, stream=True),
                           headers=headers)
        events = _events(first.text)
        kinds = [e for e, _ in events]
        assert kinds[0] == "message_start" and kinds[-1] == "message_stop"
        tool_start = next(d for e, d in events if e == "content_block_start"
                          and d["content_block"]["type"] == "tool_use")
        assert tool_start["content_block"]["name"] == "Edit"
        partial = "".join(d["delta"]["partial_json"] for e, d in events
                          if e == "content_block_delta"
                          and d["delta"]["type"] == "input_json_delta")
        assert json.loads(partial) == {"file_path": "a.py"}
        delta = next(d for e, d in events if e == "message_delta")
        assert delta["delta"]["stop_reason"] == "tool_use" and delta["usage"]["output_tokens"]
        history = FIRST + [
            {"role": "assistant", "content": [{"type": "tool_use", "id": "t1", "name": "Edit",
                                               "input": {}}]},
            {"role": "user", "content": [{"type": "tool_result", "tool_use_id": "t1",
                                          "content": "ok"}]}]
        second = httpx.post(f"{base}/v1/messages", json=_body(history, stream=False),
                            headers=headers).json()
        assert second["content"] == [{"type": "text", "text": "done"}]
        assert second["stop_reason"] == "end_turn"
        assert second["usage"]["input_tokens"] == 7
        # side requests (no tools) do not consume steps
        side = httpx.post(f"{base}/v1/messages", json=_body(FIRST, stream=False, tools=False),
                          headers=headers).json()
        assert side["content"][0]["text"] == "Tack stub"
        counted = httpx.post(f"{base}/v1/messages/count_tokens", json=_body(FIRST, stream=False),
                             headers=headers).json()
        assert counted["input_tokens"] > 0
    assert [r.step for r in stub.requests] == [0, 1, None, None]
    assert all(r.headers.get("x-api-key") == "***" for r in stub.requests)


def test_unmatched_conversation_and_scripted_errors_are_anthropic_errors() -> None:
    script = {"conversations": [{"match": "boom", "steps": [
        {"error": {"status": 529, "message": "overloaded"}}]}]}
    with StubModelServer(script) as stub:
        base = stub.url.removesuffix("/v1")
        missing = httpx.post(f"{base}/v1/messages", json=_body(FIRST, stream=True))
        assert missing.status_code == 400 and missing.json()["type"] == "error"
        assert "no conversation" in missing.json()["error"]["message"]
        boom = httpx.post(f"{base}/v1/messages", json=_body(
            [{"role": "user", "content": "boom"}], stream=True))
        assert boom.status_code == 529
        assert boom.json()["error"] == {"type": "overloaded_error", "message": "overloaded"}
