"""Dashboard benchmark: API and page timings at 200 running sessions over 10,000 finished runs,
each printed as a ratio against a baseline (1 session, no history) measured in the same run.

Run from the repository root: `.venv/bin/python -m bench.dashboard` (the page timing needs
/usr/bin/chromium; it is skipped without it).
"""

from __future__ import annotations

import statistics
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from tack.server import events, pages
from tack.server.fragments import state_fragments
from tack.tracker.local import NewIssue
from tests.server.served import ServedOrchestrator, seed_finished_runs, seed_running

CHROMIUM = "/usr/bin/chromium"


def median_ms(fn: Callable[[], Any], repeat: int = 15) -> float:
    fn()
    samples = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        samples.append((time.perf_counter() - start) * 1000)
    return statistics.median(samples)


def page_ms(url: str, rows: int, selector: str = "#running tr[data-issue]") -> float | None:
    if not Path(CHROMIUM).exists():
        return None
    from playwright.sync_api import sync_playwright

    from tests.browser.conftest import CHROMIUM_ARGS

    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        page = browser.new_page(viewport={"width": 1400, "height": 1000})
        samples = []
        for _ in range(3):
            start = time.perf_counter()
            page.goto(url)
            page.wait_for_function(
                f"document.querySelectorAll('{selector}').length === {rows}", timeout=60_000)
            samples.append((time.perf_counter() - start) * 1000)
        browser.close()
        return statistics.median(samples)


def measure(sessions: int, runs: int) -> dict[str, float | None]:
    with tempfile.TemporaryDirectory() as tmp, ServedOrchestrator(Path(tmp)) as served:
        served.call(seed_running, served.orch, sessions)
        # The board's cards: one tracker issue per session (TACK-1.., as seed_running names them).
        served.orch.tracker.add_issues(
            [NewIssue(f"Synthetic issue number {n}", state="In Progress") for n in range(sessions)])
        issues = served.call(served.orch.tracker.fetch_issues_by_states, ["In Progress"])
        if runs:
            served.call(seed_finished_runs, served.orch.store, runs)
        client = httpx.Client(base_url=served.url, timeout=60)
        out = {
            "snapshot (in loop)": median_ms(lambda: served.call(served.orch.snapshot)),
        # What one /ui/events connection does per push: redact the snapshot, render the panels.
        "UI fragments render (in loop)": median_ms(lambda: served.call(lambda: state_fragments(
            served.orch.redactor.data(served.orch.snapshot())))),
            "GET /api/v1/state": median_ms(lambda: client.get("/api/v1/state").raise_for_status()),
            # Bypass the 5 s cache: a new window each call would be unfair, so time a cold source.
            "GET /api/v1/metrics (cold)": median_ms(
                lambda: served.call(lambda: _cold_metrics(served)), repeat=5),
            "GET /metrics": median_ms(lambda: client.get("/metrics").raise_for_status()),
            "page load to all rows": page_ms(served.url + "/", sessions),
            "board render (in loop)": median_ms(lambda: served.call(lambda: pages.board(
                issues, ["In Progress"], served.orch.redactor.data(served.orch.snapshot()),
                "builtin", "Plan Review", None))),
            "GET /issues/TACK-1": median_ms(lambda: client.get("/issues/TACK-1").raise_for_status()),
            "board load to all cards": page_ms(served.url + "/board", sessions, "#board .card"),
        }
        client.close()
        return out


async def _cold_metrics(served: ServedOrchestrator) -> Any:
    from tack.server.metrics import MetricsSource

    return await MetricsSource(served.orch).get(7 * 86400)


def renders_per_second(viewers: int, sessions: int = 200, seconds: float = 6.0) -> float:
    """Panel renders per second while `viewers` pages watch 200 sessions that change every
    tenth of a second (every open page is pushed each change, at most 4 times a second)."""
    real, count = events._panels, [0]

    def counting(*args: Any) -> Any:
        count[0] += 1
        return real(*args)

    with tempfile.TemporaryDirectory() as tmp, ServedOrchestrator(Path(tmp)) as served:
        served.call(seed_running, served.orch, sessions)
        stop = threading.Event()

        def watch() -> None:
            with httpx.Client(base_url=served.url, timeout=60) as client:
                with client.stream("GET", "/ui/events") as response:
                    for _ in response.iter_lines():
                        if stop.is_set():
                            return

        readers = [threading.Thread(target=watch, daemon=True) for _ in range(viewers)]
        events._panels = counting
        try:
            for reader in readers:
                reader.start()
            deadline = time.monotonic() + 30
            while len(served.orch.listeners) < viewers and time.monotonic() < deadline:
                time.sleep(0.05)
            count[0], start = 0, time.monotonic()
            while time.monotonic() - start < seconds:
                served.changed()
                time.sleep(0.1)
            rate = count[0] / (time.monotonic() - start)
        finally:
            events._panels = real
            stop.set()
        for reader in readers:
            reader.join(5)
        return rate


def main() -> None:
    base = measure(1, 0)
    big = measure(200, 10_000)
    print(f"{'measure':32} {'baseline ms':>12} {'200 sess + 10k runs ms':>24} {'ratio':>8}")
    for key in base:
        b, v = base[key], big[key]
        if b is None or v is None:
            print(f"{key:32} {'n/a':>12} {'n/a':>24}")
            continue
        print(f"{key:32} {b:12.1f} {v:24.1f} {v / b:8.1f}x")
    one, ten = renders_per_second(1), renders_per_second(10)
    print(f"{'panel renders/s, 1 vs 10 pages':32} {one:12.1f} {ten:24.1f} {ten / one:8.1f}x")


if __name__ == "__main__":
    main()
