"""The dashboard's htmx side: fragments escape what agents write and carry no secret,
`/ui/events` sends named HTML fragments only when they change, the vendored htmx files are
served as JavaScript, and the feedback endpoint takes the buttons' form-encoded bodies."""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tack.redact import Redactor
from tack.server import fragments
from tack.server.events import Shared, sse_html
from tests.server.served import ServedOrchestrator, issue, seed_running

SECRET = "ui-Fragment-Secret-31337"
HOSTILE = '<script>alert("x")</script><img src=x onerror=alert(1)>'
STATIC = Path(__file__).resolve().parents[2] / "src" / "tack" / "server" / "static"


def ui_events(response: httpx.Response) -> Iterator[tuple[str, str]]:
    """(event, data) per SSE message, data lines joined by newlines as EventSource does."""
    event, data = None, []
    for line in response.iter_lines():
        if line.startswith("event: "):
            event = line[len("event: "):]
        elif line.startswith("data: "):
            data.append(line[len("data: "):])
        elif line == "" and event:
            yield event, "\n".join(data)
            event, data = None, []


def hostile_snapshot() -> dict[str, object]:
    row = {"issue_identifier": "TACK-9", "title": HOSTILE, "state": "In Progress", "turn_count": 2,
           "last_event": "tool_call", "last_message": f"echo {SECRET} {HOSTILE}",
           "last_event_at": "2025-01-02T03:04:05Z", "tokens": {"total_tokens": 1234},
           "elapsed_seconds": 75}
    return {"generated_at": "2025-01-02T03:04:05Z", "counts": {"running": 1, "retrying": 1},
            "running": [row],
            "retrying": [{"issue_identifier": "TACK-8", "attempt": 2, "due_at": "2025-01-02T03:05:00Z",
                          "due_in_ms": 5000, "kind": "failure", "error": f"{SECRET} {HOSTILE}"}],
            "recent_handoffs": [], "recent_runs": [{"run_id": 4, "issue_identifier": "TACK-9",
                                                    "status": "failed", "error": HOSTILE}],
            "codex_totals": {"total_tokens": 1234, "seconds_running": 3}, "limits": {},
            "health": {"config_error": f"bad key {HOSTILE}"}}


def test_fragments_escape_html_and_carry_no_secret() -> None:
    snapshot = Redactor([SECRET], environ={}).data(hostile_snapshot())
    detail = Redactor([SECRET], environ={}).data({
        "status": "running",
        "runs": [{"run_id": 4, "status": "failed", "turn_count": 1, "tokens": {"total_tokens": 9},
                  "feedback": [{"sentiment": "down", "author": HOSTILE, "body": SECRET, "at": None}]}],
        "recent_events": [{"at": None, "event": "tool_call", "message": "",
                           "data": {"name": HOSTILE, "arguments": {"command": f"echo {SECRET}"}}}]})
    html = "".join([*fragments.state_fragments(snapshot).values(),
                    *fragments.issue_fragments("TACK-9", detail).values()])
    assert SECRET not in html and "***" in html
    assert "<script" not in html and "<img" not in html
    assert "&lt;script&gt;" in html
    assert 'aria-label="Cancel the run of TACK-9"' in html
    assert 'aria-label="Thumbs down on run 4 of TACK-9"' in html


def test_multi_line_html_is_framed_as_several_data_lines() -> None:
    framed = sse_html("timeline", "<li>one\ntwo\r\nthree\rfour</li>")
    assert framed == ("event: timeline\ndata: <li>one\ndata: two\ndata: three\ndata: four</li>\n\n")


@pytest.fixture
def served(tmp_path: Path) -> Iterator[ServedOrchestrator]:
    with ServedOrchestrator(tmp_path) as s:
        yield s


def test_ui_events_sends_named_fragments_and_skips_unchanged_ones(served: ServedOrchestrator) -> None:
    served.orch.redactor.add(SECRET)
    with httpx.Client(base_url=served.url, timeout=20) as client, \
            client.stream("GET", "/ui/events") as response:
        assert response.headers["content-type"].startswith("text/event-stream")
        events = ui_events(response)
        first = dict(next(events) for _ in range(8))
        assert set(first) == {"totals", "health", "running", "retrying", "held", "handoffs",
                              "runs", "questions"}
        assert "No held issues." in first["held"]
        assert "No agents running." in first["running"]
        # Nothing changes but the clock: the next heartbeats re-send the totals, not the tables.
        following = []
        for event, _ in events:
            following.append(event)
            if following.count("totals") == 2:
                break
        assert following == ["totals", "totals"]

        def add_session() -> None:
            [entry] = seed_running(served.orch, 1)
            entry.last_message = f"line one {SECRET}\nline two <b>not bold</b>"
        served.call(add_session)
        served.changed()
        running = next(data for event, data in events if event == "running")
        assert 'data-issue="TACK-1"' in running
        assert "line one ***\nline two &lt;b&gt;not bold&lt;/b&gt;" in running
        assert SECRET not in running


def test_ui_events_follows_one_issue(served: ServedOrchestrator) -> None:
    served.call(seed_running, served.orch, 2)
    with httpx.Client(base_url=served.url, timeout=20) as client, \
            client.stream("GET", "/ui/events", params={"issue": "TACK-2"}) as response:
        seen: dict[str, str] = {}
        for event, data in ui_events(response):
            seen[event] = data
            if {"timeline-head", "feedback", "timeline"} <= set(seen):
                break
        assert 'id="timeline-issue">TACK-2<' in seen["timeline-head"]
        assert "Cancel the run of TACK-2" in seen["timeline-head"]
        assert 'data-kind="tool_call"' in seen["timeline"] and "shell" in seen["timeline"]
        assert re.search(r'aria-label="Thumbs down on run \d+"', seen["feedback"])


def test_vendored_htmx_is_served_as_javascript(served: ServedOrchestrator) -> None:
    vendored = (STATIC / "VENDORED.md").read_text()
    with httpx.Client(base_url=served.url, timeout=20) as client:
        for name in ("htmx.min.js", "sse.min.js"):
            response = client.get(f"/static/{name}")
            assert response.status_code == 200, name
            assert response.headers["content-type"].startswith("text/javascript")
            assert hashlib.sha256(response.content).hexdigest() in vendored, name
        assert client.get("/static/VENDORED.md").status_code == 404
        page = client.get("/").text
        assert '<script src="/static/htmx.min.js?v=2.0.11">' in page and 'sse-connect="/ui/events"' in page


def test_feedback_takes_the_buttons_form_encoded_body(served: ServedOrchestrator) -> None:
    def seed() -> int:
        iss = issue(1)
        run_id = served.orch.store.start_run(issue_id=iss.id, identifier=iss.identifier, attempt=None)
        served.orch.store.finish_run(run_id, "succeeded", None)
        return int(run_id)

    run_id = served.call(seed)
    with httpx.Client(base_url=served.url, timeout=20) as client:
        given = client.post(f"/api/v1/runs/{run_id}/feedback",
                            data={"sentiment": "down", "comment": "too slow", "author": ""})
        assert given.status_code == 201, given.text
        assert given.json()["comment"] == "too slow" and given.json()["author"] == "dashboard"
        bad = client.post(f"/api/v1/runs/{run_id}/feedback", data={"sentiment": "sideways"})
        assert bad.status_code == 400 and "sentiment" in bad.json()["error"]["message"]
        as_json = client.post(f"/api/v1/runs/{run_id}/feedback", json={"sentiment": "up"})
        assert as_json.status_code == 201


def test_open_streams_share_one_computation_per_change_and_heartbeat() -> None:
    class Orch:
        changes = 0

    now = [100.0]
    shared = Shared(Orch(), size=2, clock=lambda: now[0])  # type: ignore[arg-type]
    computed: list[str] = []

    def compute(key: str) -> str:
        computed.append(key)
        return f"{key}#{len(computed)}"

    pages = [shared.get("ui", lambda: compute("ui")) for _ in range(5)]  # five open pages
    assert pages == ["ui#1"] * 5 and computed == ["ui"]
    Orch.changes += 1  # the orchestrator reports a change: the next page renders again
    assert shared.get("ui", lambda: compute("ui")) == "ui#2"
    now[0] += 0.5  # same heartbeat period, no change: still shared
    assert shared.get("ui", lambda: compute("ui")) == "ui#2"
    now[0] += 1.0  # the next heartbeat period catches changes nobody reported
    assert shared.get("ui", lambda: compute("ui")) == "ui#3"
    # Keys are separate (one per followed issue), and only `size` of them are kept.
    assert shared.get(("ui", "TACK-1"), lambda: compute("t1")) == "t1#4"
    assert shared.get(("ui", "TACK-2"), lambda: compute("t2")) == "t2#5"
    assert shared.get("ui", lambda: compute("ui")) == "ui#6"  # the oldest key was dropped
    assert shared.get(("ui", "TACK-2"), lambda: compute("t2")) == "t2#5"
    Orch.changes += 1  # what was computed before a change is dropped, not kept until evicted
    assert shared.get(("ui", "TACK-2"), lambda: compute("t2")) == "t2#7"
    assert list(shared._memo) == [("ui", "TACK-2")]
