"""Untrusted input marked: `issue.trust` from the tracker, in the prompt, and what
`sandbox.untrusted` makes of it (run, offline, refuse)."""

from __future__ import annotations

import asyncio
import dataclasses
from pathlib import Path
from typing import Any

import pytest
import yaml

from tack.orchestrator import Orchestrator
from tack.sandbox.policy import agent_policy
from tack.store import Store
from tack.testing import StubModelServer
from tack.tracker.base import Issue
from tack.tracker.local import LocalTracker
from tack.workflow import WorkflowWatcher, load_workflow
from tests.conftest import git
from tests.e2e.harness import await_until
from tests.tracker_remote.conftest import fake  # noqa: F401 - the fake GitHub fixture
from tests.tracker_remote.fake_apis import FakeApis, gh_issue
from tests.tracker_remote.test_github_tracker import REPO, _tracker


@pytest.fixture(autouse=True)
def _token(monkeypatch: pytest.MonkeyPatch) -> None:
    from tests.tracker_remote.conftest import TOKEN

    monkeypatch.setenv("GH_TEST_TOKEN", TOKEN)


async def test_github_marks_issues_from_outside_the_repository_untrusted(
        tmp_path: Path, fake: FakeApis) -> None:
    for number, association in ((1, "OWNER"), (2, "MEMBER"), (3, "COLLABORATOR"),
                                (4, "CONTRIBUTOR"), (5, "NONE"), (6, "FIRST_TIMER")):
        fake.gh_issues[number] = gh_issue(REPO, number, f"Issue {number}")
        fake.gh_issues[number]["author_association"] = association
    tracker = _tracker(tmp_path, fake)
    try:
        issues = await tracker.fetch_issues_by_states(["Todo"])
    finally:
        await tracker.close()
    assert {i.id: i.trust for i in issues} == {
        "1": "trusted", "2": "trusted", "3": "trusted",
        "4": "untrusted", "5": "untrusted", "6": "untrusted"}


async def test_gitlab_marks_issues_by_non_developers_untrusted(
        tmp_path: Path, fake: FakeApis, monkeypatch: pytest.MonkeyPatch) -> None:
    from tack.tracker import build_tracker
    from tests.tracker_remote.conftest import TOKEN, write_workflow
    from tests.tracker_remote.test_gitlab_jira_trackers import gl_issue

    monkeypatch.setenv("GITLAB_TOKEN", TOKEN)
    fake.gl_members.update({501: 40, 502: 30, 503: 20})  # maintainer, developer, reporter
    for iid, author in ((1, 501), (2, 502), (3, 503), (4, 504), (5, None), (6, 503)):
        fake.gl_issues[iid] = gl_issue(iid)
        if author is not None:
            fake.gl_issues[iid]["author"] = {"id": author, "username": f"user{author}"}
    cfg = write_workflow(tmp_path, f"""
tracker:
  kind: gitlab
  endpoint: {fake.url}
  provider: {{project: acme/app}}
""")
    tracker = build_tracker(cfg.tracker, tack_dir=tmp_path)
    try:
        issues = await tracker.fetch_issues_by_states(["Todo"])
        [one] = await tracker.fetch_issues_by_ids(["3"])
    finally:
        await tracker.close()
    assert {i.id: i.trust for i in issues} == {
        "1": "trusted", "2": "trusted", "3": "untrusted", "4": "untrusted",
        "5": "trusted", "6": "untrusted"}
    assert one.trust == "untrusted"
    # One members lookup per author, not per issue.
    assert sum(v for k, v in fake.hits.items() if "/members/all/" in k) == 4


async def test_linear_marks_issues_from_guests_and_external_users_untrusted(
        tmp_path: Path, fake: FakeApis, monkeypatch: pytest.MonkeyPatch) -> None:
    from tests.tracker_remote.conftest import TOKEN
    from tests.tracker_remote.test_linear_tracker import _tracker as linear_tracker
    from tests.tracker_remote.test_linear_tracker import linear_issue

    monkeypatch.setenv("LINEAR_API_KEY", TOKEN)
    fake.linear_issues = [linear_issue(n) for n in range(1, 5)]
    fake.linear_issues[0]["creator"] = {"guest": False}
    fake.linear_issues[1]["creator"] = {"guest": True}
    fake.linear_issues[2]["creator"] = None  # filed through an integration, by an outsider
    fake.linear_issues[2]["externalUserCreator"] = {"id": "ext-1"}
    tracker = linear_tracker(tmp_path, fake)
    try:
        issues = await tracker.fetch_issues_by_states(["Todo"])
    finally:
        await tracker.close()
    assert [i.trust for i in issues] == ["trusted", "untrusted", "untrusted", "trusted"]
    query = next(p["query"] for _, _, p in fake.requests if p and "TackIssuesByStates" in
                 p["query"])
    assert "creator { guest }" in query and "externalUserCreator { id }" in query


def _workflow(tmp_path: Path, sandbox: dict[str, Any],
              template: str = "{{ issue.identifier }} is {{ issue.trust }}") -> Path:
    path = tmp_path / "WORKFLOW.md"
    front = {"tracker": {"kind": "local"}, "sandbox": sandbox}
    path.write_text(f"---\n{yaml.safe_dump(front)}---\n{template}\n")
    return path


def test_the_prompt_says_whether_the_issue_is_trusted(tmp_path: Path) -> None:
    wf = load_workflow(_workflow(tmp_path, {}))
    local = LocalTracker(tmp_path / "issues.db")
    with local:
        issue = local.add_issue("from the team")
    assert wf.render_prompt(issue).endswith(f"{issue.identifier} is trusted")
    outsider = dataclasses.replace(issue, trust="untrusted")
    assert wf.render_prompt(outsider).endswith("is untrusted")


@pytest.mark.parametrize(("mode", "network"), [("offline", False), ("run", True)])
def test_untrusted_issues_lose_the_network_when_offline(tmp_path: Path, mode: str,
                                                         network: bool) -> None:
    wf = load_workflow(_workflow(tmp_path, {"allow_hosts": ["pypi.org"], "untrusted": mode}))
    trusted, untrusted = agent_policy(wf), agent_policy(wf, trust="untrusted")
    assert trusted is not None and trusted.allow_hosts == ("pypi.org",)
    assert untrusted is not None and untrusted.network is network


class _PublicTracker(LocalTracker):
    """The local tracker, but issues labelled `public` come from outside the project."""

    @staticmethod
    def _mark(issues: list[Issue]) -> list[Issue]:
        return [dataclasses.replace(i, trust="untrusted") if "public" in i.labels else i
                for i in issues]

    async def fetch_issues_by_states(self, states: list[str]) -> list[Issue]:
        return self._mark(await super().fetch_issues_by_states(states))

    async def fetch_issues_by_ids(self, ids: list[str]) -> list[Issue]:
        return self._mark(await super().fetch_issues_by_ids(ids))


async def test_refuse_keeps_untrusted_issues_from_being_dispatched(tmp_path: Path) -> None:
    repo = tmp_path / "repo"
    repo.mkdir()
    git(repo, "init", "-q", "-b", "main")
    (repo / "f.txt").write_text("x\n")
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", "init")
    steps = [{"tool_calls": [{"name": "tracker",
                              "arguments": {"action": "move", "state": "Human Review"}}]},
             {"text": "done"}]
    async with StubModelServer({"conversations": [{"steps": steps}]}) as stub:
        front = {"tracker": {"kind": "local"}, "polling": {"interval_ms": 100},
                 "workspace": {"root": "./ws", "repo": "./repo"},
                 "agent": {"backend": "builtin", "max_turns": 1},
                 "builtin": {"base_url": stub.url, "model": "stub"},
                 "sandbox": {"untrusted": "refuse"}}
        path = tmp_path / "WORKFLOW.md"
        path.write_text(f"---\n{yaml.safe_dump(front)}---\nWork on {{{{ issue.identifier }}}}\n")
        watcher = WorkflowWatcher(path)
        store = Store(watcher.current.store_path())
        tracker = _PublicTracker(tmp_path / ".tack" / "issues.db")
        public = tracker.add_issue("do what this stranger says", labels=["public"])
        ours = tracker.add_issue("ours")
        orch = Orchestrator(watcher, store, tracker=tracker)
        task = asyncio.create_task(orch.run())
        try:
            await await_until(lambda: tracker.get(ours.id).state == "Human Review",
                              what="the trusted issue to be handed off")
            start = orch.tick_count
            await await_until(lambda: orch.tick_count >= start + 3, what="three more ticks")
            public_state = tracker.get(public.id).state
        finally:
            orch.stop()
            await asyncio.wait_for(task, 30)
            store.close()
    assert public_state == "Todo"
    assert not store_runs(watcher.current.store_path(), public.identifier)


def store_runs(path: Path, identifier: str) -> list[Any]:
    store = Store(path)
    try:
        return list(store.runs_for(identifier))
    finally:
        store.close()
