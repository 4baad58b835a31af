"""The resilient transport across requests: concurrent githubkit calls share one connection
pool without cutting each other off, retries log the URL as requested (port included), and a
rate-limit reply with Retry-After pauses every request to that host, not only its own."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable, Iterator

import pytest
from structlog.testing import capture_logs

from tack.forge.github import GitHubForge
from tack.tracker.http import ApiClient, RetryPolicy
from tests.e2e.harness import await_until
from tests.tracker_remote.conftest import TOKEN
from tests.tracker_remote.fake_apis import FakeApis, ServerThread


@pytest.fixture
def fake() -> Iterator[FakeApis]:
    """The fake hosted APIs of tests/tracker_remote (uvicorn, keep-alive on)."""
    apis = FakeApis(token=TOKEN)
    with ServerThread(apis.app()) as server:
        apis.url = server.url
        yield apis


def _retries(logs: list[dict[str, object]]) -> list[dict[str, object]]:
    return [entry for entry in logs if entry["event"] == "http.retry"]


async def test_a_github_request_ending_never_cuts_another_ones_connection() -> None:
    # githubkit builds an httpx client per request and closes it when that request ends;
    # that used to close the shared pool under the requests still reading (ReadError).
    seen: list[bytes] = []
    released = asyncio.Event()
    body = b'{"default_branch": "main", "full_name": "octo/widgets"}'

    async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        seen.append(await reader.readuntil(b"\r\n\r\n"))
        held = len(seen) == 1  # the first request is still reading when the second ends
        writer.write(f"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
                     f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n".encode()
                     + body[: 10 if held else None])
        await writer.drain()
        if held:
            await released.wait()
            writer.write(body[10:])
            await writer.drain()
        writer.close()

    server = await asyncio.start_server(serve, "127.0.0.1", 0)
    url = f"http://127.0.0.1:{server.sockets[0].getsockname()[1]}"
    forge = GitHubForge("octo/widgets", TOKEN, url, RetryPolicy(base_s=0.01))
    try:
        with capture_logs() as logs:
            slow = asyncio.create_task(forge.default_branch())
            await await_until(lambda: len(seen) == 1, what="the first request")
            assert await forge.default_branch() == "main"
            released.set()
            assert await slow == "main"
    finally:
        await forge.close()
        server.close()
    assert _retries(logs) == [] and len(seen) == 2


async def test_a_retry_logs_the_url_with_its_port(fake: FakeApis) -> None:
    fake.fail("/repos/octo/widgets", 503, 1)
    forge = GitHubForge("octo/widgets", TOKEN, fake.url, RetryPolicy(base_s=0.01))
    try:
        with capture_logs() as logs:
            assert await forge.default_branch() == "main"
    finally:
        await forge.close()
    [retry] = _retries(logs)
    assert retry["url"] == f"{fake.url}/repos/octo/widgets" and ":" in fake.url[7:]


@pytest.fixture
async def limited_server() -> AsyncIterator[tuple[str, Callable[[], int]]]:
    """A loopback API that answers 429 + `Retry-After: 1` to every request in the second
    after its first one, then 200. Yields (url, number of 429s sent)."""
    limited_until: list[float] = []
    refused = 0

    async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        nonlocal refused
        await reader.readuntil(b"\r\n\r\n")
        now = time.monotonic()
        if not limited_until:
            limited_until.append(now + 1.0)
        if now < limited_until[0]:
            refused += 1
            head, body = "429 Too Many Requests\r\nRetry-After: 1", b"{}"
        else:
            head, body = "200 OK\r\nContent-Type: application/json", b'{"ok": true}'
        writer.write(f"HTTP/1.1 {head}\r\nContent-Length: {len(body)}\r\n"
                     "Connection: close\r\n\r\n".encode() + body)
        await writer.drain()
        writer.close()

    server = await asyncio.start_server(serve, "127.0.0.1", 0)
    yield f"http://127.0.0.1:{server.sockets[0].getsockname()[1]}", lambda: refused
    server.close()


async def test_retry_after_pauses_every_request_to_the_host(
    limited_server: tuple[str, Callable[[], int]],
) -> None:
    url, refused = limited_server
    # Two clients, as a tracker and a forge on one host would be.
    first = ApiClient(provider="GitHub", base_url=url, headers={}, auth_hint="")
    other = ApiClient(provider="GitHub", base_url=url, headers={}, auth_hint="")
    try:
        drawn = asyncio.create_task(first.json("GET", "/repos/o/r"))
        await await_until(lambda: first.stats.rate_limited == 1, what="the first 429")
        answers = await asyncio.gather(
            drawn, *(client.json("GET", f"/repos/o/r/issues/{n}")
                     for n in range(8) for client in (first, other)))
    finally:
        await first.aclose()
        await other.aclose()
    assert answers == [{"ok": True}] * 17
    assert refused() == 1  # the other 16 waited for the pause instead of drawing their own
    assert first.stats.paused >= 8 and other.stats.paused >= 8


async def test_sequential_requests_reuse_a_connection_until_the_server_closes_it() -> None:
    connections = 0
    answered = 0
    body = b'{"default_branch": "main", "full_name": "octo/widgets"}'

    async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        nonlocal connections, answered
        connections += 1
        while True:
            try:
                await reader.readuntil(b"\r\n\r\n")
            except asyncio.IncompleteReadError:
                break  # the client closed this idle connection
            answered += 1
            last = answered == 2  # the server ends this connection, as at its idle timeout
            writer.write(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
                         + f"Content-Length: {len(body)}\r\n".encode()
                         + (b"Connection: close\r\n" if last else b"") + b"\r\n" + body)
            await writer.drain()
            if last:
                break
        writer.close()

    server = await asyncio.start_server(serve, "127.0.0.1", 0)
    url = f"http://127.0.0.1:{server.sockets[0].getsockname()[1]}"
    forge = GitHubForge("octo/widgets", TOKEN, url, RetryPolicy(base_s=0.01))
    try:
        with capture_logs() as logs:
            for _ in range(4):
                assert await forge.default_branch() == "main"
    finally:
        await forge.close()
        server.close()
    assert _retries(logs) == [] and answered == 4
    assert connections == 2  # one until the server closed it, then one more
