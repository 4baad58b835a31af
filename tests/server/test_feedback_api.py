"""`POST /api/v1/runs/{run_id}/feedback` over a real orchestrator and server: stored in the
same `review_feedback` table as `tack feedback`, listed per run in the issue detail, behind
the bearer token, with clear 400/404 answers."""

from __future__ import annotations

from pathlib import Path

import httpx

from tack.store.feedback import FeedbackStore
from tests.conftest import run_tack
from tests.server.served import ServedOrchestrator, issue

TOKEN = "tok-feedback-123456"
AUTH = {"Authorization": f"Bearer {TOKEN}"}


def finished_run(served: ServedOrchestrator, n: int = 1) -> int:
    def seed() -> int:
        iss = issue(n)
        run_id = served.orch.store.start_run(issue_id=iss.id, identifier=iss.identifier,
                                             attempt=None)
        served.orch.store.finish_run(run_id, "succeeded", None)
        return int(run_id)

    return int(served.call(seed))


def test_feedback_is_stored_like_tack_feedback_and_shown_per_run(tmp_path: Path) -> None:
    with ServedOrchestrator(tmp_path, token=TOKEN) as served:
        run_id = finished_run(served)
        with httpx.Client(base_url=served.url, timeout=20, headers=AUTH) as client:
            given = client.post(f"/api/v1/runs/{run_id}/feedback", json={
                "sentiment": "down", "comment": "The test sleeps; poll with a deadline.",
                "author": "maya"})
            assert given.status_code == 201, given.text
            assert given.json()["run_id"] == run_id and given.json()["sentiment"] == "down"
            row_id = given.json()["id"]

            cli = run_tack("feedback", str(run_id), "--up", "--author", "li",
                           "--workflow", str(served.workflow), cwd=tmp_path)
            assert cli.returncode == 0, cli.stderr

            [run] = client.get("/api/v1/TACK-1").raise_for_status().json()["runs"]
            assert [(f["sentiment"], f["body"], f["author"]) for f in run["feedback"]] == [
                ("down", "The test sleeps; poll with a deadline.", "maya"), ("up", None, "li")]
            assert all(f["at"] for f in run["feedback"])

        store = FeedbackStore(served.orch.store.path)
        try:
            stored = [s.item for s in store.feedback(run_id=run_id)]
        finally:
            store.db.close()
        assert [(i.sentiment, i.state, i.author) for i in stored] == [
            (-1, "thumbs_down", "maya"), (1, "thumbs_up", "li")]
        assert served.orch.store.db.execute(
            "SELECT run_id FROM review_feedback WHERE id = ?", (row_id,)).fetchone()[0] == run_id


def test_feedback_needs_the_token_a_known_run_and_valid_input(tmp_path: Path) -> None:
    with ServedOrchestrator(tmp_path, token=TOKEN) as served:
        run_id = finished_run(served)
        url = f"{served.url}/api/v1/runs/{run_id}/feedback"
        assert httpx.post(url, json={"sentiment": "up"}, timeout=20).status_code == 401
        with httpx.Client(timeout=20, headers=AUTH) as client:
            for bad_run in ("999", "abc"):
                missing = client.post(f"{served.url}/api/v1/runs/{bad_run}/feedback",
                                      json={"sentiment": "up"})
                assert missing.status_code == 404
                assert missing.json()["error"]["code"] == "run_not_found"
            cases = [
                ({"sentiment": "meh"}, '"sentiment" must be "up" or "down"'),
                ({"comment": "no thumbs"}, '"sentiment" must be "up" or "down"'),
                ({"sentiment": "up", "comment": 3}, '"comment" must be a string'),
                ({"sentiment": "up", "rating": 5}, "unknown field(s) rating"),
                (["up"], "must be a JSON object"),
            ]
            for body, message in cases:
                bad = client.post(url, json=body)
                assert bad.status_code == 400, (body, bad.text)
                assert message in bad.json()["error"]["message"], bad.json()
            not_json = client.post(url, content=b"sentiment=up")
            assert not_json.status_code == 400 and "not JSON" in not_json.text
            assert client.post(url, json={"sentiment": "up", "comment": "x" * 10_001}
                               ).status_code == 400
            detail = client.get(f"{served.url}/api/v1/TACK-1").json()
            assert detail["runs"][0]["feedback"] == []  # nothing bad was stored
