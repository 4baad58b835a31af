"""The local tracker as a library: numbering, concurrency across processes, cost at scale."""

from __future__ import annotations

import sqlite3
import subprocess
import sys
from pathlib import Path

from tack.tracker.base import Tracker
from tack.tracker.local import LocalTracker, NewIssue


def test_is_a_tracker_with_kind_local_and_creates_its_directory(tmp_path: Path) -> None:
    tracker = LocalTracker(tmp_path / "deep" / ".tack" / "issues.db")
    assert isinstance(tracker, Tracker) and tracker.kind == "local"
    assert tracker.path.is_file()
    with sqlite3.connect(tracker.path) as conn:
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        assert conn.execute("SELECT version FROM schema_version").fetchall() == [(1,)]


def test_identifiers_are_never_reused_and_prefix_changes_keep_old_identifiers(
    tmp_path: Path,
) -> None:
    path = tmp_path / "issues.db"
    first = LocalTracker(path)
    assert [first.add_issue(t).identifier for t in "ab"] == ["TACK-1", "TACK-2"]
    with sqlite3.connect(path) as conn:  # even if the newest issue is deleted by hand
        conn.execute("DELETE FROM issues WHERE identifier = 'TACK-2'")
    renamed = LocalTracker(path, prefix="APP")
    assert renamed.add_issue("c").identifier == "APP-3"
    assert renamed.get("tack-1").title == "a"


async def test_poll_sees_writes_from_another_process(tmp_path: Path) -> None:
    tracker = LocalTracker(tmp_path / "issues.db")
    tracker.add_issue("mine")
    assert len(await tracker.fetch_issues_by_states(["Todo"])) == 1
    script = (
        "import sys; from tack.tracker.local import LocalTracker; "
        "t = LocalTracker(sys.argv[1]); t.add_issue('theirs'); t.move_sync('TACK-1', 'Done')"
    )
    subprocess.run([sys.executable, "-c", script, str(tracker.path)], check=True)
    polled = await tracker.fetch_issues_by_states(["Todo"])
    assert [i.title for i in polled] == ["theirs"]
    assert [i.state for i in await tracker.fetch_issues_by_ids(["TACK-1"])] == ["Done"]


async def test_concurrent_writers_in_other_processes_lose_nothing(tmp_path: Path) -> None:
    tracker = LocalTracker(tmp_path / "issues.db")
    script = (
        "import sys; from tack.tracker.local import LocalTracker; "
        "t = LocalTracker(sys.argv[1]); [t.add_issue(f'{sys.argv[2]}-{n}') for n in range(20)]"
    )
    procs = [subprocess.Popen([sys.executable, "-c", script, str(tracker.path), f"w{w}"])
             for w in range(4)]
    polls = 0
    while any(p.poll() is None for p in procs):
        await tracker.fetch_issues_by_states(["Todo"])  # polling while they write
        polls += 1
    assert all(p.wait() == 0 for p in procs) and polls > 0
    issues = tracker.list_issues()
    assert len(issues) == 80
    assert sorted(int(i.identifier.split("-")[1]) for i in issues) == list(range(1, 81))


async def test_polling_ten_thousand_issues_sees_every_write(tmp_path: Path) -> None:
    # How fast this is lives in bench/orchestrator.py (the tracker tick at 10k issues).
    tracker = LocalTracker(tmp_path / "issues.db")
    root = tracker.add_issue("root")
    tracker.add_issues(
        NewIssue(f"issue {n}", labels=("backend", "p1"), priority=n % 5,
                 state=("Todo", "In Progress", "Done")[n % 3],
                 blocked_by=(root.identifier,) if n % 10 == 0 else ())
        for n in range(10_000)
    )
    active = ["Todo", "In Progress"]
    first = await tracker.fetch_issues_by_states(active)
    assert len(first) == 6_667 + 1  # two thirds of them, plus the root
    assert await tracker.fetch_issues_by_states(active) == first  # unchanged: same answer
    tracker.add_issue("one more")  # our own write invalidates the cached poll
    polled = await tracker.fetch_issues_by_states(active)
    assert len(polled) == len(first) + 1
    assert all(not i.dispatchable for i in polled if i.blocked_by)
    # Another connection's write (the `tack issue` CLI, an agent's tool) is seen too.
    LocalTracker(tmp_path / "issues.db").move_sync(root.identifier, "Done")
    after = await tracker.fetch_issues_by_states(active)
    assert root.identifier not in {i.identifier for i in after}
    assert len(after) == len(polled) - 1


def test_closed_issues_leave_the_poll_cache_so_a_long_running_tracker_stays_small(
    tmp_path: Path,
) -> None:
    # A soak of `tack up` closes thousands of issues; the cache that spares rebuilding
    # unchanged issues on every poll must not keep them all (bench/soak.py, RSS growth).
    with LocalTracker(tmp_path / "issues.db") as tracker:
        closed = tracker.add_issues(NewIssue(f"issue {i}") for i in range(3000))
        assert len(tracker.list_issues(["Todo"])) == 3000
        for identifier in closed:
            tracker.move_sync(identifier, "Done")
        tracker.add_issues([NewIssue("still open")])
        assert [i.title for i in tracker.list_issues(["Todo"])] == ["still open"]
        assert len(tracker._cache) <= 1000  # before: all 3,001 issues stayed cached
