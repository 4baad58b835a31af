"""Symphony SPEC §17.3 — Issue Tracker Adapter, one test per bullet, for the `local` adapter.

The local adapter talks to a real SQLite file. Where a bullet names something the local adapter
cannot have (remote pages, HTTP status, rate limits), the test checks the closest real
behaviour and that the adapter profile in docs/trackers.md documents it.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest
from structlog.testing import capture_logs

from tack.errors import TrackerError
from tack.tracker import build_tracker
from tack.tracker.local import LocalTracker, NewIssue
from tack.workflow.config import TrackerConfig

DOC = Path(__file__).resolve().parents[2] / "docs" / "trackers.md"


@pytest.fixture
def tracker(tmp_path: Path) -> LocalTracker:
    return LocalTracker.from_config(TrackerConfig(kind="local"), tack_dir=tmp_path / ".tack")


def raw(tracker: LocalTracker) -> sqlite3.Connection:
    """A second, independent connection: the way a hand edit or another process sees the file."""
    return sqlite3.connect(tracker.path, isolation_level=None)


async def test_candidate_issue_fetch_applies_configured_active_states_and_adapter_owned_scope(
    tracker: LocalTracker,
) -> None:
    """Candidate issue fetch applies configured active states and adapter-owned scope selection"""
    config = TrackerConfig(kind="local")
    todo = tracker.add_issue("todo")
    doing = tracker.add_issue("doing", state="In Progress")
    tracker.add_issue("done", state="Done")
    tracker.add_issue("review", state="Human Review")
    found = await tracker.fetch_issues_by_states(config.active_states)
    assert [i.identifier for i in found] == [todo.identifier, doing.identifier]
    # States compare trimmed and case-insensitively, and keep the provider's spelling.
    found = await tracker.fetch_issues_by_states(["  in progress ", "TODO"])
    assert [i.state for i in found] == ["Todo", "In Progress"]
    # Scope is the database file: another file's issues are not visible.
    other = LocalTracker(tracker.path.parent / "other.db")
    other.add_issue("elsewhere")
    assert len(await tracker.fetch_issues_by_states(["Todo"])) == 1


async def test_empty_fetch_issues_by_states_returns_empty_without_a_provider_call(
    tracker: LocalTracker,
) -> None:
    """Empty `fetch_issues_by_states([])` returns empty without a provider call"""
    tracker.add_issue("one")
    before = tracker.queries
    assert await tracker.fetch_issues_by_states([]) == []
    assert tracker.queries == before
    assert len(await tracker.fetch_issues_by_states(["Todo"])) == 1
    assert tracker.queries == before + 1


async def test_empty_fetch_issues_by_ids_returns_empty_without_a_provider_call(
    tracker: LocalTracker,
) -> None:
    """Empty `fetch_issues_by_ids([])` returns empty without a provider call"""
    issue = tracker.add_issue("one")
    before = tracker.queries
    assert await tracker.fetch_issues_by_ids([]) == []
    assert tracker.queries == before
    assert len(await tracker.fetch_issues_by_ids([issue.id])) == 1
    assert tracker.queries == before + 1


async def test_pagination_preserves_order_across_multiple_pages(tracker: LocalTracker) -> None:
    """Pagination preserves order across multiple pages"""
    # No remote pages: one snapshot per call, ordered by identifier number. Id refreshes are
    # split into 400-id statements internally; the result stays complete and ordered.
    identifiers = tracker.add_issues(
        NewIssue(f"issue {n}", state=("Todo", "In Progress")[n % 2]) for n in range(1_500)
    )
    listed = await tracker.fetch_issues_by_states(["Todo", "In Progress"])
    assert [i.identifier for i in listed] == identifiers
    numbers = [int(i.identifier.split("-")[1]) for i in listed]
    assert numbers == sorted(numbers) == list(range(1, 1_501))
    ids = [i.id for i in reversed(listed)]
    refreshed = await tracker.fetch_issues_by_ids(ids + ids[:10])
    assert [i.identifier for i in refreshed] == identifiers
    assert "pagination" in DOC.read_text().lower()


async def test_labels_are_normalized_to_lowercase(tracker: LocalTracker) -> None:
    """Labels are normalized to lowercase"""
    issue = tracker.add_issue("x", labels=["Bug", " UI ", "bug", "", "  "])
    assert issue.labels == ("bug", "ui")
    [polled] = await tracker.fetch_issues_by_states(["todo"])
    assert polled.labels == ("bug", "ui")


async def test_unusable_optional_provider_metadata_normalizes_to_null_or_empty_without_hiding_required_fields(
    tracker: LocalTracker,
) -> None:
    """Unusable optional provider metadata normalizes to null/empty without hiding valid required
    fields"""
    issue = tracker.add_issue("keep me", priority=2, labels=["a"])
    with raw(tracker) as conn:
        conn.execute(
            "UPDATE issues SET priority = 'urgent', created_at = 'yesterday', labels = '{oops', "
            "branch_name = '' WHERE id = ?",
            (issue.id,),
        )
    for got in (await tracker.fetch_issues_by_states(["Todo"]))[0], tracker.get(issue.id):
        assert (got.id, got.identifier, got.title, got.state) == (
            issue.id, issue.identifier, "keep me", "Todo")
        assert got.priority is None and got.created_at is None
        assert got.labels == () and got.branch_name is None
        assert got.updated_at == issue.updated_at
        assert got.dispatchable is True


async def test_state_list_reads_log_omitted_malformed_records_and_id_refresh_fails_malformed_requested_records(
    tracker: LocalTracker,
) -> None:
    """State-list reads log omitted malformed required records; ID refresh fails malformed
    requested records instead of treating them as invisible"""
    good = tracker.add_issue("good")
    bad = tracker.add_issue("bad")
    with raw(tracker) as conn:
        conn.execute("UPDATE issues SET title = '   ' WHERE id = ?", (bad.id,))
    with capture_logs() as logs:
        listed = await tracker.fetch_issues_by_states(["Todo"])
    assert [i.id for i in listed] == [good.id]
    assert [e["identifier"] for e in logs
            if e["event"] == "tracker.local.malformed_issue_omitted"] == [bad.identifier]
    with pytest.raises(TrackerError) as err:
        await tracker.fetch_issues_by_ids([good.id, bad.id])
    assert err.value.code == "tracker_response" and bad.identifier in err.value.message
    # An id that simply does not exist is omitted, not an error.
    assert [i.id for i in await tracker.fetch_issues_by_ids([good.id, "no-such-id"])] == [good.id]


async def test_refresh_by_opaque_dispatch_id_returns_full_normalized_issue_snapshots(
    tracker: LocalTracker,
) -> None:
    """Refresh by opaque dispatch ID returns full normalized issue snapshots"""
    blocker = tracker.add_issue("blocker")
    issue = tracker.add_issue("work", description="details", priority=1, labels=["Api"],
                              blocked_by=[blocker.identifier], branch_name="fix/work")
    tracker.comment_sync(issue.identifier, "first note", author="ana")
    tracker.move_sync(issue.id, "In Progress")
    [snap] = await tracker.fetch_issues_by_ids([issue.id])
    data = snap.to_dict()
    assert set(data) >= {"id", "identifier", "title", "description", "priority", "state",
                         "branch_name", "url", "assignee_id", "labels", "blocked_by",
                         "dispatchable", "created_at", "updated_at", "native_ref"}
    assert (snap.state, snap.description, snap.priority, snap.branch_name) == (
        "In Progress", "details", 1, "fix/work")
    assert snap.labels == ("api",) and snap.url is None
    assert [b.to_dict() for b in snap.blocked_by] == [
        {"id": blocker.id, "identifier": blocker.identifier, "state": "Todo"}]
    assert [(c.author, c.body) for c in snap.comments] == [("ana", "first note")]
    assert snap.created_at is not None and snap.created_at.tzinfo is not None
    assert snap.updated_at is not None and snap.updated_at > snap.created_at
    # Identifiers work too (any case), and each issue appears once.
    again = await tracker.fetch_issues_by_ids([issue.identifier.lower(), issue.id])
    assert [i.id for i in again] == [issue.id]


async def test_distinct_provider_ticket_id_is_preserved_in_native_ref(
    tracker: LocalTracker,
) -> None:
    """A distinct provider ticket ID or project-item ID is preserved in `native_ref` when needed"""
    issue = tracker.add_issue("x")
    assert issue.id != issue.identifier
    assert issue.native_ref == {"local_id": issue.id}
    [polled] = await tracker.fetch_issues_by_states(["Todo"])
    assert polled.native_ref == {"local_id": issue.id}


async def test_provider_specific_routing_blocker_and_assignment_rules_become_explicit_dispatchable(
    tracker: LocalTracker,
) -> None:
    """Provider-specific routing/blocker/assignment rules become explicit `dispatchable`"""
    first = tracker.add_issue("first")
    second = tracker.add_issue("second")
    blocked = tracker.add_issue("blocked", blocked_by=[first.identifier, second.id])
    free = tracker.add_issue("free")
    polled = {i.identifier: i for i in await tracker.fetch_issues_by_states(["Todo"])}
    assert polled[blocked.identifier].dispatchable is False  # still listed: scheduler filters
    assert polled[free.identifier].dispatchable is True
    tracker.move_sync(first.identifier, "Done")
    assert tracker.get(blocked.id).dispatchable is False
    tracker.move_sync(second.identifier, " cancelled ")
    [refreshed] = await tracker.fetch_issues_by_ids([blocked.id])
    assert refreshed.dispatchable is True
    # Terminal states come from the tracker configuration.
    custom = LocalTracker(tracker.path, terminal_states=["Shipped"])
    assert custom.get(blocked.id).dispatchable is False


def test_adapter_publishes_the_required_compact_profile() -> None:
    """The adapter publishes the required compact profile for config, scope, normalization,
    tools, and portable error mapping"""
    doc = DOC.read_text()
    for heading in ("## Adapter profile: `local`", "### Kind", "### Provider keys",
                    "### Scope, pagination and request limits", "### `id` and `native_ref`",
                    "### Normalization", "### Tools", "### Error mapping"):
        assert heading in doc, heading
    for text in ("tracker.provider.prefix", "tracker.provider.path", "dispatchable",
                 "invalid_tracker_config", "tracker_request", "tracker_status",
                 "tracker_response", "tracker_pagination", "tracker_rate_limited",
                 "missing_tracker_secret", "unsupported_tracker_kind"):
        assert text in doc, text


async def test_error_mapping_covers_config_request_status_payload_pagination_and_rate_limiting(
    tmp_path: Path,
) -> None:
    """Error mapping covers config, request, non-success response, malformed payload,
    pagination, and rate limiting, including documented category/message mappings for
    language-native errors"""
    tack_dir = tmp_path / ".tack"
    # config
    with pytest.raises(TrackerError) as err:
        build_tracker(TrackerConfig(kind="local", provider={"prefx": "X"}), tack_dir=tack_dir)
    assert err.value.code == "invalid_tracker_config"
    assert "tracker.provider.prefx" in err.value.message
    assert "tracker.provider.prefix" in err.value.message
    with pytest.raises(TrackerError) as err:
        build_tracker(TrackerConfig(kind="local", provider={"prefix": "no spaces"}),
                      tack_dir=tack_dir)
    assert err.value.code == "invalid_tracker_config"
    with pytest.raises(TrackerError) as err:
        build_tracker(TrackerConfig(kind="asana"), tack_dir=tack_dir)
    assert err.value.code == "unsupported_tracker_kind"
    # request: the database stays locked by another process's writer past the busy timeout
    tracker = LocalTracker(tack_dir / "issues.db", busy_timeout_ms=50)
    issue = tracker.add_issue("x")
    holder = sqlite3.connect(tracker.path, isolation_level=None)
    holder.execute("BEGIN IMMEDIATE")
    try:
        with pytest.raises(TrackerError) as err:
            await tracker.move(issue.id, "Done")
        assert err.value.code == "tracker_request" and "locked" in err.value.message
        # WAL: reads keep working while another process writes
        assert [i.id for i in await tracker.fetch_issues_by_ids([issue.id])] == [issue.id]
    finally:
        holder.execute("ROLLBACK")
        holder.close()
    assert (await tracker.move(issue.id, "Done")).state == "Done"
    # malformed payload: a file that is not a database, and a newer schema
    junk = tmp_path / "junk.db"
    junk.write_bytes(b"this is not sqlite" * 100)
    with pytest.raises(TrackerError) as err:
        LocalTracker(junk)
    assert err.value.code == "tracker_response" and str(junk) in err.value.message
    with raw(tracker) as conn:
        conn.execute("INSERT INTO schema_version (version) VALUES (99)")
    with pytest.raises(TrackerError) as err:
        LocalTracker(tracker.path)
    assert err.value.code == "tracker_response" and "Upgrade Tack" in err.value.message
    # unknown issue for the write tools
    with pytest.raises(TrackerError) as err:
        tracker.get("TACK-404")
    assert err.value.code == "issue_not_found" and "tack issue list" in err.value.message
    # non-success status, pagination and rate limits cannot happen locally: documented as such
    doc = DOC.read_text()
    for category in ("tracker_status", "tracker_pagination", "tracker_rate_limited"):
        line = next(x for x in doc.splitlines() if x.startswith(f"| `{category}`"))
        assert "not applicable" in line
