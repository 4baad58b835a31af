"""The dashboard in a real browser (Debian's chromium via Playwright): a run started through
the CLI appears live, its timeline updates, cancel works and holds the issue until *Retry
now* releases it; accessibility basics; and a page that holds 200 running sessions over a
store of 10,000 finished runs."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tack.testing import StubModelServer
from tests.browser.conftest import shot
from tests.e2e.harness import Project, TackUp, wait_for
from tests.server.served import ServedOrchestrator, seed_finished_runs, seed_retry, seed_running

SECRET = "br0wser-Secret-Value-77"
ROWS = "#running tr[data-issue]"


@pytest.fixture
def stub() -> Iterator[StubModelServer]:
    # The first answer is slow, so the page is already following the issue when the agent's
    # tool call lands; then the model hangs until the run is canceled.
    server = StubModelServer({"conversations": [{"steps": [
        {"delay_ms": 3000, "tool_calls": [{"name": "shell", "arguments": {"command": f"echo {SECRET}"}}]},
        {"hang": True},
    ]}]})
    server.start_in_thread()
    yield server
    server.stop_thread()


def test_a_cli_run_appears_live_its_timeline_updates_and_cancel_works(
    tmp_path: Path, stub: StubModelServer, page: Any
) -> None:
    project = Project(tmp_path, stub.url)
    with TackUp(project, env={"DEPLOY_API_TOKEN": SECRET}) as up:
        page.goto(up.url + "/")
        page.wait_for_selector("#conn.ok", timeout=20_000)
        assert page.locator(ROWS).count() == 0
        ident = project.add_issue("show me live")
        wait_for(lambda: ident in up.running_ids(), 20, "the run in the API")
        seen_in_api = time.monotonic()
        row = page.locator(f'#running tr[data-issue="{ident}"]')
        row.wait_for(timeout=20_000)  # pushed by the stream: the page neither reloads nor polls
        print(f"row on the page {time.monotonic() - seen_in_api:.3f}s after the API showed it")
        shot(page, "live-01-running")

        row.get_by_role("link", name=ident).click()
        page.wait_for_selector("#timeline:not([hidden])")
        page.wait_for_selector("#timeline-events li[data-kind]", timeout=20_000)
        page.wait_for_selector('#timeline-events li[data-kind="tool_call"]', timeout=20_000)
        page.wait_for_selector('#timeline-events li[data-kind="tool_result"]', timeout=20_000)
        timeline = page.inner_text("#timeline-events")
        assert "shell" in timeline and "***" in timeline
        shot(page, "live-02-timeline")

        row.get_by_role("button", name=f"Cancel the run of {ident}").click()
        page.wait_for_selector("#notice:text('Cancel requested for')")
        # The orchestrator stops the run and holds the issue (no retry, no new dispatch).
        page.wait_for_selector("#timeline-events li:has-text('canceled by operator')", timeout=20_000)
        page.wait_for_selector(f"#recent-runs tr:has-text('{ident}'):has-text('canceled')", timeout=20_000)
        assert any(r["status"] == "canceled" for r in up.detail(ident)["runs"])
        shot(page, "live-03-canceled")
        # The cancel holds the issue; the page lists it and Retry now releases it.
        held = page.locator(f'#held tr[data-issue="{ident}"]')
        held.wait_for(timeout=20_000)
        page.wait_for_selector("#timeline-status:text-is('held')", timeout=20_000)
        assert [h["issue_identifier"] for h in up.state()["held"]] == [ident]
        held.get_by_role("button", name=f"Release {ident} and retry it now").click()
        held.wait_for(state="detached", timeout=20_000)
        wait_for(lambda: not up.state()["held"], 20, "the hold released")
        assert SECRET not in page.content()
        assert not page.errors, page.errors


def _contrast(page: Any, selector: str) -> float:
    return float(page.evaluate(
        """sel => {
          const lum = c => { const [r, g, b] = c.match(/[\\d.]+/g).slice(0, 3).map(Number).map(v => {
            v /= 255; return v <= 0.03928 ? v / 12.92 : Math.pow((v + 0.055) / 1.055, 2.4); });
            return 0.2126 * r + 0.7152 * g + 0.0722 * b; };
          const el = document.querySelector(sel);
          let bgEl = el, bg = "rgba(0, 0, 0, 0)";
          while (bgEl && /rgba\\(.*, 0\\)$|transparent/.test(bg)) { bg = getComputedStyle(bgEl).backgroundColor; bgEl = bgEl.parentElement; }
          const a = lum(getComputedStyle(el).color), b = lum(bg);
          return (Math.max(a, b) + 0.05) / (Math.min(a, b) + 0.05);
        }""",
        selector,
    ))


@pytest.mark.parametrize("scheme", ["light", "dark"])
def test_accessibility_labels_keyboard_and_contrast(tmp_path: Path, page: Any, scheme: str) -> None:
    with ServedOrchestrator(tmp_path) as served:
        served.call(seed_running, served.orch, 3)
        served.call(seed_retry, served.orch, 40)
        page.emulate_media(color_scheme=scheme)
        page.goto(served.url + "/")
        page.wait_for_selector(ROWS)
        page.wait_for_selector("#retrying tr[data-issue]")
        assert page.get_attribute("html", "lang") == "en"
        unnamed = page.evaluate(
            """() => [...document.querySelectorAll('button, input, select, a[href]')].filter(el => {
                 const byLabel = el.id && document.querySelector(`label[for="${el.id}"]`);
                 return !(el.getAttribute('aria-label') || el.textContent.trim() || byLabel);
               }).map(el => el.outerHTML)"""
        )
        assert unnamed == []
        reached: list[str] = []
        for _ in range(30):
            page.keyboard.press("Tab")
            reached.append(page.evaluate(
                "() => document.activeElement.getAttribute('aria-label')"
                " || document.activeElement.textContent.trim() || document.activeElement.id"))
        for control in ("Poll the tracker and reconcile now", "filter", "TACK-1",
                        "Cancel the run of TACK-1", "Retry TACK-40 now"):
            assert control in reached, f"{control!r} is not reachable by keyboard: {reached}"
        # Focus survives the live updates (rows are updated in place).
        page.focus('button[aria-label="Cancel the run of TACK-2"]')
        before = page.inner_text("#generated")
        page.wait_for_function(f"document.getElementById('generated').textContent !== {before!r}")
        assert page.evaluate("document.activeElement.getAttribute('aria-label')") == "Cancel the run of TACK-2"
        for selector in ("body", "th", "#running td", "#running a", "#running button.danger",
                         "#refresh", "#conn", "footer"):
            assert _contrast(page, selector) >= 4.5, f"{selector} contrast too low in {scheme}"
        shot(page, f"a11y-{scheme}")


def test_page_holds_200_sessions_and_10k_finished_runs(tmp_path: Path, page: Any) -> None:
    with ServedOrchestrator(tmp_path) as served:
        served.call(seed_running, served.orch, 200)
        served.call(seed_finished_runs, served.orch.store, 10_000)
        page.goto(served.url + "/")
        page.wait_for_function(f"document.querySelectorAll('{ROWS}').length === 200", timeout=30_000)
        page.wait_for_function("document.body.dataset.metricsLoaded === '1'", timeout=30_000)
        assert page.locator("#chart-days svg rect.bar").count() >= 7
        assert page.locator("#handoffs tr").count() == 10
        before = page.inner_text("#generated")
        page.wait_for_function(f"document.getElementById('generated').textContent !== {before!r}",
                               timeout=30_000)
        assert page.locator(ROWS).count() == 200
        page.fill("#filter", "TACK-17")
        assert page.locator(ROWS).count() == 11  # TACK-17 and TACK-170..179
        page.fill("#filter", "")
        page.locator('#running a[href="#issue=TACK-199"]').click()
        page.wait_for_selector('#timeline-events li[data-kind="tool_call"]', timeout=30_000)
        shot(page, "scale-200-sessions")
        assert not page.errors, page.errors


def _hold(orch: Any, n: int) -> str:
    """What an operator's cancel leaves: a canceled run and the issue held (as `_on_exit` does)."""
    ident = f"TACK-{n}"
    run_id = orch.store.start_run(issue_id=f"id-{n}", identifier=ident, attempt=None,
                                  issue_state="In Progress")
    orch.store.finish_run(run_id, "canceled", "canceled: operator")
    orch.held[f"id-{n}"] = (ident, "in progress")
    orch._save_held()
    orch._notify()
    return ident


def test_a_held_issue_is_listed_and_retry_now_releases_it(tmp_path: Path, page: Any) -> None:
    with ServedOrchestrator(tmp_path) as served:
        page.goto(served.url + "/")
        page.wait_for_selector("#conn.ok", timeout=20_000)
        page.wait_for_selector("#held tr.empty:has-text('No held issues.')")
        ident = served.call(_hold, served.orch, 31)
        row = page.locator(f'#held tr[data-issue="{ident}"]')
        row.wait_for(timeout=20_000)
        assert "in progress" in row.inner_text()
        row.get_by_role("link", name=ident).click()
        page.wait_for_selector("#timeline-status:text-is('held')", timeout=20_000)
        assert page.locator("#timeline-retry").is_visible()
        shot(page, "held-01-listed")

        row.get_by_role("button", name=f"Release {ident} and retry it now").click()
        page.wait_for_selector(f"#notice:text('{ident} released')")
        page.wait_for_selector(f'#held tr[data-issue="{ident}"]', state="detached", timeout=20_000)
        page.wait_for_selector("#timeline-status:text-is('released')", timeout=20_000)
        assert served.orch.held == {}
        state = httpx.get(served.url + "/api/v1/state", timeout=10).json()
        assert state["held"] == []
        assert served.orch.store.get_meta("held", {}) == {}  # a restart does not hold it again
        shot(page, "held-02-released")
        assert not page.errors, page.errors
