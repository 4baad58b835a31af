"""`tack app` benchmark: what a snapshot costs an agent's context, and what a command costs
in time, on three real pages:

- Tack's own dashboard with 200 running sessions (tests/server/served.py),
- the fixture counter app (tests/fixtures/app),
- a large documentation page (pydoc's HTML for the standard library's `typing`).

Tokens: the digest `tack app snapshot` prints vs the full accessibility tree (`--full`).
Latency: a command through the warm daemon (one socket round trip) vs a cold Playwright
launch per command (launch Chromium, open the page, act, close), and the `tack app` CLI end to
end (Python start-up included). Memory: RSS of an idle workspace session (daemon, Chromium,
app). Goals (issue 14): digest ≤ 10% of the full tree; warm p50 ≤ 50 ms and ≥ 10× faster
than cold.

Run from the repository root: `.venv/bin/python -m bench.app` (needs /usr/bin/chromium).
"""

from __future__ import annotations

import asyncio
import os
import pydoc
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import typing
from collections.abc import Callable
from pathlib import Path
from typing import Any

import psutil

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from tack.app.browser import CHROMIUM_ARGS
from tack.app.client import call, stop
from tack.app.home import AppHome
from tack.app.procs import read_records
from tack.feedback.tokens import count_tokens, counter_name
from tests.server.served import ServedOrchestrator, seed_running

CHROMIUM = "/usr/bin/chromium"
FIXTURE = Path(__file__).resolve().parents[1] / "tests" / "fixtures" / "app"


def p50_ms(fn: Callable[[], Any], repeat: int) -> float:
    fn()
    samples = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        samples.append((time.perf_counter() - start) * 1000)
    return statistics.median(samples)


def workspace(root: Path) -> Path:
    ws = root / "ws"
    shutil.copytree(FIXTURE, ws)
    (ws / "WORKFLOW.md").write_text("---\napp:\n  start: python3 server.py $TACK_APP_PORT\n"
                                    "  ready: 'log:listening on'\n---\nprompt\n")
    return ws


def docs_page(root: Path) -> str:
    path = root / "typing.html"
    path.write_text(pydoc.html.page("typing", pydoc.html.document(typing)))
    return path.as_uri()


def tokens_on(ws: Path, url: str) -> tuple[int, int]:
    call(ws, "open", url=url)
    call(ws, "snapshot")  # the next digest then carries a diff, as in an agent's second look
    digest = call(ws, "snapshot").text
    full = call(ws, "snapshot", full=True).text
    return count_tokens(digest), count_tokens(full)


def cold_command(url: str, ref_action: bool) -> None:
    """What a tool without a daemon pays per command."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        page = browser.new_page()
        page.goto(url)
        if ref_action:
            page.locator("#add").click()
        else:
            page.aria_snapshot(mode="ai")
        browser.close()


async def click_paths(ws: Path, repeat: int = 30) -> tuple[float, float]:
    """p50 ms of one click on the daemon's own page, attached from here over CDP: Playwright's
    `click()` (waits for visible, stable, enabled, hit target) vs what the daemon does."""
    from playwright.async_api import async_playwright

    from tack.app.pointer import point_at

    async with async_playwright() as pw:
        browser = await pw.chromium.connect_over_cdp(
            f"http://127.0.0.1:{AppHome(ws).ports().browser}")
        page = browser.contexts[0].pages[0]
        button = page.locator("#add")

        async def p50(act: Callable[[], Any]) -> float:
            await act()
            samples = []
            for _ in range(repeat):
                start = time.perf_counter()
                await act()
                samples.append((time.perf_counter() - start) * 1000)
            return statistics.median(samples)

        waited = await p50(lambda: button.click())
        checked = await p50(lambda: point_at(button, "click", "#add"))
    return waited, checked  # leaving the block drops this connection, not the browser


def session_memory_mb(ws: Path) -> tuple[float, float]:
    """(PSS, RSS) summed over the session's process groups. Chromium's processes share most
    pages, so RSS counts them several times; PSS splits shared pages fairly."""
    groups = {int(str(e["pgid"])) for e in read_records(AppHome(ws)).values()}
    pss = rss = 0
    for proc in psutil.process_iter():
        try:
            if os.getpgid(proc.pid) in groups:
                info = proc.memory_full_info()
                pss, rss = pss + info.pss, rss + info.rss
        except (psutil.Error, ProcessLookupError):
            continue
    return pss / 2**20, rss / 2**20


def main() -> None:
    if not Path(CHROMIUM).exists():
        sys.exit(f"{CHROMIUM} is missing: apt-get install -y --no-install-recommends chromium")
    with tempfile.TemporaryDirectory() as tmp, ServedOrchestrator(Path(tmp) / "up") as served:
        served.call(seed_running, served.orch, 200)
        root = Path(tmp)
        ws = workspace(root)
        try:
            app_url = call(ws, "start").data["url"]
            pages = {"dashboard, 200 sessions": served.url + "/", "fixture app": app_url,
                     "docs page (pydoc typing)": docs_page(root)}
            print(f"tokens ({counter_name()}): digest vs full accessibility tree")
            for name, url in pages.items():
                if "dashboard" in name:  # wait for the live rows to arrive
                    call(ws, "open", url=url)
                    call(ws, "wait", text="TACK-200", timeout_ms=60_000)
                digest, full = tokens_on(ws, url)
                print(f"  {name:28} digest {digest:6}  full {full:7}  ratio {digest / full:6.1%}")

            call(ws, "open", url=app_url)
            call(ws, "snapshot")
            warm_click = p50_ms(lambda: call(ws, "click", target="#add"), 30)
            warm_snapshot = p50_ms(lambda: call(ws, "snapshot"), 30)
            cli = p50_ms(lambda: subprocess.run([sys.executable, "-m", "tack", "app", "click",
                                                 "#add"], cwd=ws, check=True,
                                                capture_output=True), 5)
            cold_click = p50_ms(lambda: cold_command(app_url, True), 3)
            cold_snapshot = p50_ms(lambda: cold_command(app_url, False), 3)
            print("latency p50 (fixture app)")
            print(f"  click     warm {warm_click:7.1f} ms   cold {cold_click:7.1f} ms   "
                  f"{cold_click / warm_click:5.0f}x")
            print(f"  snapshot  warm {warm_snapshot:7.1f} ms   cold {cold_snapshot:7.1f} ms   "
                  f"{cold_snapshot / warm_snapshot:5.0f}x")
            print(f"  `tack app click` CLI end to end (Python start-up included): {cli:.0f} ms")
            waited, checked = asyncio.run(click_paths(ws))
            print(f"  the click alone, in-process: Playwright's actionability wait {waited:.1f} ms,"
                  f" Tack's one check + mouse {checked:.1f} ms ({waited / checked:.1f}x)")
            time.sleep(2)  # idle: let the page and Chromium settle before reading RSS
            pss, rss = session_memory_mb(ws)
            print(f"memory of an idle workspace session (daemon + Chromium + app): "
                  f"{pss:.0f} MB PSS ({rss:.0f} MB RSS, shared pages counted per process)")
        finally:
            stop(ws)


if __name__ == "__main__":
    asyncio.set_event_loop_policy(None)
    main()
