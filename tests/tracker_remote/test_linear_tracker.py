"""The Linear tracker over real HTTP against a loopback GraphQL server answering with the
shapes of Linear's schema (Issue, IssueConnection, PageInfo, IssueRelation, WorkflowState)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tack.errors import TrackerError
from tack.tracker import build_tracker
from tack.tracker.linear import LinearTracker
from tests.tracker_remote.conftest import TOKEN, write_workflow
from tests.tracker_remote.fake_apis import FakeApis
from tests.tracker_remote.linear_complexity import LINEAR_MAX_COMPLEXITY, complexity


def linear_issue(n: int, *, state: str = "Todo", project: str = "tack-abc", priority: Any = 0,
                 labels: list[str] = (), blockers: list[tuple[str, str, str]] = ()
                 ) -> dict[str, Any]:
    return {
        "_project": project, "id": f"uuid-{n}", "identifier": f"ENG-{n}", "title": f"Task {n}",
        "description": None, "priority": priority, "branchName": f"eng-{n}-task",
        "url": f"https://linear.app/acme/issue/ENG-{n}", "createdAt": "2024-03-01T10:00:00.000Z",
        "updatedAt": "2024-03-02T10:00:00.000Z", "state": {"name": state},
        "assignee": None, "labels": {"nodes": [{"name": x} for x in labels]},
        "inverseRelations": {"nodes": [
            {"type": "blocks", "issue": {"id": i, "identifier": ident, "state": {"name": st}}}
            for i, ident, st in blockers] + [
            {"type": "related", "issue": {"id": "x", "identifier": "ENG-0",
                                          "state": {"name": "Todo"}}}]},
        "comments": {"nodes": []},
    }


def crowded_issue(n: int) -> dict[str, Any]:
    """An issue with more labels, blockers and comments than one page of each carries."""
    issue = linear_issue(n, labels=[f"area-{k:02}" for k in range(25)],
                         blockers=[(f"uuid-b{k}", f"ENG-B{k}", "Todo") for k in range(23)])
    issue["comments"]["nodes"] = [{"body": f"note {k}", "createdAt": "2024-03-03T10:00:00Z",
                                   "user": {"name": "Ada"}} for k in range(160)]
    return issue


def _tracker(tmp_path: Path, fake: FakeApis, extra: str = "") -> LinearTracker:
    cfg = write_workflow(tmp_path, f"""
tracker:
  kind: linear
  api_key: $LINEAR_API_KEY
  project_slug: tack-abc
  endpoint: {fake.url}/graphql
  provider:
    retry_base_ms: 20
{extra}
""")
    tracker = build_tracker(cfg.tracker, tack_dir=tmp_path / ".tack")
    assert isinstance(tracker, LinearTracker)
    return tracker


@pytest.fixture(autouse=True)
def _key(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LINEAR_API_KEY", TOKEN)


async def test_a_5000_issue_project_pages_through_cursors_and_normalises(
    tmp_path: Path, fake: FakeApis
) -> None:
    fake.linear_issues = [linear_issue(n, priority=n % 5, labels=["Backend", "backend"] if n % 2
                                       else []) for n in range(1, 5001)]
    fake.linear_issues[2] = linear_issue(3, priority=2, blockers=[
        ("uuid-1", "ENG-1", "Todo"), ("uuid-9", "ENG-9", "Done")])
    fake.linear_issues.append(linear_issue(9999, project="other"))
    fake.linear_issues.append(linear_issue(5001, state="Done"))
    tracker = _tracker(tmp_path, fake)
    try:
        issues = await tracker.fetch_issues_by_states(["Todo", "In Progress"])
        assert [i.identifier for i in issues] == [f"ENG-{n}" for n in range(1, 5001)]
        assert fake.hits["POST /graphql"] == 50  # 100 per page
        one, three, five = issues[0], issues[2], issues[4]
        assert one.labels == ("backend",) and one.priority == 1
        assert five.priority is None  # Linear's 0 = no priority
        assert one.branch_name == "eng-1-task" and one.created_at is not None
        assert [(b.identifier, b.state) for b in three.blocked_by] == [
            ("ENG-1", "Todo"), ("ENG-9", "Done")]
        assert three.dispatchable is False and one.dispatchable is True
        assert one.native_ref == {"linear_id": "uuid-1", "identifier": "ENG-1"}
        assert fake.auth_headers == {TOKEN}  # personal keys are sent without "Bearer"
    finally:
        await tracker.close()


async def test_refresh_move_comment_and_the_linear_graphql_tool(
    tmp_path: Path, fake: FakeApis
) -> None:
    fake.linear_issues = [linear_issue(1), linear_issue(2)]
    tracker = _tracker(tmp_path, fake)
    try:
        moved = await tracker.move("uuid-1", "in progress")
        assert moved.state == "In Progress"
        await tracker.comment("uuid-1", "Plan: fix it")
        [fresh] = await tracker.fetch_issues_by_ids(["uuid-1", "uuid-1", "gone"])
        assert [c.body for c in fresh.comments] == ["Plan: fix it"]
        with pytest.raises(TrackerError, match="Human Review"):
            await tracker.move("uuid-1", "Shipped")
        assert tracker.agent_tool_specs()[0]["name"] == "linear_graphql"
        ok = await tracker.execute_agent_tool("linear_graphql",
                                              {"query": "query { viewer { id name } }"})
        assert ok == {"success": True, "output": {"viewer": {"id": "u1", "name": "Tack Bot"}}}
        bad = await tracker.execute_agent_tool("linear_graphql", {"query": "query { nope }"})
        assert bad["success"] is False and TOKEN not in str(bad)
        other = await tracker.execute_agent_tool("jira_rest", {})
        assert other["success"] is False
    finally:
        await tracker.close()


async def test_graphql_rate_limit_is_retried_and_an_outage_fails_the_poll(
    tmp_path: Path, fake: FakeApis
) -> None:
    fake.linear_issues = [linear_issue(1)]
    fake.fail("/graphql", 400, 1, headers={"X-RateLimit-Requests-Remaining": "0"}, body={
        "errors": [{"message": "Rate limit exceeded", "extensions": {"code": "RATELIMITED"}}]})
    fake.fail("/graphql", 500, 1)
    tracker = _tracker(tmp_path, fake, "    max_attempts: 3")
    try:
        assert [i.identifier for i in await tracker.fetch_issues_by_states(["Todo"])] == ["ENG-1"]
        assert tracker.stats.rate_limited == 1 and tracker.stats.retries == 2
        fake.fail("/graphql", 503, 100)
        with pytest.raises(TrackerError) as err:
            await tracker.fetch_issues_by_states(["Todo"])
        assert err.value.code == "tracker_status"
    finally:
        await tracker.close()


def test_missing_api_key_and_project_slug_errors(tmp_path: Path,
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("LINEAR_API_KEY")
    cfg = write_workflow(tmp_path, "tracker:\n  kind: linear\n  api_key: $LINEAR_API_KEY\n"
                                   "  project_slug: tack-abc\n")
    with pytest.raises(TrackerError) as err:
        build_tracker(cfg.tracker, tack_dir=tmp_path)
    assert err.value.code == "missing_tracker_secret"
    assert "set tracker.api_key: $LINEAR_API_KEY" in err.value.message
    assert "export LINEAR_API_KEY" in err.value.message
    monkeypatch.setenv("LINEAR_API_KEY", TOKEN)
    cfg = write_workflow(tmp_path, "tracker:\n  kind: linear\n  api_key: $LINEAR_API_KEY\n")
    with pytest.raises(TrackerError, match="tracker.project_slug is required"):
        build_tracker(cfg.tracker, tack_dir=tmp_path)


async def test_every_query_tack_sends_scores_under_linears_complexity_limit(
    tmp_path: Path, fake: FakeApis
) -> None:
    """Linear refuses a query over 10,000 points; unbounded connections count 50 each."""
    fake.linear_issues = [linear_issue(n) for n in range(1, 131)] + [crowded_issue(131)]
    tracker = _tracker(tmp_path, fake)  # the default page size
    try:
        polled = await tracker.fetch_issues_by_states(["Todo"])
        assert len(polled) == 131
        await tracker.fetch_issues_by_ids([f"uuid-{n}" for n in range(1, 132)])
        await tracker.move("uuid-1", "In Progress")
        await tracker.comment("uuid-1", "Plan: fix it")
    finally:
        await tracker.close()
    sent = {payload["query"].split("(")[0].split()[-1]: payload
            for _, _, payload in fake.requests if payload is not None}
    assert set(sent) >= {"TackIssuesByStates", "TackIssuesByIds", "TackIssueLabels",
                         "TackIssueInverseRelations", "TackIssueComments", "TackTeamStates",
                         "TackMove", "TackComment"}
    scores = {name: complexity(p["query"], p.get("variables"))
              for name, p in sent.items()}
    assert max(scores.values()) <= LINEAR_MAX_COMPLEXITY, scores
    for _, _, payload in fake.requests:
        assert payload is not None
        assert complexity(payload["query"], payload.get("variables")) <= LINEAR_MAX_COMPLEXITY


async def test_labels_blockers_and_comments_beyond_the_first_page_are_fetched(
    tmp_path: Path, fake: FakeApis
) -> None:
    fake.linear_issues = [linear_issue(1), crowded_issue(2)]
    tracker = _tracker(tmp_path, fake)
    try:
        one, two = await tracker.fetch_issues_by_states(["Todo"])
        assert one.labels == () and one.blocked_by == ()
        assert two.labels == tuple(f"area-{k:02}" for k in range(25))
        assert [b.identifier for b in two.blocked_by] == [f"ENG-B{k}" for k in range(23)]
        assert two.dispatchable is False
        [fresh] = await tracker.fetch_issues_by_ids(["uuid-2"])
        assert [c.body for c in fresh.comments] == [f"note {k}" for k in range(160)]
        assert len(fresh.labels) == 25 and len(fresh.blocked_by) == 23
    finally:
        await tracker.close()
    rest = [p["variables"]["after"] for _, _, p in fake.requests
            if p is not None and "TackIssueComments" in p["query"]]
    assert rest == ["50", "150"]  # 50 with the issue, then 100 per page
