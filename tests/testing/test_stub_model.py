"""The stub model server over real HTTP: both OpenAI APIs, streaming and not, replay rules."""

from __future__ import annotations

import asyncio
import json
import subprocess
import threading
from pathlib import Path
from typing import Any

import httpx
import pytest

from tack.errors import TackError
from tack.testing import StubModelServer, load_script

from tests.conftest import TACK
from tests.e2e.harness import await_until

SCRIPT: dict[str, Any] = {
    "conversations": [
        {
            "match": "TACK-1",
            "steps": [
                {"tool_calls": [{"name": "read_file", "arguments": {"path": "calc.py"}}]},
                {"text": "I will fix it.",
                 "tool_calls": [{"name": "edit_file",
                                 "arguments": {"path": "calc.py", "old": "a - b",
                                               "new": "a + b"}}]},
                {"text": "Done: fixed the sign in add().",
                 "usage": {"input_tokens": 120, "output_tokens": 30}},
            ],
        },
        {"match": "stall", "steps": [{"hang": True}]},
        {"match": "boom", "steps": [{"error": {"status": 500, "message": "upstream exploded"}}]},
        {"match": "chunky", "steps": [{"text": "abcdefghij", "events": 5}]},
    ]
}


def sse(text: str) -> list[tuple[str | None, str]]:
    out = []
    for block in text.split("\n\n"):
        if not block.strip():
            continue
        event = None
        data = []
        for line in block.splitlines():
            if line.startswith("event: "):
                event = line[7:]
            elif line.startswith("data: "):
                data.append(line[6:])
        out.append((event, "\n".join(data)))
    return out


def chat(messages: list[dict[str, Any]], **extra: Any) -> dict[str, Any]:
    return {"model": "m", "messages": messages, **extra}


@pytest.fixture
async def server() -> Any:
    async with StubModelServer(SCRIPT) as srv:
        yield srv


async def test_chat_streaming_text_with_usage(server: StubModelServer) -> None:
    history = [{"role": "user", "content": "fix TACK-1"},
               {"role": "assistant", "content": None, "tool_calls": []},
               {"role": "tool", "content": "x"},
               {"role": "assistant", "content": "I will fix it."},
               {"role": "tool", "content": "y"}]
    async with httpx.AsyncClient() as client:
        r = await client.post(f"{server.url}/chat/completions",
                              json=chat(history, stream=True,
                                        stream_options={"include_usage": True}))
    assert r.headers["content-type"].startswith("text/event-stream")
    events = sse(r.text)
    assert events[-1] == (None, "[DONE]")
    chunks = [json.loads(d) for _, d in events[:-1]]
    assert all(c["object"] == "chat.completion.chunk" for c in chunks)
    text = "".join(c["choices"][0]["delta"].get("content") or "" for c in chunks if c["choices"])
    assert text == "Done: fixed the sign in add()."
    finishes = [c["choices"][0]["finish_reason"] for c in chunks if c["choices"]]
    assert finishes[-1] == "stop"
    assert chunks[-1]["choices"] == []
    assert chunks[-1]["usage"] == {"prompt_tokens": 120, "completion_tokens": 30,
                                   "total_tokens": 150}


async def test_chat_streaming_tool_calls_reassemble(server: StubModelServer) -> None:
    history = [{"role": "user", "content": [{"type": "text", "text": "please TACK-1"}]},
               {"role": "assistant", "tool_calls": []}, {"role": "tool", "content": "x"}]
    async with httpx.AsyncClient() as client:
        r = await client.post(f"{server.url}/chat/completions", json=chat(history, stream=True))
    chunks = [json.loads(d) for _, d in sse(r.text) if d != "[DONE]"]
    assert all("usage" not in c for c in chunks)
    calls: dict[int, dict[str, str]] = {}
    content = ""
    for chunk in chunks:
        delta = chunk["choices"][0]["delta"]
        content += delta.get("content") or ""
        for tc in delta.get("tool_calls") or []:
            slot = calls.setdefault(tc["index"], {"id": "", "name": "", "arguments": ""})
            slot["id"] = tc.get("id", slot["id"])
            if "name" in tc.get("function", {}):
                slot["name"] = tc["function"]["name"]
                assert tc["type"] == "function"
            slot["arguments"] += tc["function"].get("arguments", "")
    arg_chunks = [c for c in chunks if c["choices"][0]["delta"].get("tool_calls")]
    assert len(arg_chunks) >= 3  # header + arguments in pieces
    assert content == "I will fix it."
    assert calls[0]["name"] == "edit_file" and calls[0]["id"].startswith("call_")
    assert json.loads(calls[0]["arguments"]) == {"path": "calc.py", "old": "a - b",
                                                 "new": "a + b"}
    assert chunks[-1]["choices"][0]["finish_reason"] == "tool_calls"


async def test_chat_non_streaming(server: StubModelServer) -> None:
    async with httpx.AsyncClient() as client:
        r = await client.post(f"{server.url}/chat/completions",
                              json=chat([{"role": "user", "content": "TACK-1"}]))
    body = r.json()
    assert body["object"] == "chat.completion"
    choice = body["choices"][0]
    assert choice["finish_reason"] == "tool_calls"
    call = choice["message"]["tool_calls"][0]
    assert call["function"]["name"] == "read_file"
    assert json.loads(call["function"]["arguments"]) == {"path": "calc.py"}
    assert body["usage"]["total_tokens"] == (body["usage"]["prompt_tokens"]
                                             + body["usage"]["completion_tokens"])


async def test_responses_streaming_and_previous_response_id(server: StubModelServer) -> None:
    async with httpx.AsyncClient() as client:
        r = await client.post(f"{server.url}/responses",
                              json={"model": "m", "input": "work on TACK-1", "stream": True})
        events = sse(r.text)
        kinds = [e for e, _ in events]
        assert kinds[0] == "response.created" and kinds[-1] == "response.completed"
        for name, data in events:
            assert json.loads(data)["type"] == name
        assert "response.function_call_arguments.delta" in kinds
        done = json.loads(events[-1][1])["response"]
        assert done["status"] == "completed"
        [item] = done["output"]
        assert item["type"] == "function_call" and item["name"] == "read_file"
        deltas = "".join(json.loads(d)["delta"] for e, d in events
                         if e == "response.function_call_arguments.delta")
        assert json.loads(deltas) == {"path": "calc.py"}
        usage = done["usage"]
        assert usage["total_tokens"] == usage["input_tokens"] + usage["output_tokens"]

        # Chain on previous_response_id: the stored history counts as one model response.
        r2 = await client.post(f"{server.url}/responses", json={
            "model": "m", "previous_response_id": done["id"], "stream": True,
            "input": [{"type": "function_call_output", "call_id": item["call_id"],
                       "output": "1 def add"}]})
        events2 = sse(r2.text)
        text = "".join(json.loads(d)["delta"] for e, d in events2
                       if e == "response.output_text.delta")
        assert text == "I will fix it."
        assert json.loads(
            [d for e, d in events2 if e == "response.output_text.done"][0])["text"] == text
        assert server.requests[-1].step == 1


async def test_responses_non_streaming_counts_output_runs(server: StubModelServer) -> None:
    history = [
        {"role": "user", "content": [{"type": "input_text", "text": "TACK-1 please"}]},
        {"type": "reasoning", "summary": []},
        {"type": "function_call", "call_id": "c1", "name": "read_file", "arguments": "{}"},
        {"type": "function_call_output", "call_id": "c1", "output": "x"},
        {"type": "message", "role": "assistant", "content": "I will fix it."},
        {"type": "function_call", "call_id": "c2", "name": "edit_file", "arguments": "{}"},
        {"type": "function_call_output", "call_id": "c2", "output": "ok"},
    ]
    async with httpx.AsyncClient() as client:
        r = await client.post(f"{server.url}/responses", json={"model": "m", "input": history})
    body = r.json()
    assert body["object"] == "response"
    assert body["output"][0]["content"][0]["text"] == "Done: fixed the sign in add()."
    assert body["usage"]["input_tokens"] == 120


async def test_ordered_mode_answers_in_arrival_order() -> None:
    script = {"mode": "ordered", "steps": [{"text": "first"}, {"text": "second"},
                                           {"tool_calls": [{"name": "shell",
                                                            "arguments": {"command": "ls"}}]}]}
    async with StubModelServer(script) as srv, httpx.AsyncClient() as client:
        texts = []
        for _ in range(4):
            r = await client.post(f"{srv.url}/chat/completions",
                                  json=chat([{"role": "user", "content": "anything"}]))
            texts.append(r.json()["choices"][0]["message"]["content"])
    assert texts[:2] == ["first", "second"]
    assert texts[3] == "stub script exhausted for conversation <ordered>"


async def test_interleaved_conversations_get_their_own_steps() -> None:
    script = {"conversations": [
        {"match": "alpha", "steps": [{"text": "a0", "delay_ms": 150}, {"text": "a1"}]},
        {"match": "beta", "steps": [{"text": "b0"}, {"text": "b1", "delay_ms": 100}]},
    ]}

    async def ask(client: httpx.AsyncClient, url: str, word: str, k: int) -> str:
        msgs: list[dict[str, Any]] = [{"role": "user", "content": f"{word} task"}]
        msgs += [{"role": "assistant", "content": "prev"}, {"role": "user", "content": "go"}] * k
        r = await client.post(f"{url}/chat/completions", json=chat(msgs))
        return str(r.json()["choices"][0]["message"]["content"])

    async with StubModelServer(script) as srv, httpx.AsyncClient() as client:
        got = await asyncio.gather(*(ask(client, srv.url, w, k)
                                     for k in (1, 0) for w in ("alpha", "beta")))
        past_end = await ask(client, srv.url, "alpha", 5)
    assert got == ["a1", "b1", "a0", "b0"]
    assert past_end == "a1"  # a text-only last step repeats


async def test_hang_times_out_client_while_others_are_served(server: StubModelServer) -> None:
    stall = chat([{"role": "user", "content": "stall here"}], stream=True)
    async with httpx.AsyncClient(timeout=60) as client:
        hung = asyncio.create_task(client.post(f"{server.url}/chat/completions", json=stall))
        await await_until(lambda: server.requests, what="the stub to hold the stalled request")
        r = await client.post(f"{server.url}/chat/completions",
                              json=chat([{"role": "user", "content": "chunky"}], stream=True))
        pieces = [json.loads(d)["choices"][0]["delta"].get("content")
                  for _, d in sse(r.text) if d != "[DONE]"]
        assert [p for p in pieces if p] == ["ab", "cd", "ef", "gh", "ij"]
        # Served while the hang still holds its request open.
        assert not hung.done()
        hung.cancel()
        with pytest.raises(httpx.ReadTimeout):
            await client.post(f"{server.url}/chat/completions", json=stall,
                              timeout=httpx.Timeout(10, read=0.3))


async def test_error_step_returns_openai_error(server: StubModelServer) -> None:
    async with httpx.AsyncClient() as client:
        r = await client.post(f"{server.url}/chat/completions",
                              json=chat([{"role": "user", "content": "boom"}], stream=True))
        assert r.status_code == 500
        assert r.json()["error"]["message"] == "upstream exploded"
        r = await client.post(f"{server.url}/responses", json={"model": "m", "input": "none"})
        assert r.status_code == 400
        message = r.json()["error"]["message"]
        assert "'none'" in message and "TACK-1" in message


async def test_requests_recorded_with_auth_redacted(tmp_path: Path) -> None:
    record = tmp_path / "requests.jsonl"
    async with StubModelServer(SCRIPT, record_path=record) as srv, httpx.AsyncClient() as c:
        await c.get(f"{srv.url}/models", headers={"Authorization": "Bearer sk-secret"})
        await c.post(f"{srv.url}/chat/completions", headers={"Authorization": "Bearer sk-secret"},
                     json=chat([{"role": "user", "content": "TACK-1"}]))
    assert [r.path for r in srv.requests] == ["/v1/models", "/v1/chat/completions"]
    last = srv.requests[-1]
    assert last.headers["authorization"] == "Bearer ***"
    assert last.body["messages"][0]["content"] == "TACK-1"
    assert (last.conversation, last.step) == ("TACK-1", 0)
    lines = record.read_text().splitlines()
    assert len(lines) == 2 and "sk-secret" not in record.read_text()
    assert json.loads(lines[1])["method"] == "POST"


def test_sync_thread_mode_serves_models() -> None:
    with StubModelServer(SCRIPT) as srv:
        assert threading.active_count() >= 2
        r = httpx.get(f"{srv.url}/models")
    assert r.json()["data"][0]["id"] == "stub"
    with pytest.raises(httpx.ConnectError):
        httpx.get(f"{srv.url}/models")


def test_bad_script_names_file_and_key(tmp_path: Path) -> None:
    bad = tmp_path / "script.yaml"
    bad.write_text("conversations:\n  - match: x\n    steps:\n      - txt: hi\n")
    with pytest.raises(TackError) as info:
        load_script(bad)
    assert str(bad) in info.value.message and "conversations.0.steps.0.txt" in info.value.message
    bad.write_text("conversations: [\n")
    with pytest.raises(TackError, match="not valid YAML"):
        load_script(bad)
    with pytest.raises(TackError, match="cannot be read"):
        load_script(tmp_path / "missing.yaml")
    with pytest.raises(TackError, match="regular expression"):
        load_script({"conversations": [{"match": "(", "steps": [{"text": "x"}]}]})


def test_cli_stub_model_serves_until_terminated(tmp_path: Path) -> None:
    script = tmp_path / "script.json"
    script.write_text(json.dumps(SCRIPT))
    proc = subprocess.Popen([*TACK, "stub-model", "--script", str(script)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        lines: list[str] = []
        reader = threading.Thread(target=lambda: lines.append(proc.stdout.readline()),
                                  daemon=True)
        reader.start()
        reader.join(timeout=20)
        assert lines, "no startup line within 20 s"
        assert lines[0].startswith("stub model server on http://127.0.0.1:")
        url = lines[0].split(" on ", 1)[1].strip()
        assert httpx.get(f"{url}/models").status_code == 200
    finally:
        proc.terminate()
        proc.wait(timeout=10)
    assert proc.returncode is not None


def test_cli_bad_script_is_a_clean_error(tmp_path: Path) -> None:
    from tests.conftest import run_tack

    result = run_tack("stub-model", "--script", str(tmp_path / "nope.yaml"))
    assert result.returncode == 2
    assert "nope.yaml" in result.stderr and "Traceback" not in result.stderr
