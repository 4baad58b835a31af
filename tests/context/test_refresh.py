"""The sidecar follows Tack's own events: under a real `tack up`, a pull request found merged
by the review intake (fake GitHub) makes the context sidecar fetch and re-index at once,
long before its scheduled fetch; the merge reaches it through the `pull_request_merged`
plug-in hook, and a pushed hand-off through `handed_off`."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tack.context import api
from tack.context.home import ContextHome
from tack.context.manifest import RepoSource
from tack.context.wiring import repos_named
from tack.store.feedback import FeedbackStore, PullRequestRecord
from tack.testing import StubModelServer
from tests.conftest import git
from tests.context.org import make_org
from tests.e2e.harness import Project, TackUp, wait_for
from tests.tracker_remote.conftest import TOKEN
from tests.tracker_remote.fake_apis import FakeApis, ServerThread, gh_pull

pytestmark = pytest.mark.slow

MARKER = "merged_marker_zz81"


@pytest.fixture
def fake() -> Iterator[FakeApis]:
    apis = FakeApis(token=TOKEN)
    with ServerThread(apis.app()) as server:
        apis.url = server.url
        yield apis


def _status(home: ContextHome) -> dict[str, Any]:
    info = home.service()
    assert info is not None
    data: dict[str, Any] = httpx.get(f"{info['url']}/status", timeout=5).json()
    return data


def _hits(home: ContextHome, query: str) -> list[dict[str, Any]]:
    index = home.open_index()
    try:
        return api.search(index, query)
    finally:
        index.close()


def test_a_merged_pull_request_makes_the_sidecar_fetch_at_once(
        tmp_path: Path, fake: FakeApis, cleanup: list[Any]) -> None:
    manifest = make_org(tmp_path / "org")
    stub = StubModelServer({"conversations": [{"steps": [{"text": "nothing to do"}]}]})
    stub.start_in_thread()
    cleanup.append(stub)
    # An hour between scheduled fetches: only the merge can explain a fetch during the test.
    project = Project(tmp_path / "project", stub.url, {
        "context": {"manifest": str(manifest), "interval_s": 3600},
        "pull_requests": {"endpoint": fake.url, "repo": "o/r", "feedback_sync_ms": 200},
    })
    fake.gh_pulls[100] = gh_pull("o/r", 100, "tack/r_1", "main", "r#1: x", "")
    store = FeedbackStore(project.root / ".tack" / "state.db")
    store.record_pull_request(PullRequestRecord(
        forge="github", repo="o/r", number=100, url=None, run_id=None, issue_id="1",
        identifier="r#1", branch="tack/r_1"))
    store.close()

    up = TackUp(project, env={"GITHUB_TOKEN": TOKEN})
    cleanup.append(up)
    home = ContextHome(project.root / ".tack" / "context")
    wait_for(lambda: home.service() and _status(home)["cycles"] >= 1, 60,
             "the sidecar's first sync")
    wait_for(lambda: fake.hits["GET /repos/o/r/pulls/100"] >= 1, 30,
             "the review intake to read the open pull request")
    cycles = _status(home)["cycles"]

    billing = manifest.parent / "billing"
    (billing / "billing" / "refunds.py").write_text(f"def {MARKER}() -> int:\n    return 1\n")
    git(billing, "add", "-A")
    git(billing, "commit", "-qm", "refunds")
    head = git(billing, "rev-parse", "HEAD").strip()
    assert _hits(home, MARKER) == []
    fake.gh_pulls[100].update(state="closed", merged=True, merged_at="2026-01-02T00:00:00Z")

    hits = wait_for(lambda: _hits(home, MARKER), 60, "the merged commit in the index")
    assert hits[0]["path"] == "billing/refunds.py" and hits[0]["commit"] == head
    assert not hits[0]["stale"]
    # The cycle is counted once the whole sync (catalogs too) ends, after the index shows it.
    wait_for(lambda: _status(home)["cycles"] > cycles, 30, "the triggered cycle to finish")
    assert up.stop() == 0


async def test_a_pushed_handoff_makes_the_sidecar_fetch_through_the_plugin_hook(
        tmp_path: Path) -> None:
    from tack.context.wiring import start_sidecar, stop_sidecar
    from tack.forge import Handoff
    from tack.plugins import Plugins, Run
    from tack.tracker.base import Issue
    from tack.workflow import load_workflow

    manifest = make_org(tmp_path / "org")
    workflow = tmp_path / "WORKFLOW.md"
    workflow.write_text(f"---\ntracker: {{kind: local}}\ncontext: {{manifest: {manifest}, "
                        "interval_s: 3600}\n---\nWork on {{ issue.title }}\n")
    wf = load_workflow(workflow)
    home = ContextHome(tmp_path / ".tack" / "context")
    proc = start_sidecar(wf)
    assert proc is not None
    try:
        wait_for(lambda: home.service() and _status(home)["cycles"] >= 1, 60,
                 "the sidecar's first sync")
        billing = manifest.parent / "billing"
        (billing / "billing" / "refunds.py").write_text(f"def {MARKER}() -> int:\n    return 1\n")
        git(billing, "add", "-A")
        git(billing, "commit", "-qm", "refunds")
        plugins = Plugins(load_entry_points=False)
        run = Run(workflow=wf, issue=Issue(id="1", identifier="T-1", title="t", state="Done"),
                  attempt=None)
        await plugins.handed_off(run, None)  # nothing pushed: nothing to fetch
        assert _status(home)["cycles"] == 1
        await plugins.handed_off(run, Handoff(True, "tack/T-1", "origin", commit="c" * 40))
        hits = wait_for(lambda: _hits(home, MARKER), 60, "the pushed commit in the index")
        assert hits[0]["commit"] == git(billing, "rev-parse", "HEAD").strip()
    finally:
        stop_sidecar(proc)


def test_a_merge_names_the_mirrors_of_its_repository() -> None:
    repos = [RepoSource(name="billing", url="https://github.com/Acme/Billing.git", owner="o",
                        purpose="p"),
             RepoSource(name="ledger", url="git@github.com:acme/ledger", owner="o", purpose="p"),
             RepoSource(name="local", path="../local", owner="o", purpose="p")]
    assert repos_named(repos, "acme/billing") == ["billing"]
    assert repos_named(repos, "acme/ledger") == ["ledger"]
    assert repos_named(repos, "acme/bill") == []
