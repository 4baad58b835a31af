"""Best-of-N: two attempts race one issue through the real orchestrator; the one whose
visible tests pass is handed off, the other is recorded with its score, in the issue's
comment, the PR body, the API and the dashboard's issue page."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from tests.conftest import git, run_tack
from tests.e2e.harness import await_until
from tests.eval.sensitive import BOUNDS, HIDDEN_TEST, PRINCIPLES, stub_script

pytestmark = pytest.mark.slow


def test_best_of_hands_off_the_attempt_whose_tests_pass(tmp_path: Path) -> None:
    from tack.testing import StubModelServer

    repo = tmp_path / "repo"
    repo.mkdir()
    (repo / "bounds.py").write_text(BOUNDS)
    (repo / "test_bounds.py").write_text(HIDDEN_TEST)  # visible here: `tack check` runs it
    git(repo, "init", "-q", "-b", "main")
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", "bounds")
    (tmp_path / "PRINCIPLES.md").write_text(PRINCIPLES)
    script = stub_script()
    # The judge prefers the plain attempt (index 0); passing checks must still outrank it.
    judge = {"match": "Compare these attempts", "steps": [
        {"text": '{"best": 0, "why": "the smaller diff"}'}]}
    script["conversations"].insert(0, judge)
    with StubModelServer(script) as stub:
        config = {
            "tracker": {"kind": "local"}, "workspace": {"root": "./ws", "repo": "./repo"},
            "agent": {"backend": "builtin", "max_turns": 3},
            "builtin": {"base_url": stub.url, "model": "stub"},
            "feedback": {"checks": [{"name": "tests", "command":
                                     "python -m pytest -q -p no:cacheprovider test_bounds.py"}]},
        }
        prompt = ("{{ issue.title }}\n{{ issue.description }}\n"
                  "{% for p in principles %}Runbook: {{ p.runbook }}\n{% endfor %}")
        wf = tmp_path / "WORKFLOW.md"
        wf.write_text(f"---\n{yaml.safe_dump(config)}---\n{prompt}\n")
        added = run_tack("issue", "add", "in_range rejects the upper range bound",
                         "--description", "range bounds should be inclusive; see bounds.py",
                         "--label", "best-of:2", "--workflow", str(wf), cwd=tmp_path)
        assert added.returncode == 0, added.stderr
        ident = added.stdout.strip()
        result = run_tack(
            "eval", "best-of", ident, "--workflow", str(wf), "--json", "--timeout", "60",
            "--variant", "plain=principles.enabled=false",
            "--variant", f"guided=principles={tmp_path / 'PRINCIPLES.md'}", "--judge",
            cwd=tmp_path, timeout=300)
    assert result.returncode == 0, result.stdout + result.stderr
    outcome = json.loads(result.stdout)
    attempts = {a["variant"]: a for a in outcome["attempts"]}
    assert len(attempts) == 2  # from the best-of:2 label
    assert attempts["guided"]["winner"] and attempts["guided"]["checks_passed"]
    assert not attempts["plain"]["winner"] and not attempts["plain"]["checks_passed"]
    assert attempts["plain"]["branch"], json.dumps(attempts["plain"])  # it committed, and lost
    assert attempts["plain"]["judge_pick"] and not attempts["guided"]["judge_pick"]
    branch = outcome["branch"]
    assert "x <= hi" in git(repo, "show", f"{branch}:bounds.py")
    shown = json.loads(run_tack("issue", "show", ident, "--json", "--workflow", str(wf),
                                cwd=tmp_path).stdout)
    assert shown["state"] == "Human Review"
    assert any("Best of 2" in c["body"] and "| winner: " in c["body"]
               for c in shown.get("comments", []))
    record = json.loads((tmp_path / ".tack" / "best-of" / f"{ident}.json").read_text())
    assert record["winner"] == attempts["guided"]["index"]


def test_the_judge_model_decides_between_attempts_that_both_pass() -> None:
    from tack.eval.bestof import Attempt, judge_attempts
    from tack.eval.suite import IssueSpec
    from tack.principles.judge import JudgeSettings
    from tack.testing import StubModelServer

    script = {"conversations": [{"match": "Compare these attempts", "steps": [
        {"text": 'Attempt 1 is cleaner. {"best": 1, "why": "no extra branch"}'}]}]}
    attempts = [Attempt(i, "v", branch=f"b{i}", checks_passed=True, handed_off=True,
                        changed_lines=2 + 10 * i, diff=f"+fix {i}\n") for i in range(2)]
    with StubModelServer(script) as stub:
        judge_attempts(JudgeSettings(base_url=stub.url, model="stub"),
                       IssueSpec(title="t", description="d"), attempts)
        prompt = stub.requests[-1].body["messages"][1]["content"]
    assert "## Attempt 0" in prompt and "+fix 1" in prompt
    assert [a.judge_pick for a in attempts] == [False, True]
    assert attempts[1].judge_reason == "no extra branch"
    best = max(attempts, key=lambda a: (a.score, -a.index))
    assert best.index == 1  # the judge outranks the smaller diff


def test_the_orchestrator_races_an_issue_when_agent_best_of_is_set(tmp_path: Path) -> None:
    import asyncio

    from tack.eval.runner import drive
    from tack.testing import StubModelServer
    from tack.tracker.local import LocalTracker
    from tack.workflow import load_workflow

    repo = tmp_path / "repo"
    repo.mkdir()
    (repo / "bounds.py").write_text(BOUNDS)
    (repo / "test_bounds.py").write_text(HIDDEN_TEST)
    git(repo, "init", "-q", "-b", "main")
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", "bounds")
    (tmp_path / "PRINCIPLES.md").write_text(PRINCIPLES)
    script = stub_script()
    script["conversations"].insert(0, {"match": "Compare these attempts", "steps": [
        {"text": '{"best": 0, "why": "shorter"}'}]})
    with StubModelServer(script) as stub:
        config = {
            "tracker": {"kind": "local"}, "workspace": {"root": "./ws", "repo": "./repo"},
            "polling": {"interval_ms": 100},
            "agent": {"backend": "builtin", "max_turns": 3, "best_of": 2, "best_of_judge": True,
                      "best_of_variants": ["plain=principles.enabled=false",
                                           f"guided=principles={tmp_path / 'PRINCIPLES.md'}"]},
            "builtin": {"base_url": stub.url, "model": "stub"},
            "pull_requests": {"publish": "off"},
            "feedback": {"checks": [{"name": "tests", "command":
                                     "python -m pytest -q -p no:cacheprovider test_bounds.py"}]},
        }
        prompt = ("{{ issue.title }}\n{{ issue.description }}\n"
                  "{% for p in principles %}Runbook: {{ p.runbook }}\n{% endfor %}")
        wf_path = tmp_path / "WORKFLOW.md"
        wf_path.write_text(f"---\n{yaml.safe_dump(config)}---\n{prompt}\n")
        wf = load_workflow(wf_path)
        tracker = LocalTracker.from_config(wf.config.tracker, tack_dir=wf.tack_dir)
        issue = tracker.add_issue("in_range rejects the upper range bound",
                                  description="range bounds should be inclusive; see bounds.py")
        handed_off, error = asyncio.run(drive(wf_path, 120))
    assert handed_off, error
    assert "x <= hi" in git(repo, "show", "tack/tack-1:bounds.py")
    assert "x <= hi" in (tmp_path / "ws" / issue.identifier / "bounds.py").read_text()
    comments = tracker.get(issue.identifier).comments
    assert any("Best of 2" in c.body and "| winner: " in c.body for c in comments)
    record = json.loads((tmp_path / ".tack" / "best-of" / f"{issue.identifier}.json").read_text())
    assert [a["variant"] for a in record["attempts"] if a["winner"]] == ["guided"]
    assert [a["variant"] for a in record["attempts"] if a["judge_pick"]] == ["plain"]


def test_the_api_shows_the_scores_of_an_issues_race(tmp_path: Path) -> None:
    import httpx

    from tests.server.served import ServedOrchestrator, issue

    with ServedOrchestrator(tmp_path) as served:
        def seed() -> None:
            iss = issue(1)
            run_id = served.orch.store.start_run(issue_id=iss.id, identifier=iss.identifier,
                                                 attempt=None)
            served.orch.store.finish_run(run_id, "succeeded", None)

        served.call(seed)
        with httpx.Client(base_url=served.url, timeout=20) as client:
            assert client.get("/api/v1/TACK-1").raise_for_status().json()["best_of"] is None
            record = {"identifier": "TACK-1", "branch": "tack/tack-1", "winner": 1,
                      "attempts": [{"index": 0, "variant": "a", "winner": False},
                                   {"index": 1, "variant": "b", "winner": True}]}
            path = tmp_path / ".tack" / "best-of" / "TACK-1.json"
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(json.dumps(record))
            shown = client.get("/api/v1/TACK-1").raise_for_status().json()["best_of"]
    assert shown["winner"] == 1 and [a["variant"] for a in shown["attempts"]] == ["a", "b"]


def test_a_raced_issue_s_pr_body_and_api_show_every_attempt_s_scores(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """`tack up` on an issue labelled `best-of:2` (agent.best_of stays 1): the race runs in
    the issue's run, the judge model is asked with both diffs, and the winner's hand-off
    opens a PR on the (fake) GitHub whose body carries every attempt's scores."""
    import asyncio

    import httpx

    from tack.orchestrator import Orchestrator
    from tack.orchestrator.service import run_service
    from tack.testing import StubModelServer
    from tack.tracker.local import LocalTracker
    from tack.workflow import load_workflow
    from tests.tracker_remote.fake_apis import FakeApis, ServerThread

    token = "test-token-123456"
    monkeypatch.setenv("GITHUB_TOKEN", token)
    repo = tmp_path / "repo"
    repo.mkdir()
    (repo / "bounds.py").write_text(BOUNDS)
    (repo / "test_bounds.py").write_text(HIDDEN_TEST)
    git(repo, "init", "-q", "-b", "main")
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", "bounds")
    git(tmp_path, "init", "-q", "--bare", "-b", "main", str(tmp_path / "remote.git"))
    git(repo, "remote", "add", "origin", str(tmp_path / "remote.git"))
    git(repo, "push", "-q", "origin", "main")
    (tmp_path / "PRINCIPLES.md").write_text(PRINCIPLES)
    script = stub_script()
    script["conversations"].insert(0, {"match": "Compare these attempts", "steps": [
        {"text": '{"scores": {"0": 7, "1": 4}, "best": 0, "why": "the tidier patch"}'}]})
    apis = FakeApis(token=token)
    with ServerThread(apis.app()) as github, StubModelServer(script) as stub:
        apis.url = github.url
        config = {
            "tracker": {"kind": "local"}, "workspace": {"root": "./ws", "repo": "./repo"},
            "polling": {"interval_ms": 100},
            "agent": {"backend": "builtin", "max_turns": 3, "best_of_judge": True,
                      "best_of_variants": ["plain=principles.enabled=false",
                                           f"guided=principles={tmp_path / 'PRINCIPLES.md'}"]},
            "builtin": {"base_url": stub.url, "model": "stub"},
            "pull_requests": {"forge": "github", "repo": "o/r", "endpoint": github.url},
            "feedback": {"checks": [{"name": "tests", "command":
                                     "python -m pytest -q -p no:cacheprovider test_bounds.py"}]},
        }
        prompt = ("{{ issue.title }}\n{{ issue.description }}\n"
                  "{% for p in principles %}Runbook: {{ p.runbook }}\n{% endfor %}")
        wf_path = tmp_path / "WORKFLOW.md"
        wf_path.write_text(f"---\n{yaml.safe_dump(config)}---\n{prompt}\n")
        wf = load_workflow(wf_path)
        tracker = LocalTracker.from_config(wf.config.tracker, tack_dir=wf.tack_dir)
        issue = tracker.add_issue("in_range rejects the upper range bound", labels=["best-of:2"],
                                  description="range bounds should be inclusive; see bounds.py")

        async def race() -> tuple[dict[str, object], str, str]:
            started: dict[str, object] = {}
            service = asyncio.create_task(run_service(
                wf_path, port=0, install_signals=False,
                on_started=lambda orch, url: started.update(orch=orch, url=url)))
            try:
                await await_until(lambda: apis.gh_pulls, 240, "the winner's pull request")
                url = str(started["url"])
                async with httpx.AsyncClient(base_url=url, timeout=30) as client:
                    api = (await client.get(f"/api/v1/{issue.identifier}")).raise_for_status()
                    page = (await client.get(f"/issues/{issue.identifier}")).raise_for_status()
                run_id = started["orch"].store.runs_for(issue.identifier, limit=1)[0]["id"] \
                    if isinstance(started["orch"], Orchestrator) else None
                return {**api.json(), "_run_id": run_id}, page.text, next(
                    iter(apis.gh_pulls.values()))["body"]
            finally:
                if isinstance(started.get("orch"), Orchestrator):
                    started["orch"].stop()  # type: ignore[union-attr]
                await asyncio.wait_for(service, 60)

        detail, page, body = asyncio.run(race())
    judged = [r for r in stub.requests if "Compare these attempts" in json.dumps(r.body)]
    assert len(judged) == 1  # the judge model was asked, once, with both diffs
    asked = json.dumps(judged[0].body)
    assert asked.count("## Attempt ") == 2 and "x <= hi" in asked and "lo < x < hi" in asked
    race_record = detail["best_of"]
    assert isinstance(race_record, dict)
    assert race_record["run_id"] == detail["_run_id"]
    assert race_record["judge"]["verdict"].startswith('{"scores"')
    attempts = {a["variant"]: a for a in race_record["attempts"]}
    assert set(attempts) == {"plain", "guided"}
    assert attempts["guided"]["winner"] and attempts["guided"]["checks_passed"]
    assert (attempts["plain"]["judge_score"], attempts["guided"]["judge_score"]) == (7, 4)
    assert attempts["plain"]["judge_pick"] and not attempts["plain"]["checks_passed"]
    assert "visible tests pass" in race_record["why"]
    for a in attempts.values():
        assert a["backend"] == "builtin" and a["model"] == "stub" and a["tokens"] > 0
    # The PR body: a row per attempt with its tests, findings, judge score, tokens and time.
    assert "## Best-of-N attempts" in body
    won = next(line for line in body.splitlines() if line.startswith(
        f"| {attempts['guided']['index']} |"))
    lost = next(line for line in body.splitlines() if line.startswith(
        f"| {attempts['plain']['index']} |"))
    assert "builtin / stub (guided)" in won and "| pass |" in won and "4/10" in won
    assert "winner: its visible tests pass" in won
    assert f"{attempts['guided']['tokens']:,}" in won and " s |" in won
    assert "builtin / stub (plain)" in lost and "| fail" in lost and "7/10, picked" in lost
    assert "| lost |" in lost
    assert "tidier patch" in body  # the judge's verdict, recorded
    # The issue page shows the same table.
    assert 'id="best-of"' in page and "7/10, picked" in page and "builtin / stub (guided)" in page
