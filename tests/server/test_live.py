"""Against a real `tack up` (built-in agent on the stub model): a secret from the environment
that an agent echoes never reaches any page, API response, stream, `tack status` or
`tack metrics`; and `tack metrics` reads the state db and git history directly."""

from __future__ import annotations

import json
import os
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tack.testing import StubModelServer
from tests.conftest import GIT_ENV
from tests.e2e.harness import Project, TackUp, wait_for

SECRET = "s3cr3t-Value-Never-Shown-42"


@pytest.fixture
def stub() -> Iterator[StubModelServer]:
    server = StubModelServer({"conversations": [{"steps": [
        {"tool_calls": [{"name": "shell", "arguments": {"command": f"echo {SECRET}"}}]},
        {"text": f"I found the key {SECRET} in the environment"},
        {"tool_calls": [{"name": "tracker", "arguments": {"action": "move", "state": "Human Review"}}]},
        {"text": "handed off"},
    ]}]})
    server.start_in_thread()
    yield server
    server.stop_thread()


def test_secrets_from_the_environment_never_appear(tmp_path: Path, stub: StubModelServer) -> None:
    project = Project(tmp_path, stub.url, {"agent": {"max_turns": 3}})
    ident = project.add_issue("leak nothing")
    with TackUp(project, env={"DEPLOY_API_TOKEN": SECRET}) as up:
        wait_for(lambda: project.issue(ident)["state"] == "Human Review", 60, "hand-off")
        wait_for(lambda: up.state()["recent_handoffs"], 20, "the hand-off in the snapshot")
        detail = up.detail(ident)
        assert detail is not None
        events = json.dumps(detail["recent_events"])
        assert "***" in events, "the agent's echo of the secret should be visible, masked"
        bodies: dict[str, str] = {}
        for path in ("/", "/api/v1/state", f"/api/v1/{ident}", "/metrics", "/api/v1/metrics?since=1d"):
            response = up.client.get(path)
            assert response.status_code == 200, path
            bodies[path] = response.text
        with up.client.stream("GET", "/api/v1/events", params={"issue": ident}) as response:
            seen: list[str] = []
            for line in response.iter_lines():
                seen.append(line)
                if seen[-2:-1] == ["event: issue"]:
                    break
            bodies["/api/v1/events"] = "\n".join(seen)
        status = project.tack("status", "--once", "--url", up.url)
        assert status.returncode == 0, status.stderr
        bodies["tack status"] = status.stdout + status.stderr
        handoff = up.state()["recent_handoffs"][0]
        assert handoff["issue_identifier"] == ident and handoff["state"] == "Human Review"
    metrics = project.tack("metrics", "--json", "--since", "1d")
    assert metrics.returncode == 0, metrics.stderr
    bodies["tack metrics"] = metrics.stdout
    for where, body in bodies.items():
        assert SECRET not in body, f"the secret leaked through {where}"
    m = json.loads(metrics.stdout)
    assert m["handoffs_total"] == 1 and m["runs_total"] >= 1
    assert m["tokens_per_issue"][0]["issue_identifier"] == ident


def _merge(repo: Path, branch: str, author: str) -> None:
    """Merge `branch` into main as `author` (the harness's GIT_ENV pins everyone else)."""
    env = {**os.environ, **GIT_ENV, "GIT_AUTHOR_NAME": author, "GIT_COMMITTER_NAME": author}

    def run(*args: str) -> None:
        subprocess.run(["git", *args], cwd=repo, env=env, check=True, capture_output=True)

    run("checkout", "-q", "-b", branch)
    (repo / f"{branch.replace('/', '_')}.txt").write_text(branch)
    run("add", "-A")
    run("commit", "-q", "-m", f"work on {branch}")
    run("checkout", "-q", "main")
    run("merge", "-q", "--no-ff", branch, "-m", f"Merge branch '{branch}'")


def test_tack_metrics_counts_merged_agent_branches_per_engineer(tmp_path: Path) -> None:
    project = Project(tmp_path, "http://127.0.0.1:9/v1")
    for branch, author in (("tack/tack-1", "Ada"), ("tack/tack-2", "Ada"), ("tack/tack-3", "Grace"),
                           ("feature/manual", "Grace")):
        _merge(project.repo, branch, author)
    missing = project.tack("metrics")
    assert missing.returncode == 2 and "tack up" in missing.stderr
    from tack.store import Store

    store = Store(tmp_path / ".tack" / "state.db")
    run_id = store.start_run(issue_id="i1", identifier="TACK-1", attempt=None)
    store.update_run(run_id, total_tokens=1234)
    store.finish_run(run_id, "failed", "agent turn error: boom")
    store.close()
    result = project.tack("metrics", "--json", "--since", "7d")
    assert result.returncode == 0, result.stderr
    m: dict[str, Any] = json.loads(result.stdout)
    prs = {(p["engineer"], p["prs"]) for p in m["prs_per_engineer_week"]}
    assert prs == {("Ada", 2), ("Grace", 1)}
    assert m["runs_total"] == 1 and m["success_rate"] == 0.0 and m["tokens_total"] == 1234
    assert m["failure_reasons"] == [{"reason": "agent turn error: boom", "count": 1}]
    table = project.tack("metrics", "--since", "7d")
    assert table.returncode == 0, table.stderr
    assert "Grace" in table.stdout and "Ada" in table.stdout
    bad = project.tack("metrics", "--since", "a while")
    assert bad.returncode == 2 and "7d" in bad.stderr
