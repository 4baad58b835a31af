"""GitLab (REST v4) and Jira (REST v3) trackers over real HTTP against a loopback server
answering with the shapes of their published APIs."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tack.errors import TrackerError
from tack.tracker import build_tracker
from tests.tracker_remote.conftest import TOKEN, write_workflow
from tests.tracker_remote.fake_apis import TS, FakeApis


def gl_issue(iid: int, *, labels: list[str] = (), state: str = "opened",
             description: str | None = None) -> dict[str, Any]:
    return {"id": 9000 + iid, "iid": iid, "project_id": 7, "title": f"GL {iid}",
            "description": description, "state": state, "labels": list(labels),
            "assignee": {"id": 42, "username": "ana"} if iid == 1 else None,
            "web_url": f"https://gitlab.example/acme/app/-/issues/{iid}", "created_at": TS,
            "updated_at": TS, "references": {"full": f"acme/app#{iid}"}}


def jira_issue(n: int, status: str = "To Do", *, blocked_by: tuple[str, str] | None = None,
               priority: str = "Medium") -> dict[str, Any]:
    links = []
    if blocked_by:
        links.append({"id": "1", "type": {"name": "Blocks", "inward": "is blocked by",
                                          "outward": "blocks"},
                      "inwardIssue": {"id": "100" + blocked_by[0][-1], "key": blocked_by[0],
                                      "fields": {"status": {"name": blocked_by[1]}}}})
    return {"id": f"100{n}", "key": f"ENG-{n}", "self": "", "fields": {
        "summary": f"Jira {n}", "status": {"name": status}, "labels": ["Infra"],
        "priority": {"id": "3", "name": priority}, "assignee": None,
        "created": "2024-02-01T09:00:00.000+0000", "updated": "2024-02-02T09:00:00.000+0000",
        "description": {"type": "doc", "version": 1, "content": [
            {"type": "paragraph", "content": [{"type": "text", "text": f"Body {n}"}]}]},
        "issuelinks": links}}


async def test_gitlab_issues_pages_states_blockers_move_and_notes(
    tmp_path: Path, fake: FakeApis, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("GITLAB_TOKEN", TOKEN)
    for iid in range(1, 251):
        fake.gl_issues[iid] = gl_issue(iid, labels=["doing"] if iid % 50 == 0 else ["Backend"])
    fake.gl_issues[3]["description"] = "Blocked by #2"
    fake.gl_issues[300] = gl_issue(300, state="closed")
    cfg = write_workflow(tmp_path, f"""
tracker:
  kind: gitlab
  endpoint: {fake.url}
  provider:
    project: acme/app
    state_labels: {{Todo: todo, In Progress: doing}}
""")
    tracker = build_tracker(cfg.tracker, tack_dir=tmp_path)
    try:
        issues = await tracker.fetch_issues_by_states(["Todo", "In Progress"])
        assert len(issues) == 250 and fake.hits["GET /api/v4/projects/acme/app/issues"] == 3
        by_id = {i.id: i for i in issues}
        assert by_id["50"].state == "In Progress" and by_id["1"].state == "Todo"
        assert by_id["1"].labels == ("backend",) and by_id["1"].assignee_id == "42"
        assert by_id["3"].blocked_by[0].identifier == "app#2" and not by_id["3"].dispatchable
        assert [i.id for i in await tracker.fetch_issues_by_states(["Done"])] == ["300"]
        moved = await tracker.move("1", "In Progress")
        assert moved.state == "In Progress" and fake.gl_issues[1]["labels"] == ["Backend", "doing"]
        await tracker.comment("1", "On it")
        [fresh] = await tracker.fetch_issues_by_ids(["1"])
        assert [c.body for c in fresh.comments] == ["On it"]
        assert fake.auth_headers == {TOKEN}
    finally:
        await tracker.close()


async def test_jira_search_pages_blockers_transitions_and_comments(
    tmp_path: Path, fake: FakeApis, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("JIRA_API_TOKEN", TOKEN)
    fake.jira_issues = [jira_issue(n) for n in range(1, 121)]
    fake.jira_issues[1] = jira_issue(2, blocked_by=("ENG-1", "To Do"), priority="Highest")
    fake.jira_issues.append(jira_issue(121, "Done"))
    cfg = write_workflow(tmp_path, f"""
tracker:
  kind: jira
  endpoint: {fake.url}
  api_key: $JIRA_API_TOKEN
  project_slug: ENG
  active_states: [To Do, In Progress]
  provider:
    email: bot@example.com
    page_size: 50
""")
    tracker = build_tracker(cfg.tracker, tack_dir=tmp_path)
    try:
        issues = await tracker.fetch_issues_by_states(["To Do", "In Progress"])
        assert len(issues) == 120 and fake.hits["POST /rest/api/3/search/jql"] == 3
        two = issues[1]
        assert two.identifier == "ENG-2" and two.priority == 1 and issues[0].priority == 3
        assert two.description == "Body 2" and two.labels == ("infra",)
        assert [(b.identifier, b.state) for b in two.blocked_by] == [("ENG-1", "To Do")]
        assert two.dispatchable is False and two.created_at is not None
        moved = await tracker.move("ENG-1", "In Progress")
        assert moved.state == "In Progress"
        await tracker.comment("ENG-1", "Started")
        [fresh] = await tracker.fetch_issues_by_ids(["1001"])
        assert [c.body for c in fresh.comments] == ["Started"]
        with pytest.raises(TrackerError, match="Reachable: In Progress, Done"):
            await tracker.move("ENG-1", "Blocked")
        assert all(h.startswith("Basic ") for h in fake.auth_headers)
    finally:
        await tracker.close()


def test_jira_requires_an_endpoint(tmp_path: Path) -> None:
    cfg = write_workflow(tmp_path, "tracker:\n  kind: jira\n  api_key: x\n  project_slug: ENG\n")
    with pytest.raises(TrackerError, match="tracker.endpoint is required"):
        build_tracker(cfg.tracker, tack_dir=tmp_path)
