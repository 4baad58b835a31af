"""The operator's pages on the server side: plan decisions through the API with the same
cross-site protection as every POST, pages that escape what trackers and agents write, the
issue stream's transcript with folded tool results, and run links."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.server.served import ServedOrchestrator
from tests.server.test_ui_events import HOSTILE, ui_events


@pytest.fixture
def served(tmp_path: Path) -> Iterator[ServedOrchestrator]:
    with ServedOrchestrator(tmp_path) as served:
        yield served


def test_a_plan_is_approved_or_rejected_through_the_api(served: ServedOrchestrator) -> None:
    tracker = served.orch.tracker
    planned = tracker.add_issue("Split the importer", labels=["plan"], state="Plan Review")
    tracker.comment_sync(planned.identifier, "## Plan\n\n1. Split.", author="tack-planner")
    path = f"/api/v1/{planned.identifier}/plan"
    with httpx.Client(base_url=served.url, timeout=20) as client:
        refused = client.post(f"{path}/approve", json={"author": "maya"},
                              headers={"Sec-Fetch-Site": "cross-site"})
        assert refused.status_code == 403 and refused.json()["error"]["code"] == "cross_site"
        assert tracker.get(planned.identifier).state == "Plan Review"
        no_reason = client.post(f"{path}/reject", data={"author": "maya", "comment": " "})
        assert no_reason.status_code == 400 and "Say why" in no_reason.json()["error"]["message"]
        approved = client.post(f"{path}/approve", json={"author": "maya"})
        assert approved.status_code == 200 and approved.json()["state"] == "Todo"
        again = client.post(f"{path}/approve", json={"author": "maya"})
        assert again.status_code == 409 and again.json()["error"]["code"] == "plan_not_in_review"
        missing = client.post("/api/v1/TACK-404/plan/approve", json={"author": "maya"})
        assert missing.status_code == 404


def test_pages_escape_tracker_text_and_the_issue_stream_folds_tool_results(
    served: ServedOrchestrator,
) -> None:
    made = served.orch.tracker.add_issue(HOSTILE, labels=["bug"], state="In Progress")
    store = served.orch.store
    run = store.start_run(issue_id=made.id, identifier=made.identifier, attempt=None)
    store.add_event(run_id=run, issue_id=made.id, identifier=made.identifier, kind="tool_result",
                    message="shell failed", data={"name": "shell", "ok": False, "output": HOSTILE})
    with httpx.Client(base_url=served.url, timeout=20) as client:
        for page in ("/board", f"/issues/{made.identifier}", "/lessons", "/questions", "/gc-report"):
            response = client.get(page)
            assert response.status_code == 200, page
            assert "<script>alert" not in response.text, page
        assert "No agent is waiting for a person." in client.get("/questions").text
        link = client.get(f"/runs/{run}", follow_redirects=False)
        assert link.status_code == 303 and link.headers["location"] == f"/issues/{made.identifier}"
        with client.stream("GET", "/ui/events",
                           params={"view": "issue", "issue": made.identifier}) as response:
            panels = {}
            for event, data in ui_events(response):
                panels[event] = data
                if {"timeline-head", "feedback", "transcript"} <= panels.keys():
                    break
    assert "running" not in panels  # only the issue page's panels on this stream
    assert '<li data-kind="tool_result" class="err">' in panels["transcript"]
    assert "<details><summary>shell failed</summary>" in panels["transcript"]
    assert "&lt;script&gt;" in panels["transcript"] and "<script>alert" not in panels["transcript"]


def test_the_principles_page_lists_principles_and_open_scan_findings(served: ServedOrchestrator) -> None:
    starter = Path(__file__).resolve().parents[2] / "src" / "tack" / "principles" / "starter_PRINCIPLES.md"
    config = served.orch.workflow.config
    target = served.orch.workflow.repo_dir() / config.principles.path
    target.write_text(starter.read_text())
    tracker = served.orch.tracker
    filed = tracker.add_issue("P003 in src/app.py", labels=["tack-scan", "principle:p003"],
                              state="Todo")
    tracker.add_issue("An old one", labels=["tack-scan"], state="Done")
    with httpx.Client(base_url=served.url, timeout=20) as client:
        html = client.get("/principles").text
    assert "<td>P001</td>" in html
    assert f'<a href="/issues/{filed.identifier}">{filed.identifier}</a>' in html
    assert "principle:p003" in html and "An old one" not in html


def test_an_unknown_or_odd_identifier_gets_a_page_not_an_error(served: ServedOrchestrator) -> None:
    with httpx.Client(base_url=served.url, timeout=20) as client:
        for ident in ("TACK-404", "..x", "%00", "a b", "%2E%2E"):
            response = client.get(f"/issues/{ident}")
            assert response.status_code == 200, ident
            assert "not in the tracker" in response.text


def test_the_questions_page_lists_open_questions_with_answers_and_the_answered_ones(
    served: ServedOrchestrator,
) -> None:
    from tack.questions.model import Asked
    from tack.questions.store import QuestionStore

    made = served.orch.tracker.add_issue("needs a decision", state="In Progress")
    store = QuestionStore(served.orch.store.db)
    waiting = store.add(Asked("Which database?", ["SQLite", "Postgres"], recommended=1),
                        run_id=None, issue_id=made.id, identifier=made.identifier,
                        default_action="wait", deadline_at=None, prior_state="In Progress")
    done = store.add(Asked("Keep the old API?", ["yes", "no"]), run_id=None, issue_id=made.id,
                     identifier=made.identifier, default_action="wait", deadline_at=None,
                     prior_state="In Progress")
    assert store.answer(done.id, "no", "alice")
    with httpx.Client(base_url=served.url, timeout=20) as client:
        page = client.get("/questions").text
    open_part, answered_part = page.split(">Answered</caption>")
    assert "Which database?" in open_part and "Keep the old API?" not in open_part
    assert f"/api/v1/questions/{waiting.id}/answer" in open_part
    assert "1. SQLite (recommended)" in open_part
    assert "Keep the old API?" in answered_part and "alice" in answered_part


def test_the_questions_page_and_the_api_group_questions_by_kind_with_a_proposal(
    served: ServedOrchestrator,
) -> None:
    """Three wordings of one question are one kind asked three times (the proposal to make
    it a tool, a principle or a runbook), with the median of their times to answer; the
    unrelated question is a kind of its own, unanswered."""
    from tack.questions.model import Asked
    from tack.questions.store import QuestionStore

    issues = [served.orch.tracker.add_issue(f"work {n}", state="In Progress") for n in range(3)]
    store = QuestionStore(served.orch.store.db)
    texts = ["Which staging database credentials should the migration tests use?",
             "Which database credentials should the staging migration tests use?",
             "Which staging database credentials do the migration tests use?"]
    waits = [60.0, 300.0, 7200.0]  # median 300 s = 5 minutes
    for n, (text, wait) in enumerate(zip(texts, waits)):
        issue = issues[n]
        q = store.add(Asked(text), run_id=None, issue_id=issue.id, identifier=issue.identifier,
                      default_action="wait", deadline_at=None, prior_state="In Progress")
        assert store.answer(q.id, "use the vault", "alice")
        with store.db:
            store.db.execute("UPDATE questions SET asked_at = ?, answered_at = ? WHERE id = ?",
                             (1000.0 + n, 1000.0 + n + wait, q.id))
    other = store.add(Asked("May I delete the legacy importer <b>module</b>?"), run_id=None,
                      issue_id=issues[0].id, identifier=issues[0].identifier,
                      default_action="wait", deadline_at=None, prior_state="In Progress")
    with httpx.Client(base_url=served.url, timeout=20) as client:
        kinds = client.get("/api/v1/questions/kinds").json()["kinds"]
        page = client.get("/questions").text
    assert [k["count"] for k in kinds] == [3, 1]
    top, single = kinds
    assert top["example"] == texts[0] and top["median_answer_s"] == 300.0
    assert top["issues"] == sorted(i.identifier for i in issues)
    assert "a tool, a principle or a runbook" in top["proposal"]
    assert single["question_ids"] == [other.id] and single["proposal"] is None
    assert single["median_answer_s"] is None
    grouped = page.split("questions by kind</caption>")[1].split("</table>")[0]
    rows = grouped.split("<tr>")[2:]
    assert texts[0] in rows[0] and "<td>3</td>" in rows[0] and "5m 00s" in rows[0]
    assert "a tool, a principle or a runbook" in rows[0]
    assert f'href="/issues/{issues[2].identifier}"' in rows[0]
    assert "&lt;b&gt;module&lt;/b&gt;" in rows[1] and "<td>1</td>" in rows[1]
    assert "runbook" not in rows[1] and "—" in rows[1]
