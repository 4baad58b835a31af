"""What the daemon does for each command: one workspace's app process and browser page.

Every command returns compact text for an agent and a `data` dict for `--json`. Faults are
`AppError`s with a message saying what to do; the daemon keeps serving after them.
"""

from __future__ import annotations

import json
import os
import re
import time
from pathlib import Path
from typing import Any
from urllib.parse import urljoin

import structlog
from playwright.async_api import Error as PlaywrightError
from playwright.async_api import Locator, Page

from tack.app.browser import BrowserSession
from tack.app.config import AppConfig
from tack.app.home import AppError, AppHome, expand, port_in_use
from tack.app.process import AppProcess
from tack.app.pointer import point_at
from tack.app.procs import record
from tack.app.snapshot import Digest, ref_map, refs_in
from tack.app.video import Recording

log = structlog.get_logger("tack.app.session")
_REF = re.compile(r"^(?:f\d+)?e\d+$")
Result = tuple[str, dict[str, Any]]


class AppSession:
    def __init__(self, home: AppHome, config: AppConfig) -> None:
        self.home = home
        self.config = config
        self.env = home.environment()
        self.app: AppProcess | None = None
        self.browser: BrowserSession | None = None
        self.restarts = 0
        self.refs: set[str] = set()
        self.previous_tree: str | None = None
        self.snapshot_count = 0
        self.console_seen = 0
        self.requests_seen = 0
        self.recording: Recording | None = None

    # --- the app process -------------------------------------------------------------

    @property
    def app_url(self) -> str:
        return expand(self.config.url, self.env)

    async def start(self) -> Result:
        if self.app is not None and self.app.running:
            return f"app already running: {self.app_url}", {"url": self.app_url}
        if not self.config.start:
            if self.config.cdp:
                raise AppError("`app.cdp` is set but `app.start` is empty: add the command that "
                               "starts the app to `app:` in WORKFLOW.md.")
            return ("no `app.start` in WORKFLOW.md: nothing to start; `tack app open URL` "
                    "drives any page"), {}
        port = int(self.env["TACK_APP_PORT"])
        if port_in_use(port):
            raise AppError(f"port {port} ($TACK_APP_PORT of {self.home.workspace}) is taken by "
                           "another process; stop it (`ss -ltnp | grep {port}`) or remove "
                           f"{self.home.dir / 'ports.json'} to get a new port.".replace(
                               "{port}", str(port)))
        env = {**os.environ, **self.env,
               **{k: expand(v, self.env) for k, v in self.config.env.items()}}
        self.app = AppProcess(expand(self.config.start, self.env), self.home.workspace, env,
                              self.home.app_log())
        record(self.home, "app", await self.app.start())
        ready = self.config.ready or (f"{self.config.cdp_endpoint()}/json/version"
                                      if self.config.cdp_endpoint() else self.config.url)
        started = time.monotonic()
        try:
            await self.app.wait_ready(expand(ready, self.env), self.config.start_timeout_ms)
        except AppError:
            await self.app.stop()
            record(self.home, "app", None)
            raise
        took = int((time.monotonic() - started) * 1000)
        return f"app ready in {took} ms: {self.app_url}", {"url": self.app_url, "ready_ms": took}

    async def stop_app(self) -> None:
        if self.app is not None:
            await self.app.stop()
            record(self.home, "app", None)
            self.app = None

    async def status(self) -> Result:
        running = self.app is not None and self.app.running
        page = self.browser.page if self.browser and self.browser.connected() else None
        data = {"app": "running" if running else ("not configured" if not self.config.start
                                                  else "stopped"),
                "url": self.app_url, "page": page.url if page else None,
                "browser": "connected" if page else "not started",
                "recording": self.recording is not None, "pid": os.getpid()}
        return "\n".join(f"{k}: {v}" for k, v in data.items()), data

    async def logs(self, lines: int = 50) -> Result:
        tail = self.app.tail(lines) if self.app else []
        if not tail and self.home.app_log().is_file():
            tail = self.home.app_log().read_text(errors="replace").splitlines()[-lines:]
        return "\n".join(tail) or "(no app output)", {"lines": tail}

    # --- the browser -------------------------------------------------------------------

    async def page(self) -> Page:
        """The page to drive; starts the app and browser on first use, restarts a crashed
        browser once."""
        if self.config.start and (self.app is None or not self.app.running):
            await self.start()
        if self.browser is not None and self.browser.connected():
            assert self.browser.page is not None
            return self.browser.page
        if self.browser is not None:
            if self.restarts >= 1:
                raise AppError("the browser crashed again after one restart; see "
                               f"{self.home.daemon_log()}, then `tack app stop` and retry. "
                               "A page that crashes Chromium twice is worth a bug report.")
            self.restarts += 1
            last = self.browser.page.url if self.browser.page else None
            await self.browser.close()
            record(self.home, "browser", None)
            self.browser = None
            page = await self._launch()
            if last and last.startswith("http"):
                await page.goto(last)
            return page
        return await self._launch()

    async def _launch(self) -> Page:
        cdp = self.config.cdp_endpoint()
        self.browser = BrowserSession(self.config.chromium, int(self.env.get(
            "TACK_BROWSER_PORT", self.home.ports().browser)), self.home.dir / "chromium-profile",
            expand(cdp, self.env) if cdp else None)
        try:
            await self.browser.start()
        except AppError:
            await self.browser.close()
            self.browser = None
            raise
        if self.browser.pid:
            record(self.home, "browser", self.browser.pid)
        assert self.browser.page is not None
        self.browser.page.set_default_timeout(self.config.action_timeout_ms)
        if not cdp and self.config.start:
            await self.browser.page.goto(self.app_url)
        return self.browser.page

    def locator(self, page: Page, target: str) -> Locator:
        if _REF.match(target):
            if target not in self.refs:
                raise AppError(f"unknown ref {target}: refs come from the latest `tack app "
                               "snapshot` (known: " + (", ".join(sorted(self.refs, key=_refkey)[:8])
                                                       or "none yet") + "…); take a snapshot "
                               "and use a ref from it.")
            return page.locator(f"aria-ref={target}")
        return page.locator(target)

    async def open(self, url: str | None) -> Result:
        page = await self.page()
        target = urljoin(self.app_url, url) if url else self.app_url
        await page.goto(target)
        return await self._brief(page, f"opened {page.url}")

    async def snapshot(self, scope: str | None = None, full: bool = False) -> Result:
        page = await self.page()
        if scope:
            tree = await self.locator(page, scope).aria_snapshot(mode="ai")
        else:
            tree = await page.aria_snapshot(mode="ai")
        self.refs |= refs_in(tree)
        if not scope:
            self.refs = refs_in(tree)
        self.snapshot_count += 1
        self.home.snapshots.mkdir(parents=True, exist_ok=True)
        path = self.home.snapshots / f"snapshot-{self.snapshot_count:03d}.yml"
        path.write_text(tree)
        errors, failed = self._since_last()
        digest = Digest(page.url, await page.title(), tree, str(path),
                        self.previous_tree if not scope else None, errors, failed)
        if not scope:
            self.previous_tree = tree
        data = {"url": page.url, "title": digest.title, "path": str(path),
                "refs": ref_map(tree), "errors": errors, "failed": failed}
        if full:
            return f"url: {page.url}\ntitle: {digest.title}\n{tree}", {**data, "tree": tree}
        return digest.render(self.config.snapshot_budget), data

    def _since_last(self) -> tuple[list[str], list[str]]:
        assert self.browser is not None
        console = self.browser.console[self.console_seen:]
        requests = self.browser.requests[self.requests_seen:]
        self.console_seen = len(self.browser.console)
        self.requests_seen = len(self.browser.requests)
        errors = [f"{c.kind}: {c.text}" for c in console if c.kind in ("error", "pageerror")]
        return errors, [r.line() for r in requests if r.failed]

    async def _brief(self, page: Page, done: str) -> Result:
        errors = [c for c in (self.browser.console[self.console_seen:] if self.browser else [])
                  if c.kind in ("error", "pageerror")]
        text = f"{done}\nurl: {page.url}\ntitle: {await page.title()}"
        if errors:
            text += f"\n{len(errors)} new console error(s): `tack app console --errors`"
        return text, {"url": page.url, "new_errors": len(errors)}

    async def act(self, verb: str, target: str, value: str | None = None) -> Result:
        page = await self.page()
        locator = self.locator(page, target)
        if verb in ("click", "hover"):
            await point_at(locator, verb, target)
        elif verb == "fill":
            await locator.fill(value or "")
        elif verb == "select":
            await locator.select_option(value)
        else:
            raise AppError(f"unknown action {verb!r}")
        return await self._brief(page, f"{verb} {target}: done")

    async def press(self, key: str) -> Result:
        page = await self.page()
        await page.keyboard.press(key)
        return await self._brief(page, f"pressed {key}")

    async def wait(self, text: str | None, url: str | None, gone: str | None,
                   timeout_ms: int) -> Result:
        page = await self.page()
        if url:
            await page.wait_for_url(urljoin(self.app_url, url) if url.startswith("/") else url,
                                    timeout=timeout_ms)
            what = f"url {page.url}"
        elif gone:
            await self.locator(page, gone).wait_for(state="detached", timeout=timeout_ms)
            what = f"{gone} gone"
        elif text:
            await page.get_by_text(text).first.wait_for(timeout=timeout_ms)
            what = f"text {text!r} visible"
        else:
            raise AppError("`tack app wait` needs TEXT, --url U or --gone REF.")
        return await self._brief(page, f"waited: {what}")

    async def screenshot(self, path: str | None, ref: str | None) -> Result:
        page = await self.page()
        self.home.artifacts.mkdir(parents=True, exist_ok=True)
        out = Path(path) if path else self.home.artifacts / time.strftime(
            "screenshot-%Y%m%d-%H%M%S.png")
        if not out.is_absolute():
            out = self.home.workspace / out
        out.parent.mkdir(parents=True, exist_ok=True)
        if ref:
            await self.locator(page, ref).screenshot(path=str(out))
        else:
            await page.screenshot(path=str(out))
        if out.parent != self.home.artifacts:  # evidence is kept with the run either way
            (self.home.artifacts / out.name).write_bytes(out.read_bytes())
        return f"screenshot: {out} ({out.stat().st_size} bytes)", {"path": str(out)}

    async def console(self, errors_only: bool) -> Result:
        await self.page()
        assert self.browser is not None
        entries = [c for c in self.browser.console
                   if not errors_only or c.kind in ("error", "pageerror")][-50:]
        lines = [f"{c.kind}: {c.text}" for c in entries]
        return "\n".join(lines) or "(no console messages)", {"messages": lines}

    async def network(self, failed_only: bool) -> Result:
        await self.page()
        assert self.browser is not None
        entries = [r for r in self.browser.requests if not failed_only or r.failed][-50:]
        lines = [r.line() for r in entries]
        return "\n".join(lines) or "(no requests)", {"requests": lines}

    async def eval(self, script: str) -> Result:
        page = await self.page()
        value = await page.evaluate(script)
        text = json.dumps(value, default=str)
        return text if len(text) < 4000 else text[:4000] + " …(cut)", {"value": value}

    async def record(self, action: str) -> Result:
        page = await self.page()
        if action == "start":
            if self.recording is not None:
                raise AppError("a recording is already running: `tack app record stop` first.")
            self.recording = Recording(page, self.home.artifacts)
            await self.recording.start()
            return "recording started", {}
        if self.recording is None:
            raise AppError("no recording is running: `tack app record start` first.")
        recorded = await self.recording.stop()
        self.recording = None
        return recorded.text(), {"video": str(recorded.video) if recorded.video else None,
                                 "poster": str(recorded.poster), "frames": str(recorded.frames),
                                 "seconds": round(recorded.seconds, 2),
                                 "problem": recorded.problem}

    async def close(self) -> None:
        if self.recording is not None:
            try:
                await self.recording.stop()
            except Exception:
                log.warning("recording lost at shutdown", exc_info=True)
        if self.browser is not None:
            await self.browser.close()
            record(self.home, "browser", None)
        await self.stop_app()


def _refkey(ref: str) -> tuple[int, int]:
    frame, _, element = ref.partition("e")
    return (int(frame[1:] or 0), int(element or 0))


def describe_playwright(exc: PlaywrightError, command: str) -> str:
    first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    return (f"`tack app {command}` failed: {first}. If the page changed, take a new "
            "`tack app snapshot` and use its refs.")
