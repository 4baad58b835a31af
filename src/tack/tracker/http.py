"""Resilient HTTP for the hosted trackers and forges: Retry-After, rate limits, jittered
backoff on 429/5xx, ETag conditional requests and pagination helpers, shared by every adapter.

Retries live in an httpx transport so the same policy covers plain httpx and githubkit.
"""

from __future__ import annotations

import asyncio
import email.utils
import os
import random
import re
import time
from collections import OrderedDict
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from typing import Any

import httpx
import structlog

from tack.errors import TrackerError

log = structlog.get_logger(__name__)

_RETRY_STATUSES = {429, 500, 502, 503, 504}
# Replies kept for conditional requests, least recently used dropped first. Each issue read
# has its own URL, so without a bound a long-running tracker keeps one body per issue it ever
# read; the listings and the running issues' reads, which repeat, stay well within this.
ETAG_ENTRIES = 1024
# A request that may have reached the server is sent again only when repeating it is harmless.
_IDEMPOTENT = {"GET", "HEAD", "OPTIONS", "PUT", "DELETE"}
_NEVER_SENT = (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout)
# Set on a request (httpx `extensions=`) to mark a POST as safe to repeat: a GraphQL query.
IDEMPOTENT_EXTENSION = "tack_idempotent"
_MUTATION = re.compile(r"^\s*(?:#[^\n]*\n\s*)*mutation\b")
_EXACT_VAR = re.compile(r"^\$(?:\{([A-Za-z_][A-Za-z0-9_]*)\}|([A-Za-z_][A-Za-z0-9_]*))$")


@dataclass
class RetryPolicy:
    """How hard to try. `max_wait_s` caps one Retry-After/reset wait; longer ones fail fast."""

    max_attempts: int = 5
    base_s: float = 0.5
    cap_s: float = 30.0
    max_wait_s: float = 120.0
    jitter: Callable[[], float] = random.random

    def backoff(self, attempt: int) -> float:
        """Equal jitter: half the exponential step fixed, half random (attempt counts from 1)."""
        step = min(self.cap_s, self.base_s * 2.0 ** (attempt - 1))
        return step / 2 + step / 2 * self.jitter()


@dataclass
class HttpStats:
    """What a client did; tests and `tack doctor` read it, logs carry it."""

    requests: int = 0
    retries: int = 0
    not_modified: int = 0
    rate_limited: int = 0
    waits_s: list[float] = field(default_factory=list)
    # Requests held back because another request to the host drew a Retry-After.
    paused: int = 0


class HostPauses:
    """When each host may be asked again. A rate-limit reply with a wait pauses every request
    to that host from this process, not only the one that drew it: otherwise each request in
    flight draws its own 429, and each of those counts against the limit again."""

    def __init__(self) -> None:
        self._until: dict[str, float] = {}

    def pause(self, url: httpx.URL, seconds: float) -> None:
        until = time.monotonic() + seconds
        key = _host(url)
        if until > self._until.get(key, 0.0):
            self._until[key] = until

    def remaining(self, url: httpx.URL) -> float:
        return max(0.0, self._until.get(_host(url), 0.0) - time.monotonic())


# One per process: trackers, forges and GitHub App token requests to one host share it.
HOST_PAUSES = HostPauses()


def resolve_secret(value: Any) -> str | None:
    """A config secret: `$VAR`/`${VAR}` reads the environment; empty means missing."""
    if not isinstance(value, str) or not value.strip():
        return None
    match = _EXACT_VAR.match(value.strip())
    if match:
        return os.environ.get(match.group(1) or match.group(2)) or None
    return value.strip()


def retry_after_s(response: httpx.Response, *, now: float | None = None) -> float | None:
    """Seconds the server asked us to wait: Retry-After (seconds or HTTP date), or a
    rate-limit reset header when the remaining budget is zero (GitHub, GitLab, Linear)."""
    now = time.time() if now is None else now
    value = response.headers.get("retry-after")
    if value:
        value = value.strip()
        try:
            return max(0.0, float(value))
        except ValueError:
            parsed = email.utils.parsedate_to_datetime(value) if value else None
            if parsed is not None:
                return max(0.0, parsed.timestamp() - now)
    remaining = response.headers.get("x-ratelimit-remaining") or response.headers.get(
        "ratelimit-remaining"
    )
    reset = response.headers.get("x-ratelimit-reset") or response.headers.get("ratelimit-reset")
    if remaining is not None and remaining.strip() == "0" and reset:
        try:
            at = float(reset)
        except ValueError:
            return None
        if at > 1e12:  # Linear sends epoch milliseconds
            at /= 1000
        return max(0.0, at - now)
    return None


def _is_rate_limited(response: httpx.Response) -> bool:
    if response.status_code == 429:
        return True
    # GitHub reports primary and secondary limits as 403 with these headers.
    return response.status_code == 403 and (
        "retry-after" in response.headers or response.headers.get("x-ratelimit-remaining") == "0"
    )


class ResilientTransport(httpx.AsyncBaseTransport):
    """Retries 429/5xx/transport errors with Retry-After or jittered backoff, and turns GET
    requests into conditional ones: a 304 replays the cached body and costs no rate limit."""

    def __init__(
        self,
        policy: RetryPolicy | None = None,
        *,
        inner: httpx.AsyncBaseTransport | None = None,
        stats: HttpStats | None = None,
        pauses: HostPauses | None = None,
        repeatable: frozenset[str] = frozenset(),
        etag_entries: int = ETAG_ENTRIES,
    ) -> None:
        self.policy = policy or RetryPolicy()
        # Methods beyond the idempotent ones that this API's endpoints make safe to repeat.
        self.repeatable = repeatable
        self.inner = inner or httpx.AsyncHTTPTransport()
        self.stats = stats or HttpStats()
        self.pauses = pauses or HOST_PAUSES
        self._etags: OrderedDict[str, tuple[str, int, list[tuple[bytes, bytes]], bytes]] = (
            OrderedDict())
        self.etag_entries = etag_entries

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        key = f"{request.headers.get('accept', '')} {request.url}"
        cached = self._etags.get(key) if request.method == "GET" else None
        if cached is not None:
            self._etags.move_to_end(key)
            request.headers["If-None-Match"] = cached[0]
        attempt = 0
        while True:
            attempt += 1
            await self._wait_for_host(request)
            self.stats.requests += 1
            try:
                # Read the whole body here: a connection that drops mid-body is retried like
                # one that drops before the headers (tracker and forge replies are small).
                streamed = await self.inner.handle_async_request(request)
                raw = await _read_raw(streamed)
            except httpx.TransportError as exc:
                if attempt >= self.policy.max_attempts or not (
                        request.method in self.repeatable or _may_resend(request, exc)):
                    raise
                delay = self.policy.backoff(attempt)
                log.warning("http.retry", url=_safe_url(request), error=type(exc).__name__,
                            attempt=attempt, wait_s=round(delay, 3))
                await self._wait(delay)
                continue
            # Raw bytes keep Content-Encoding valid when the client decodes the body.
            response = httpx.Response(streamed.status_code, headers=streamed.headers.raw,
                                      content=raw, request=request)
            if response.status_code == 304 and cached is not None:
                self.stats.not_modified += 1
                return httpx.Response(cached[1], headers=cached[2], content=cached[3],
                                      request=request)
            limited = _is_rate_limited(response)
            if limited or response.status_code in _RETRY_STATUSES:
                wait = retry_after_s(response)
                if limited:
                    self.stats.rate_limited += 1
                if attempt >= self.policy.max_attempts or (
                    wait is not None and wait > self.policy.max_wait_s
                ):
                    return response
                delay = wait if wait is not None else self.policy.backoff(attempt)
                if wait is not None:
                    self.pauses.pause(request.url, wait)
                log.warning("http.retry", url=_safe_url(request), status=response.status_code,
                            attempt=attempt, wait_s=round(delay, 3))
                await self._wait(delay)
                continue
            if request.method == "GET" and response.status_code == 200 and "etag" in response.headers:
                self._etags[key] = (response.headers["etag"], 200, list(response.headers.raw),
                                    raw)
                self._etags.move_to_end(key)
                while len(self._etags) > self.etag_entries:
                    self._etags.popitem(last=False)
            return response

    async def _wait_for_host(self, request: httpx.Request) -> None:
        # A pause longer than this policy would wait is not honoured here: the request then
        # draws its own rate-limit reply and fails fast, as it would alone.
        while 0 < (pause := self.pauses.remaining(request.url)) <= self.policy.max_wait_s:
            self.stats.paused += 1
            await asyncio.sleep(pause)

    async def _wait(self, delay: float) -> None:
        self.stats.retries += 1
        self.stats.waits_s.append(delay)
        await asyncio.sleep(delay)

    async def aclose(self) -> None:
        """Leaves the connection pool open. githubkit builds an httpx client for each request
        and closes it, and so its transport, when that request ends: closing the pool there
        cut the connections other requests were still reading (spurious `ReadError` retries).
        Whoever creates the transport closes the pool with `shutdown()`."""

    async def shutdown(self) -> None:
        await self.inner.aclose()


async def _read_raw(response: httpx.Response) -> bytes:
    try:
        return b"".join([chunk async for chunk in response.aiter_raw()])
    finally:
        await response.aclose()


def _may_resend(request: httpx.Request, exc: httpx.TransportError) -> bool:
    """Whether a failed exchange can be tried again without doing its work twice: it never
    left this machine, or repeating it is harmless (a reply cut mid-body after a POST that
    created a comment must not create a second one)."""
    return (isinstance(exc, _NEVER_SENT) or request.method in _IDEMPOTENT
            or bool(request.extensions.get(IDEMPOTENT_EXTENSION)))


def _safe_url(request: httpx.Request) -> str:
    # Query strings may carry tokens on some APIs (GitLab private_token=), and so may a URL's
    # user info; never log them. The port stays: it tells two local services apart.
    return f"{_host(request.url)}{request.url.path}"


def _host(url: httpx.URL) -> str:
    """`scheme://host[:port]` without user info (httpx drops a scheme's default port)."""
    return f"{url.scheme}://{url.netloc.decode('ascii')}"


def status_error(provider: str, response: httpx.Response, *, auth_hint: str) -> TrackerError:
    """A TrackerError for a non-success response, written for the person who must fix it."""
    where = f"{response.request.method} {_safe_url(response.request)}"
    status = response.status_code
    if _is_rate_limited(response):
        wait = retry_after_s(response)
        after = f" The server asks to wait {wait:.0f} s." if wait is not None else ""
        return TrackerError(
            f"{provider} rate limit reached ({where} returned {status}).{after} Tack retries "
            "on the next poll; lower the polling rate (polling.interval_ms) if this repeats.",
            code="tracker_rate_limited",
        )
    if status in (401, 403):
        return TrackerError(
            f"{provider} refused the credentials ({where} returned {status}). {auth_hint}",
            code="tracker_status",
        )
    if status == 404:
        return TrackerError(
            f"{provider} returned 404 for {where}. Check the repository/project name in "
            f"WORKFLOW.md and that the token can see it. {auth_hint}",
            code="tracker_status",
        )
    return TrackerError(
        f"{provider} returned {status} for {where} after retries: {_snippet(response)}. "
        "The service may be down; Tack keeps running work and tries again on the next poll.",
        code="tracker_status",
    )


def _snippet(response: httpx.Response) -> str:
    try:
        text = response.text
    except Exception:  # a body that cannot be decoded is not worth failing over
        return "(unreadable body)"
    return " ".join(text.split())[:200] or "(empty body)"


class ApiClient:
    """An httpx client with the resilient transport and TrackerError mapping."""

    def __init__(
        self,
        *,
        provider: str,
        base_url: str,
        headers: dict[str, str],
        auth_hint: str,
        policy: RetryPolicy | None = None,
        timeout_s: float = 30.0,
    ) -> None:
        self.provider = provider
        self.auth_hint = auth_hint
        self.transport = ResilientTransport(policy)
        self.client = httpx.AsyncClient(
            base_url=base_url, headers=headers, transport=self.transport, timeout=timeout_s
        )

    @property
    def stats(self) -> HttpStats:
        return self.transport.stats

    async def _send(self, method: str, url: str, **kwargs: Any) -> httpx.Response:
        try:
            return await self.client.request(method, url, **kwargs)
        except httpx.HTTPError as exc:
            raise TrackerError(
                f"{self.provider} is unreachable ({method} {self.client.base_url.host}: "
                f"{type(exc).__name__}). Check the endpoint in WORKFLOW.md and the network; "
                "Tack tries again on the next poll.",
                code="tracker_request",
            ) from exc

    async def request(self, method: str, url: str, **kwargs: Any) -> httpx.Response:
        response = await self._send(method, url, **kwargs)
        if response.status_code >= 400:
            raise status_error(self.provider, response, auth_hint=self.auth_hint)
        return response

    async def json(self, method: str, url: str, *, missing_ok: bool = False,
                   **kwargs: Any) -> Any:
        """The decoded body; with `missing_ok`, a 404/410 is `None` instead of an error."""
        response = await self._send(method, url, **kwargs)
        if missing_ok and response.status_code in (404, 410):
            return None
        if response.status_code >= 400:
            raise status_error(self.provider, response, auth_hint=self.auth_hint)
        if response.status_code == 204 or not response.content:
            return None
        try:
            return response.json()
        except ValueError as exc:
            raise TrackerError(
                f"{self.provider} returned a body that is not JSON for {method} {url}.",
                code="tracker_response",
            ) from exc

    async def pages(
        self, url: str, params: dict[str, Any] | None = None, *, max_pages: int = 1000,
        missing_ok: bool = False,
    ) -> AsyncIterator[list[Any]]:
        """Follow RFC 8288 `Link: rel="next"` (GitHub, GitLab) one page at a time; with
        `missing_ok`, a list whose parent is gone (404/410) has no pages instead of failing."""
        next_url: str | None = url
        query: dict[str, Any] | None = params
        for _ in range(max_pages):
            if next_url is None:
                return
            response = await self._send("GET", next_url, params=query)
            if missing_ok and response.status_code in (404, 410):
                return
            if response.status_code >= 400:
                raise status_error(self.provider, response, auth_hint=self.auth_hint)
            body = response.json()
            if not isinstance(body, list):
                raise TrackerError(
                    f"{self.provider} returned a page that is not a list for {url}.",
                    code="tracker_pagination",
                )
            yield body
            next_url = response.links.get("next", {}).get("url")
            query = None  # the next link carries the query
        raise TrackerError(
            f"{self.provider} pagination for {url} did not end after {max_pages} pages.",
            code="tracker_pagination",
        )

    async def graphql(self, url: str, query: str, variables: dict[str, Any] | None = None) -> Any:
        """POST a GraphQL document; GraphQL rate-limit errors are retried like a 429."""
        for attempt in range(1, self.transport.policy.max_attempts + 1):
            response = await self._send(
                "POST", url, json={"query": query, "variables": variables or {}},
                extensions={IDEMPOTENT_EXTENSION: not _MUTATION.match(query)})
            try:
                payload = response.json() if response.content else {}
            except ValueError:
                payload = {}
            errors = payload.get("errors") if isinstance(payload, dict) else None
            if errors and _graphql_rate_limited(errors):
                self.stats.rate_limited += 1
                wait = retry_after_s(response)
                if attempt >= self.transport.policy.max_attempts or (
                    wait is not None and wait > self.transport.policy.max_wait_s
                ):
                    raise TrackerError(
                        f"{self.provider} GraphQL rate limit reached. Tack tries again on the "
                        "next poll; lower polling.interval_ms if this repeats.",
                        code="tracker_rate_limited",
                    )
                if wait is not None:
                    self.transport.pauses.pause(response.request.url, wait)
                await self.transport._wait(wait if wait is not None else
                                           self.transport.policy.backoff(attempt))
                continue
            if response.status_code >= 400:
                raise status_error(self.provider, response, auth_hint=self.auth_hint)
            if errors:
                messages = "; ".join(str(e.get("message", e)) for e in errors[:3])
                raise TrackerError(
                    f"{self.provider} GraphQL error: {messages}",
                    code="tracker_response",
                )
            if not isinstance(payload, dict) or not isinstance(payload.get("data"), dict):
                raise TrackerError(
                    f"{self.provider} GraphQL response has no `data` object.",
                    code="tracker_response",
                )
            return payload["data"]
        raise AssertionError("unreachable")

    async def aclose(self) -> None:
        await self.client.aclose()
        await self.transport.shutdown()


def _graphql_rate_limited(errors: list[Any]) -> bool:
    for error in errors:
        if not isinstance(error, dict):
            continue
        ext = error.get("extensions") or {}
        codes = {str(error.get("type", "")), str(ext.get("code", "")), str(ext.get("type", ""))}
        if codes & {"RATE_LIMITED", "RATELIMITED"}:
            return True
    return False
