"""Parking on trackers without a `needs_input_state`: GitHub and GitLab issues are open or
closed and their states are labels, so a parked issue gets `tracker.needs_input_label`
(kept out of dispatch) and loses it once its question is answered. Where the state labels
do map `needs_input_state`, the issue moves by state as on every other tracker.

Real GitHub/GitLab adapters over HTTP against the loopback fakes, a real state db."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from tack.orchestrator import scheduling
from tack.orchestrator.state import RunningEntry
from tack.questions.model import Asked
from tack.questions.park import QuestionDesk, park, record_answer
from tack.questions.store import QuestionStore
from tack.store import Store
from tack.tracker import build_tracker
from tack.tracker.base import Issue, StatelessTracker
from tack.workflow.config import ServiceConfig
from tests.tracker_remote.conftest import TOKEN, write_workflow
from tests.tracker_remote.fake_apis import FakeApis, gh_issue
from tests.tracker_remote.test_gitlab_jira_trackers import gl_issue

REPO = "octo-org/widgets"


class Host:
    """What `park` and the `QuestionDesk` use of the orchestrator."""

    def __init__(self, cfg: ServiceConfig, tracker: Any, store: Store) -> None:
        self.workflow = SimpleNamespace(config=cfg)
        self.tracker = tracker
        self.store = store
        self.notes: list[str] = []
        self.refreshes = 0

    def record(self, entry: RunningEntry, who: str, text: str) -> None:
        self.notes.append(text)

    def request_refresh(self) -> bool:
        self.refreshes += 1
        return True


@pytest.fixture(autouse=True)
def _tokens(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GH_TEST_TOKEN", TOKEN)
    monkeypatch.setenv("GITLAB_TOKEN", TOKEN)


def _github(tmp_path: Path, fake: FakeApis, state_labels: str = "") -> ServiceConfig:
    return write_workflow(tmp_path, f"""
tracker:
  kind: github
  api_key: $GH_TEST_TOKEN
  endpoint: {fake.url}
  provider:
    repo: {REPO}
    retry_base_ms: 20
{state_labels}
""")


def _gitlab(tmp_path: Path, fake: FakeApis) -> ServiceConfig:
    return write_workflow(tmp_path, f"""
tracker:
  kind: gitlab
  endpoint: {fake.url}
  provider:
    project: acme/app
    state_labels: {{Todo: todo, In Progress: doing}}
""")


async def _park_then_answer(tmp_path: Path, cfg: ServiceConfig,
                            labels: Any) -> tuple[Host, list[Issue]]:
    """Park a question on issue 7, answer it through the store (as the API does), sweep.
    Returns the host and the issue as seen after parking and after the sweep."""
    tracker = build_tracker(cfg.tracker, tack_dir=tmp_path / ".tack")
    host = Host(cfg, tracker, Store(tmp_path / "state.db"))
    try:
        issue = (await tracker.fetch_issues_by_ids(["7"]))[0]
        entry = RunningEntry(issue=issue, run_id=1, attempt=None)
        problem = await park(host, entry, Asked("Which database?", ["SQLite", "Postgres"], 1))
        assert problem is None
        seen = [(await tracker.fetch_issues_by_ids(["7"]))[0]]
        assert labels() and scheduling.is_candidate(seen[0], cfg.tracker) is False
        question = QuestionStore(host.store.db).where(status="open")[0]
        await QuestionDesk(host).sweep()  # nothing answered yet: the issue stays parked
        assert not scheduling.is_candidate(
            (await tracker.fetch_issues_by_ids(["7"]))[0], cfg.tracker)
        record_answer(host.store, question, None, 2, "api:ana")
        await QuestionDesk(host).sweep()
        seen.append((await tracker.fetch_issues_by_ids(["7"]))[0])
        return host, seen
    finally:
        await tracker.close()


async def test_github_without_the_state_labels_the_issue_and_takes_the_label_off(
    tmp_path: Path, fake: FakeApis
) -> None:
    fake.gh_issues[7] = gh_issue(REPO, 7, "Pick a database", labels=["In Progress", "backend"])
    cfg = _github(tmp_path, fake)

    def names() -> list[str]:
        return [x["name"] for x in fake.gh_issues[7]["labels"]]

    host, (parked, answered) = await _park_then_answer(tmp_path, cfg, names)
    assert isinstance(host.tracker, StatelessTracker)
    # Parked: the label added, the state (its state label) and the other labels kept.
    assert (parked.state, "needs-input" in parked.labels) == ("In Progress", True)
    assert any("labelled 'needs-input'" in n for n in host.notes)
    # Answered: the label off, the issue dispatchable in its state again.
    assert names() == ["In Progress", "backend"]
    assert fake.gh_issues[7]["state"] == "open"
    assert answered.state == "In Progress"
    assert scheduling.is_candidate(answered, cfg.tracker)
    bodies = [c["body"] for c in fake.gh_comments[7]]
    assert "Which database?" in bodies[0]
    assert "label 'needs-input' removed" in bodies[-1] and host.refreshes == 1


async def test_github_whose_state_labels_map_needs_input_moves_by_state(
    tmp_path: Path, fake: FakeApis
) -> None:
    fake.gh_issues[7] = gh_issue(REPO, 7, "Pick a database", labels=["in-progress"])
    cfg = _github(tmp_path, fake, "    state_labels: {Todo: todo, In Progress: in-progress, "
                                  "Human Review: review, Needs Input: waiting}")

    def names() -> list[str]:
        return [x["name"] for x in fake.gh_issues[7]["labels"]]

    host, (parked, answered) = await _park_then_answer(tmp_path, cfg, names)
    assert parked.state == "Needs Input" and "needs-input" not in parked.labels
    assert answered.state == "In Progress" and names() == ["in-progress"]


async def test_gitlab_without_the_state_labels_the_issue_and_takes_the_label_off(
    tmp_path: Path, fake: FakeApis
) -> None:
    fake.gl_issues[7] = gl_issue(7, labels=["doing", "Backend"])
    cfg = _gitlab(tmp_path, fake)
    host, (parked, answered) = await _park_then_answer(
        tmp_path, cfg, lambda: fake.gl_issues[7]["labels"])
    assert (parked.state, "needs-input" in parked.labels) == ("In Progress", True)
    assert fake.gl_issues[7]["state"] == "opened"
    assert fake.gl_issues[7]["labels"] == ["doing", "Backend"]
    assert answered.state == "In Progress" and scheduling.is_candidate(answered, cfg.tracker)
    assert "label 'needs-input' removed" in fake.gl_notes[7][-1]["body"]
