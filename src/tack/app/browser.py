"""One Chromium per workspace, driven with Playwright over CDP.

Tack launches Debian's chromium itself, in its own process group with a loopback DevTools
port, and attaches with `connect_over_cdp` — the same path an Electron app's own endpoint
takes (`app.cdp`), and a process group the sweep can end after a `kill -9` of Tack.
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import structlog
from playwright.async_api import Browser, Page, Playwright, async_playwright

from tack.app.home import AppError
from tack.app.process import url_answers
from tack.app.procs import kill_group

log = structlog.get_logger("tack.app.browser")

CHROMIUM_ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
    "--disable-component-update", "--disable-sync", "--no-first-run",
    "--no-default-browser-check", "--disable-dev-shm-usage",
]
_TMPDIR_MAX = 50
INSTALL_HINT = ("install Debian's chromium (`apt-get install -y --no-install-recommends "
                "chromium`) or point `app.chromium` in WORKFLOW.md at a Chromium binary; "
                "`tack doctor` checks it")


def _chromium_env() -> dict[str, str]:
    env = dict(os.environ)
    # Chromium keeps a singleton socket under $TMPDIR and aborts (SIGABRT) when that path
    # overflows a socket address; an agent session's TMPDIR can be that deep.
    if len(env.get("TMPDIR", "")) > _TMPDIR_MAX:
        env.pop("TMPDIR")
    return env


@dataclass
class ConsoleEntry:
    kind: str
    text: str


@dataclass
class RequestEntry:
    method: str
    url: str
    status: int | None = None
    failure: str | None = None

    @property
    def failed(self) -> bool:
        return self.failure is not None or (self.status is not None and self.status >= 400)

    def line(self) -> str:
        outcome = self.failure or (str(self.status) if self.status is not None else "pending")
        return f"{self.method} {outcome} {self.url}"


class BrowserSession:
    """A page to drive plus what it said (console) and fetched (network)."""

    def __init__(self, chromium: str, port: int, profile: Path, cdp: str | None = None) -> None:
        self.chromium = chromium
        self.port = port
        self.profile = profile
        self.cdp = cdp  # an app's own endpoint: attach, never launch
        self.proc: subprocess.Popen[bytes] | None = None
        self.pw: Playwright | None = None
        self.browser: Browser | None = None
        self.page: Page | None = None
        self.console: list[ConsoleEntry] = []
        self.requests: list[RequestEntry] = []

    @property
    def endpoint(self) -> str:
        return self.cdp or f"http://127.0.0.1:{self.port}"

    @property
    def pid(self) -> int | None:
        return self.proc.pid if self.proc else None

    def connected(self) -> bool:
        if self.proc is not None and self.proc.poll() is not None:
            return False
        return self.browser is not None and self.browser.is_connected() and \
            self.page is not None and not self.page.is_closed()

    async def start(self) -> None:
        if self.cdp is None:
            if not Path(self.chromium).exists():
                raise AppError(f"Chromium is missing at {self.chromium}: {INSTALL_HINT}.")
            self.proc = self._launch()
            await self._wait_endpoint(30)
        self.pw = await async_playwright().start()
        try:
            self.browser = await self.pw.chromium.connect_over_cdp(self.endpoint, timeout=30_000)
        except Exception as exc:
            raise AppError(f"could not attach to the DevTools endpoint {self.endpoint}: {exc}. "
                           "Check that the app (or Chromium) was started with "
                           "--remote-debugging-port and that `app.cdp` names that port.") from exc
        context = self.browser.contexts[0] if self.browser.contexts else \
            await self.browser.new_context()
        pages = [p for p in context.pages if not p.url.startswith("devtools://")]
        self.page = pages[0] if pages else await context.new_page()
        self._watch(self.page)
        # An agent edits the code between two looks; a cached script would show the old app.
        cdp = await context.new_cdp_session(self.page)
        await cdp.send("Network.enable")
        await cdp.send("Network.setCacheDisabled", {"cacheDisabled": True})

    def _launch(self) -> subprocess.Popen[bytes]:
        return subprocess.Popen(
            [self.chromium, *CHROMIUM_ARGS, f"--remote-debugging-port={self.port}",
             "--remote-debugging-address=127.0.0.1", f"--user-data-dir={self.profile}",
             "about:blank"],
            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
            start_new_session=True, env=_chromium_env())

    async def _wait_endpoint(self, seconds: float) -> None:
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            if self.proc is not None and self.proc.poll() is not None:
                raise AppError(f"Chromium ({self.chromium}) exited with code "
                               f"{self.proc.returncode} at start; run it by hand with "
                               "--headless to see why, or " + INSTALL_HINT + ".")
            if await asyncio.to_thread(url_answers, f"{self.endpoint}/json/version"):
                return
            await asyncio.sleep(0.1)
        raise AppError(f"Chromium's DevTools endpoint {self.endpoint} did not answer within "
                       f"{seconds:.0f} s; is port {self.port} taken by another process?")

    def _watch(self, page: Page) -> None:
        def on_console(message: Any) -> None:
            self.console.append(ConsoleEntry(message.type, message.text))

        def on_pageerror(error: Any) -> None:
            self.console.append(ConsoleEntry("pageerror", str(error)))

        by_request: dict[int, RequestEntry] = {}

        def on_request(request: Any) -> None:
            entry = RequestEntry(request.method, request.url)
            by_request[id(request)] = entry
            self.requests.append(entry)

        def on_response(response: Any) -> None:
            entry = by_request.get(id(response.request))
            if entry is not None:
                entry.status = response.status

        def on_failed(request: Any) -> None:
            entry = by_request.get(id(request))
            if entry is not None:
                entry.failure = request.failure or "failed"

        page.on("console", on_console)
        page.on("pageerror", on_pageerror)
        page.on("request", on_request)
        page.on("response", on_response)
        page.on("requestfailed", on_failed)

    async def close(self) -> None:
        try:
            if self.browser is not None and self.cdp is None:
                await asyncio.wait_for(self.browser.close(), 5)
        except Exception:
            log.debug("browser close failed", exc_info=True)
        try:
            if self.pw is not None:
                await asyncio.wait_for(self.pw.stop(), 5)
        except Exception:
            log.debug("playwright stop failed", exc_info=True)
        if self.proc is not None:
            await asyncio.to_thread(kill_group, self.proc.pid)
            await asyncio.to_thread(self.proc.wait)
        self.browser = self.page = self.pw = None
