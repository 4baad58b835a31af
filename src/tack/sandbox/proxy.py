"""The filtering proxy: HTTP CONNECT and absolute-URI requests to allowlisted hosts only.

It listens on a Unix socket that is bound into each sandbox; inside, `forwarder.py` relays
127.0.0.1:PROXY_PORT to it, and HTTP(S)_PROXY point there. The sandbox has no network of its
own (`--unshare-net`), so this proxy is the only way out, and a refused host gets a 403 whose
body says which WORKFLOW.md key to change.
"""

from __future__ import annotations

import asyncio
import atexit
import contextlib
import os
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

import structlog

log = structlog.get_logger(__name__)

HEADER_LIMIT = 64 * 1024
CONNECT_TIMEOUT_S = 15.0


def host_allowed(host: str, port: int, allow: tuple[str, ...]) -> bool:
    """`pypi.org` allows ports 80 and 443; `*.example.org` its subdomains; `h:8080` one port."""
    host = host.lower().rstrip(".")
    for entry in allow:
        name, _, want_port = entry.rpartition(":") if _has_port(entry) else (entry, "", "")
        if want_port:
            if int(want_port) != port:
                continue
        elif port not in (80, 443):
            continue
        if name.startswith("*."):
            if host.endswith(name[1:]) and host != name[2:]:
                return True
        elif host == name.strip("[]"):
            return True
    return False


def _has_port(entry: str) -> bool:
    head, sep, tail = entry.rpartition(":")
    return bool(sep) and tail.isdigit() and not head.endswith(":")


def _refusal(host: str, port: int) -> bytes:
    body = (f"tack sandbox: {host}:{port} is not on sandbox.allow_hosts in WORKFLOW.md; "
            "add it there to let agents reach it.\n").encode()
    return (b"HTTP/1.1 403 Forbidden\r\nContent-Type: text/plain\r\nConnection: close\r\n"
            b"Content-Length: " + str(len(body)).encode() + b"\r\n\r\n" + body)


def _bad_gateway(reason: str) -> bytes:
    body = f"tack sandbox proxy: {reason}\n".encode()
    return (b"HTTP/1.1 502 Bad Gateway\r\nConnection: close\r\nContent-Length: "
            + str(len(body)).encode() + b"\r\n\r\n" + body)


async def _pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    try:
        while data := await reader.read(65536):
            writer.write(data)
            await writer.drain()
    except (ConnectionError, OSError):
        pass
    finally:
        with contextlib.suppress(Exception):
            writer.write_eof()


@dataclass
class FilteringProxy:
    """One proxy for one allowlist, serving on `socket_path` until `close()`."""

    allow: tuple[str, ...]
    socket_path: Path = field(init=False)
    _server: asyncio.AbstractServer | None = field(default=None, init=False)
    _dir: str = field(default="", init=False)

    async def start(self) -> FilteringProxy:
        self._dir = tempfile.mkdtemp(prefix="tack-proxy-")  # 0700: only Tack's user
        self.socket_path = Path(self._dir) / "proxy.sock"
        self._server = await asyncio.start_unix_server(self._serve, path=str(self.socket_path),
                                                       limit=HEADER_LIMIT)
        # A Tack that exits without closing its proxies still leaves no socket behind.
        atexit.register(self._remove_files)
        return self

    async def close(self) -> None:
        if self._server is not None:
            self._server.close()
            with contextlib.suppress(Exception):
                await self._server.wait_closed()
        self._remove_files()
        atexit.unregister(self._remove_files)

    def _remove_files(self) -> None:
        with contextlib.suppress(OSError):
            os.unlink(self.socket_path)
        with contextlib.suppress(OSError):
            os.rmdir(self._dir)

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            await self._handle(reader, writer)
        except (ConnectionError, OSError, asyncio.IncompleteReadError, asyncio.LimitOverrunError,
                ValueError):
            pass
        finally:
            with contextlib.suppress(Exception):
                writer.close()

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        head = await reader.readuntil(b"\r\n\r\n")
        request_line, _, rest = head.partition(b"\r\n")
        method, target, version = request_line.decode("latin-1").split(" ", 2)
        if method.upper() == "CONNECT":
            host, _, port_text = target.rpartition(":")
            host, port = host.strip("[]"), int(port_text)
            forward = b""
        else:
            url = urlsplit(target)
            if url.scheme != "http" or not url.hostname:
                writer.write(_bad_gateway("only http:// URLs and CONNECT are proxied"))
                return
            host, port = url.hostname, url.port or 80
            path = (url.path or "/") + (f"?{url.query}" if url.query else "")
            # One request per connection: a kept-alive connection must not reach a second host.
            headers = [h for h in rest.split(b"\r\n") if h and not h.lower().startswith(
                (b"proxy-connection:", b"connection:", b"proxy-authorization:"))]
            forward = (f"{method} {path} {version}\r\n".encode("latin-1")
                       + b"\r\n".join(headers + [b"Connection: close"]) + b"\r\n\r\n")
        if not host_allowed(host, port, self.allow):
            log.info("sandbox.proxy.refused", host=host, port=port)
            writer.write(_refusal(host, port))
            await writer.drain()
            return
        try:
            up_reader, up_writer = await asyncio.wait_for(
                asyncio.open_connection(host, port), CONNECT_TIMEOUT_S)
        except (OSError, TimeoutError) as exc:
            writer.write(_bad_gateway(f"cannot reach {host}:{port} ({exc})"))
            await writer.drain()
            return
        if forward:
            up_writer.write(forward)
        else:
            writer.write(b"HTTP/1.1 200 Connection established\r\n\r\n")
        await writer.drain()
        try:
            await asyncio.gather(_pipe(reader, up_writer), _pipe(up_reader, writer))
        finally:
            up_writer.close()


_Key = tuple[asyncio.AbstractEventLoop, tuple[str, ...]]
_proxies: dict[_Key, asyncio.Future[FilteringProxy]] = {}


async def proxy_for(allow: tuple[str, ...]) -> FilteringProxy:
    """The running proxy of this event loop for this allowlist, started on first use."""
    key = (asyncio.get_running_loop(), tuple(sorted(allow)))
    started = _proxies.get(key)
    if started is None:  # one start even when many sandboxes ask at once
        started = _proxies[key] = asyncio.ensure_future(FilteringProxy(key[1]).start())
    return await started


async def close_proxies() -> None:
    """Stop this loop's proxies (tests, and a shutting-down orchestrator)."""
    loop = asyncio.get_running_loop()
    for key in [k for k in _proxies if k[0] is loop]:
        with contextlib.suppress(Exception):
            await (await _proxies.pop(key)).close()
