"""Feedback from the dashboard in a real browser: 👎 with a comment on a run's timeline is
stored (read back through the API and `tack feedback`'s table) and shown under the run."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx

from tests.browser.conftest import shot
from tests.server.served import ServedOrchestrator, issue

TOKEN = "tok-browser-feedback-1"
COMMENT = "The retry test sleeps for 2 s; poll with a deadline instead."


def test_thumbs_down_with_a_comment_is_stored_and_shown(tmp_path: Path, page: Any) -> None:
    with ServedOrchestrator(tmp_path, token=TOKEN) as served:
        def seed() -> int:
            iss = issue(1)
            run_id = served.orch.store.start_run(issue_id=iss.id, identifier=iss.identifier,
                                                 attempt=None)
            served.orch.store.finish_run(run_id, "succeeded", None)
            return int(run_id)

        run_id = served.call(seed)
        page.goto(f"{served.url}/?token={TOKEN}")  # trades the token for a cookie
        page.goto(f"{served.url}/#issue=TACK-1")
        page.wait_for_selector("#conn.ok", timeout=20_000)
        down = page.get_by_role("button", name=f"Thumbs down on run {run_id}", exact=True)
        down.wait_for(timeout=20_000)
        # The recent runs table offers the same buttons, labelled with the issue.
        page.get_by_role("button", name=f"Thumbs up on run {run_id} of TACK-1").wait_for(
            timeout=20_000)

        page.get_by_label("Comment (optional)").fill(COMMENT)
        page.get_by_label("Your name (optional)").fill("maya")
        down.click()
        page.wait_for_selector("#notice:text('recorded on run')", timeout=20_000)
        given = page.locator(f'#timeline-runs li[data-run="{run_id}"] li[data-sentiment="down"]')
        given.wait_for(timeout=20_000)  # pushed back by the event stream
        assert COMMENT in given.inner_text() and "maya" in given.inner_text()
        assert page.get_by_label("Comment (optional)").input_value() == ""
        shot(page, "feedback-01-thumbs-down")

        detail = httpx.get(f"{served.url}/api/v1/TACK-1", timeout=20,
                           headers={"Authorization": f"Bearer {TOKEN}"}).json()
        [feedback] = detail["runs"][0]["feedback"]
        assert (feedback["sentiment"], feedback["body"], feedback["author"]) == (
            "down", COMMENT, "maya")
        row = served.orch.store.db.execute(
            "SELECT sentiment, body, state FROM review_feedback WHERE run_id = ?",
            (run_id,)).fetchone()
        assert tuple(row) == (-1, COMMENT, "thumbs_down")
        assert not page.errors, page.errors
