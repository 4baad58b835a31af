"""The HTTP surface over a real orchestrator on a loopback port: the SSE stream, `/metrics`
(parsed by Prometheus' own parser), `/api/v1/metrics`, token auth, and `tack status`."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from tack.server.metrics import CACHE_SECONDS, MetricsSource
from tests.conftest import run_tack
from tests.e2e.harness import wait_for
from tests.server.served import ServedOrchestrator, seed_finished_runs, seed_retry, seed_running


@pytest.fixture
def served(tmp_path: Path) -> Iterator[ServedOrchestrator]:
    with ServedOrchestrator(tmp_path) as s:
        yield s


def sse_events(response: httpx.Response) -> Iterator[tuple[str, Any]]:
    event = None
    for line in response.iter_lines():
        if line.startswith("event: "):
            event = line[len("event: "):]
        elif line.startswith("data: ") and event:
            yield event, json.loads(line[len("data: "):])
            event = None


def test_event_stream_pushes_a_change_and_keeps_beating(served: ServedOrchestrator) -> None:
    with httpx.Client(base_url=served.url, timeout=20) as client:
        with client.stream("GET", "/api/v1/events") as response:
            assert response.headers["content-type"].startswith("text/event-stream")
            events = sse_events(response)
            kind, first = next(events)
            assert kind == "state" and first["running"] == []
            served.call(seed_running, served.orch, 1)
            served.changed()
            for kind, state in events:
                if state["running"]:
                    break
            assert state["running"][0]["issue_identifier"] == "TACK-1"
            assert state["running"][0]["last_event"] == "tool_call"
            # With nothing changing, snapshots keep coming (the heartbeat), each one fresh.
            stamps = {next(events)[1]["generated_at"] for _ in range(2)}
            assert len(stamps) == 2


def test_event_stream_follows_one_issue_timeline(served: ServedOrchestrator) -> None:
    served.call(seed_running, served.orch, 2)
    with httpx.Client(base_url=served.url, timeout=20) as client:
        with client.stream("GET", "/api/v1/events", params={"issue": "TACK-2"}) as response:
            events = sse_events(response)
            issue = next(payload for kind, payload in events if kind == "issue")
            assert issue["issue_identifier"] == "TACK-2"
            assert [e["event"] for e in issue["detail"]["recent_events"]] == ["tool_call"]
            entry = served.orch.running["id-2"]

            def add_event() -> None:
                served.orch.store.add_event(run_id=entry.run_id, issue_id="id-2", identifier="TACK-2",
                                            kind="message", message="all tests pass")
                served.orch._notify()

            served.call(add_event)
            for kind, payload in events:
                if kind == "issue" and len(payload["detail"]["recent_events"]) == 2:
                    break
            assert payload["detail"]["recent_events"][-1]["message"] == "all tests pass"


def test_prometheus_metrics_parse_with_the_prometheus_parser(served: ServedOrchestrator) -> None:
    served.call(seed_running, served.orch, 3)
    served.call(seed_retry, served.orch, 50)
    served.call(seed_finished_runs, served.orch.store, 60)
    response = httpx.get(served.url + "/metrics", timeout=20)
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain; version=0.0.4")
    families = {f.name: f for f in text_string_to_metric_families(response.text)}
    assert families["tack_running_sessions"].samples[0].value == 3
    assert families["tack_retry_queue_length"].samples[0].value == 1
    assert families["tack_runs"].type == "counter"
    by_status = {s.labels["status"]: s.value for s in families["tack_runs"].samples}
    assert by_status["running"] == 3 and sum(by_status.values()) == 63
    tokens = {s.labels["issue"]: s.value for s in families["tack_session_tokens"].samples}
    assert tokens == {"TACK-1": 110, "TACK-2": 220, "TACK-3": 330}
    assert families["tack_handoffs"].samples[0].value == by_status["succeeded"]
    assert 0 < families["tack_run_success_ratio"].samples[0].value < 1


def test_metrics_json_counts_runs_handoffs_and_failures(served: ServedOrchestrator) -> None:
    served.call(seed_finished_runs, served.orch.store, 200)
    with httpx.Client(base_url=served.url, timeout=20) as client:
        m = client.get("/api/v1/metrics", params={"since": "30d"}).json()
        bad = client.get("/api/v1/metrics", params={"since": "soon"})
    assert m["runs_total"] == 200
    assert m["handoffs_total"] == m["runs_by_status"]["succeeded"]
    assert m["success_rate"] == round(m["runs_by_status"]["succeeded"] / 200, 4)
    assert sum(d["runs"] for d in m["tokens_per_day"]) == 200
    assert sum(f["count"] for f in m["failure_reasons"]) == 200 - m["runs_by_status"]["succeeded"]
    assert m["retries_by_kind"] == {"failure": 200 - m["runs_by_status"]["succeeded"]}
    assert bad.status_code == 400 and "7d" in bad.json()["error"]["message"]


def test_the_metrics_cache_keeps_fresh_answers_not_one_per_window_ever_asked(
        served: ServedOrchestrator) -> None:
    # `?since=` comes from whoever calls the API: each distinct window is its own entry.
    now = [0.0]
    source = MetricsSource(served.orch, clock=lambda: now[0])
    for days in range(1, 6):
        now[0] += CACHE_SECONDS  # the answer before has gone stale
        served.call(lambda: source.get(days * 86_400.0, with_git=False))
    assert len(source) == 1
    served.call(lambda: source.get(3600.0, with_git=False))  # two fresh ones are kept
    assert len(source) == 2


def test_token_is_required_and_a_browser_trades_it_for_a_cookie(tmp_path: Path) -> None:
    with ServedOrchestrator(tmp_path, token="tok-123456789") as served:
        with httpx.Client(base_url=served.url, timeout=20) as client:
            assert client.get("/api/v1/state").status_code == 401
            assert client.get("/metrics").status_code == 401
            assert client.get("/", params={"token": "wrong-token"}).status_code == 401
            ok = client.get("/api/v1/state", headers={"Authorization": "Bearer tok-123456789"})
            assert ok.status_code == 200
            login = client.get("/", params={"token": "tok-123456789"})
            assert login.status_code == 303 and login.headers["location"] == "/"
            assert "httponly" in login.headers["set-cookie"].lower()
            # The client now holds the cookie, as a browser would: the SSE stream opens.
            with client.stream("GET", "/api/v1/events") as response:
                assert response.status_code == 200
                assert next(sse_events(response))[0] == "state"
            # The token never appears in anything served.
            assert "tok-123456789" not in client.get("/api/v1/state").text
            assert "tok-123456789" not in client.get("/").text


def test_tack_status_once_renders_the_live_state(served: ServedOrchestrator, tmp_path: Path) -> None:
    served.call(seed_running, served.orch, 2)
    served.call(seed_retry, served.orch, 77)
    served.call(lambda: seed_finished_runs(served.orch.store, 3, first=500))
    result = run_tack("status", "--once", "--url", served.url, cwd=tmp_path,
                      env={"COLUMNS": "200"})
    assert result.returncode == 0, result.stderr
    for text in ("Running sessions", "TACK-1", "TACK-2", "tool_call", "Retry queue", "TACK-77",
                 "scripted failure", "Recent runs", "TACK-501"):
        assert text in result.stdout
    # The run ids `tack feedback RUN` needs are listed with their issues.
    finished = served.orch.store.recent_runs(3)
    for row in finished:
        assert re.search(rf"\b{row['id']}\s+.\s*{row['identifier']}\b", result.stdout), row["id"]


def test_tack_runs_lists_run_ids_from_the_state_db_without_a_server(tmp_path: Path) -> None:
    with ServedOrchestrator(tmp_path) as served:
        served.call(lambda: seed_finished_runs(served.orch.store, 6, first=700))
        served.call(seed_running, served.orch, 1)
        ids = {r["id"]: r["identifier"] for r in served.orch.store.db.execute(
            "SELECT id, identifier FROM runs")}
    listed = run_tack("runs", "--json", cwd=tmp_path)
    assert listed.returncode == 0, listed.stderr
    rows = json.loads(listed.stdout)
    assert {r["run_id"]: r["issue_identifier"] for r in rows} == ids
    assert [r["run_id"] for r in rows] == sorted(ids, reverse=True)
    assert {r["status"] for r in rows} >= {"running"}
    one = json.loads(run_tack("runs", "--issue", "tack-701", "--json", cwd=tmp_path).stdout)
    assert [r["run_id"] for r in one] == sorted(
        (i for i, ident in ids.items() if ident == "TACK-701"), reverse=True)
    assert len(one) == 2
    table = run_tack("runs", "--limit", "2", cwd=tmp_path, env={"COLUMNS": "200"})
    assert table.returncode == 0, table.stderr
    newest = sorted(ids, reverse=True)[:2]
    for run_id in newest:
        assert re.search(rf"^\W*{run_id}\s+.\s*{ids[run_id]}\b", table.stdout, re.M), table.stdout
    assert "tack feedback RUN" in table.stdout
    nothing = run_tack("runs", "--issue", "TACK-9999", cwd=tmp_path)
    assert nothing.returncode == 0 and "No runs of TACK-9999" in nothing.stdout
    empty = tmp_path / "fresh"
    empty.mkdir()
    (empty / "WORKFLOW.md").write_text((tmp_path / "WORKFLOW.md").read_text())
    (empty / "repo").mkdir()
    missing = run_tack("runs", cwd=empty)
    assert missing.returncode == 2 and "No state db" in missing.stderr
    assert "Traceback" not in missing.stderr


def test_tack_status_finds_the_local_tack_up_and_explains_failures(
    served: ServedOrchestrator, tmp_path: Path
) -> None:
    (served.root / ".tack" / "up.json").write_text(json.dumps({"url": served.url + "/"}))
    found = run_tack("status", "--once", cwd=served.root, env={"COLUMNS": "200"})
    assert found.returncode == 0, found.stderr
    assert "Running sessions" in found.stdout
    empty = tmp_path / "elsewhere"
    empty.mkdir()
    missing = run_tack("status", "--once", cwd=empty)
    assert missing.returncode == 2 and "--url" in missing.stderr and "Traceback" not in missing.stderr


def test_tack_status_asks_for_the_token(tmp_path: Path) -> None:
    with ServedOrchestrator(tmp_path, token="tok-abcdefgh") as served:
        denied = run_tack("status", "--once", "--url", served.url, cwd=tmp_path)
        assert denied.returncode == 2 and "TACK_TOKEN" in denied.stderr
        allowed = run_tack("status", "--once", "--url", served.url, cwd=tmp_path,
                           env={"TACK_TOKEN": "tok-abcdefgh"})
        assert allowed.returncode == 0, allowed.stderr


def test_a_post_from_another_sites_page_is_refused(served: ServedOrchestrator) -> None:
    served.call(seed_running, served.orch, 1)
    with httpx.Client(base_url=served.url, timeout=20) as client:
        # What a browser sends when evil.example's page posts a form to the loopback server.
        forged = client.post("/api/v1/TACK-1/cancel", headers={
            "Origin": "https://evil.example", "Sec-Fetch-Site": "cross-site"})
        assert forged.status_code == 403 and forged.json()["error"]["code"] == "cross_site"
        no_fetch_meta = client.post("/api/v1/refresh", headers={"Origin": "null"})
        assert no_fetch_meta.status_code == 403
        assert "TACK-1" in [r["issue_identifier"] for r in client.get("/api/v1/state").json()
                            ["running"]]
        # The dashboard's own requests (same origin) and scripts (no Origin) still work.
        own = client.post("/api/v1/refresh", headers={"Origin": served.url,
                                                      "Sec-Fetch-Site": "same-origin"})
        assert own.is_success and client.post("/api/v1/refresh").is_success


def test_a_page_that_rebinds_its_domain_to_loopback_is_refused(served: ServedOrchestrator) -> None:
    # DNS rebinding: evil.example now resolves to 127.0.0.1, so the browser sends its Host.
    with httpx.Client(base_url=served.url, timeout=20) as client:
        rebound = client.get("/api/v1/state", headers={"Host": "evil.example:8080"})
        assert rebound.status_code == 403 and rebound.json()["error"]["code"] == "foreign_host"
        port = served.url.rsplit(":", 1)[1]
        for host in (f"localhost:{port}", f"127.0.0.1:{port}", f"[::1]:{port}"):
            assert client.get("/api/v1/state", headers={"Host": host}).is_success, host
        # Behind a proxy that rewrites Host, the browser's Sec-Fetch-Site still decides.
        proxied = client.post("/api/v1/refresh", headers={
            "Origin": "https://tack.example", "Sec-Fetch-Site": "same-origin"})
        assert proxied.is_success


def test_a_viewer_that_leaves_stops_listening(served: ServedOrchestrator) -> None:
    before = len(served.orch.listeners)
    with httpx.Client(base_url=served.url, timeout=20) as client:
        for path in ("/api/v1/events", "/ui/events"):
            with client.stream("GET", path) as response:
                # Keep the line iterator: a discarded one is closed at once, and closes the stream.
                lines = response.iter_lines()
                next(lines)
                wait_for(lambda: len(served.orch.listeners) == before + 1, 20, "a listener")
            wait_for(lambda: len(served.orch.listeners) == before, 20,
                     f"the listener of {path} to go once the client left")
