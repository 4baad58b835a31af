"""ResilientTransport against a raw HTTP/1.1 server on loopback: a reply cut off mid-body is
retried when sending the request again is harmless (never a POST that may have created
something), and a gzip-encoded reply replayed from the ETag cache still decodes."""

from __future__ import annotations

import asyncio
import gzip
import json
from collections.abc import AsyncIterator, Awaitable, Callable

import httpx
import pytest

from tack.errors import TrackerError
from tack.tracker.http import ApiClient, ResilientTransport, RetryPolicy

Reply = Callable[[int, bytes], bytes]


Start = Callable[[Reply], Awaitable[str]]


@pytest.fixture
async def raw_server() -> AsyncIterator[tuple[list[bytes], Start]]:
    """Servers whose every connection answers one request with `reply(n, request)` and
    hangs up; `n` counts requests from 0. Yields (requests seen, start(reply) -> url)."""
    seen: list[bytes] = []
    servers: list[asyncio.Server] = []

    async def start(reply: Reply) -> str:
        async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            request = await reader.readuntil(b"\r\n\r\n")
            seen.append(request)
            writer.write(reply(len(seen) - 1, request))
            await writer.drain()
            writer.close()

        server = await asyncio.start_server(serve, "127.0.0.1", 0)
        servers.append(server)
        return f"http://127.0.0.1:{server.sockets[0].getsockname()[1]}"

    yield seen, start
    for server in servers:
        server.close()


def _http(status: str, body: bytes, *headers: str, length: int | None = None) -> bytes:
    head = [f"HTTP/1.1 {status}", f"Content-Length: {len(body) if length is None else length}",
            "Connection: close", *headers]
    return ("\r\n".join(head) + "\r\n\r\n").encode() + body


async def test_a_reply_cut_off_mid_body_is_retried(raw_server) -> None:
    seen, start = raw_server
    body = json.dumps({"number": 999, "title": "x" * 200}).encode()

    def reply(n: int, _request: bytes) -> bytes:
        # The first answer promises the whole body, sends a third of it, and hangs up.
        if n == 0:
            return _http("200 OK", body[: len(body) // 3], length=len(body))
        return _http("200 OK", body, "Content-Type: application/json")

    url = await start(reply)
    transport = ResilientTransport(RetryPolicy(base_s=0.01, jitter=lambda: 0.0))
    async with httpx.AsyncClient(transport=transport) as client:
        response = await client.get(url + "/repos/o/r/issues/999")
    assert response.json()["number"] == 999
    assert len(seen) == 2
    assert transport.stats.retries == 1 and transport.stats.requests == 2


async def test_a_reply_that_keeps_breaking_fails_after_max_attempts(raw_server) -> None:
    seen, start = raw_server
    url = await start(lambda n, _r: _http("200 OK", b'{"a"', length=100))
    transport = ResilientTransport(RetryPolicy(max_attempts=3, base_s=0.01, jitter=lambda: 0.0))
    async with httpx.AsyncClient(transport=transport) as client:
        with pytest.raises(httpx.TransportError):
            await client.get(url + "/x")
    assert len(seen) == 3


async def test_a_gzip_reply_replayed_from_the_etag_cache_decodes(raw_server) -> None:
    seen, start = raw_server
    payload = json.dumps([{"number": n} for n in range(50)]).encode()

    def reply(n: int, request: bytes) -> bytes:
        if n > 0 and b'if-none-match: "v1"' in request.lower():
            return _http("304 Not Modified", b"", 'ETag: "v1"')
        return _http("200 OK", gzip.compress(payload), 'ETag: "v1"', "Content-Encoding: gzip",
                     "Content-Type: application/json")

    url = await start(reply)
    transport = ResilientTransport(RetryPolicy(base_s=0.01))
    async with httpx.AsyncClient(transport=transport) as client:
        first = await client.get(url + "/issues")
        second = await client.get(url + "/issues")
    assert first.json() == second.json() == json.loads(payload)
    assert transport.stats.not_modified == 1
    assert len(seen) == 2


async def test_the_etag_cache_keeps_the_recently_read_urls_not_every_url_ever_read(
        raw_server) -> None:
    # Each issue read has its own URL: a long-running tracker must not keep them all.
    seen, start = raw_server

    def reply(_n: int, request: bytes) -> bytes:
        path = request.split(b" ")[1]
        if b"if-none-match:" in request.lower():
            return _http("304 Not Modified", b"", f'ETag: "{path.decode()}"')
        return _http("200 OK", b'{"path": "%s"}' % path, f'ETag: "{path.decode()}"',
                     "Content-Type: application/json")

    url = await start(reply)
    transport = ResilientTransport(RetryPolicy(base_s=0.01), etag_entries=3)
    async with httpx.AsyncClient(transport=transport) as client:
        await client.get(url + "/listing")
        for n in range(10):
            await client.get(url + f"/issues/{n}")
            await client.get(url + "/listing")  # read again and again: it stays
        for n in (9, 0):
            assert (await client.get(url + f"/issues/{n}")).json() == {"path": f"/issues/{n}"}
    conditional = [r.split(b" ")[1].decode() for r in seen if b"if-none-match:" in r.lower()]
    # The listing and the latest issue were replayed; issue 0 had long been dropped.
    assert conditional == ["/listing"] * 10 + ["/issues/9"]


async def test_a_post_cut_off_mid_body_is_not_sent_twice(raw_server) -> None:
    seen, start = raw_server
    created = json.dumps({"id": 7, "body": "Working on it"}).encode()
    url = await start(lambda n, _r: _http("201 Created", created[:5], length=len(created)))
    transport = ResilientTransport(RetryPolicy(base_s=0.01, jitter=lambda: 0.0))
    async with httpx.AsyncClient(transport=transport) as client:
        with pytest.raises(httpx.TransportError):
            await client.post(url + "/repos/o/r/issues/1/comments", json={"body": "x"})
    assert len(seen) == 1  # the server may have created the comment: never post it again


async def test_a_graphql_query_is_retried_and_a_mutation_is_not(raw_server) -> None:
    seen, start = raw_server
    answer = json.dumps({"data": {"issues": {"nodes": []}}}).encode()

    def reply(n: int, request: bytes) -> bytes:
        cut = n in (0, 2)  # the first query and the mutation are cut off mid-body
        return _http("200 OK", answer[:4] if cut else answer, "Content-Type: application/json",
                     length=len(answer))

    url = await start(reply)
    api = ApiClient(provider="Linear", base_url=url, headers={}, auth_hint="",
                    policy=RetryPolicy(base_s=0.01, jitter=lambda: 0.0))
    try:
        data = await api.graphql(url + "/graphql", "query { issues { nodes { id } } }")
        assert data == {"issues": {"nodes": []}} and len(seen) == 2
        with pytest.raises(TrackerError, match="unreachable"):
            await api.graphql(url + "/graphql",
                              "# move it\nmutation { issueUpdate(id: \"1\") { success } }")
        assert len(seen) == 3
    finally:
        await api.aclose()
