"""`tack distill` end to end: the real CLI, the built-in agent, the stub model, real pytest.

The stub replays tests/fixtures/distill/script.yaml: round 1's spec is incomplete, so its
re-implementation fails 2 of the original's 5 tests; round 2's revision reaches the target.
"""

from __future__ import annotations

import json
import shutil
import sqlite3
from pathlib import Path
from typing import Any

import pytest
import yaml

from tack.testing import StubModelServer
from tests.conftest import git, run_tack

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "distill"
SCRIPT = yaml.safe_load((FIXTURES / "script.yaml").read_text())
ORIGINAL = (FIXTURES / "toy" / "slugify.py").read_text()


def _tokens(match: str) -> int:
    steps = next(c for c in SCRIPT["conversations"] if c["match"] == match)["steps"]
    return sum(s["usage"]["input_tokens"] + s["usage"]["output_tokens"] for s in steps)


@pytest.fixture
def repo(git_repo: Path) -> Path:
    shutil.copytree(FIXTURES / "toy", git_repo / "toy")
    git(git_repo, "add", "-A")
    git(git_repo, "commit", "-q", "-m", "toy slugify")
    return git_repo


def _workflow(repo: Path, stub: StubModelServer) -> None:
    (repo / "WORKFLOW.md").write_text(
        f"---\nagent: {{backend: builtin}}\nbuiltin: {{base_url: '{stub.url}', model: stub, "
        f"api_key: sk-test}}\n---\nWork on {{{{ issue.identifier }}}}.\n")


def _distill(repo: Path, script: dict[str, Any], *args: str
             ) -> tuple[Any, StubModelServer]:
    with StubModelServer(script) as stub:
        _workflow(repo, stub)
        result = run_tack("distill", "toy/slugify.py", *args, cwd=repo, timeout=120)
    return result, stub


def _db(repo: Path) -> sqlite3.Connection:
    db = sqlite3.connect(repo / ".tack" / "state.db")
    db.row_factory = sqlite3.Row
    return db


def _run_dir(repo: Path) -> Path:
    (run,) = (repo / ".tack" / "distill").iterdir()
    return run


def _tool_output(stub: StubModelServer, conversation: str, step: int) -> str:
    """What the agent's first tool call returned, as the model saw it on the next request."""
    request = next(r for r in stub.requests if r.conversation == conversation and r.step == step)
    return next(m["content"] for m in request.body["messages"] if m["role"] == "tool")


def test_two_rounds_reach_the_target_with_grounded_scores(repo: Path) -> None:
    result, stub = _distill(repo, SCRIPT, "--rounds", "3", "--target-score", "0.9",
                            "--out", "docs/SPEC.md")
    assert result.returncode == 0, result.stderr
    assert "round 1: score 0.50, tests 3/5" in result.stdout
    assert "round 2: score 0.98, tests 5/5" in result.stdout
    assert "target score reached" in result.stdout

    run_dir = _run_dir(repo)
    report = json.loads((run_dir / "report.json").read_text())
    assert report["status"] == "completed"
    assert report["stop_reason"] == "target score reached"
    assert [r["score"] for r in report["rounds"]] == [0.5, 0.98]
    assert [r["judge_score"] for r in report["rounds"]] == [0.4, 0.95]
    # The grounded tests really ran against each re-implementation.
    first, second = report["rounds"]
    assert (first["tests"]["passed"], first["tests"]["failed"]) == (3, 2)
    assert (second["tests"]["passed"], second["tests"]["failed"]) == (5, 0)
    assert first["api"]["match"] == 0.5 and second["api"]["match"] == 1.0
    assert {d["name"] for d in first["api"]["differs"]} == {"slugify.MAX_LENGTH",
                                                             "slugify.slugify"}
    assert report["tokens_by_role"]["writer"]["total_tokens"] == (
        _tokens("round 1: writer") + _tokens("round 2: writer"))
    assert report["tokens_by_role"]["judge"]["total_tokens"] == (
        _tokens("round 1: judge") + _tokens("round 2: judge"))
    assert first["tokens"]["implementer"]["total_tokens"] == _tokens("round 1: implementer")
    assert "+- `MAX_LENGTH = 60`: the longest slug, in characters." in second["spec_diff"]
    assert second["spec_diff"].startswith("--- round-1/SPEC.md")

    markdown = (run_dir / "report.md").read_text()
    assert "| 1 | 0.50 | 0.40 | 3/5 | 50% |" in markdown
    assert "| 2 | 0.98 | 0.95 | 5/5 | 100% |" in markdown
    assert "```diff" in markdown and "gap: The spec never says accented" in markdown
    best_spec = (repo / "docs" / "SPEC.md").read_text()
    assert "MAX_LENGTH = 60" in best_spec and best_spec == second["spec"]

    # The implementer saw the spec and nothing else: its first list_files returned SPEC.md.
    for number in (1, 2):
        assert _tool_output(stub, f"round {number}: implementer", 1) == "SPEC.md"
        held = sorted(p.name for p in (run_dir / f"round-{number}" / "implementer").iterdir()
                      if p.name != ".git")
        assert held == ["SPEC.md", "slugify.py"]
    assert (run_dir / "round-2" / "implementer" / "slugify.py").read_text() != ORIGINAL
    # ...while the writer and the judge did see the original.
    assert (run_dir / "round-1" / "writer" / "source" / "slugify.py").read_text() == ORIGINAL
    assert (run_dir / "round-1" / "judge" / "original" / "slugify.py").read_text() == ORIGINAL

    with _db(repo) as db:
        rounds = db.execute("SELECT round, status, score, spec FROM distill_rounds "
                            "ORDER BY round").fetchall()
        steps = db.execute("SELECT status, attempts FROM distill_steps").fetchall()
    assert [(r["round"], r["status"], r["score"]) for r in rounds] == [
        (1, "completed", 0.5), (2, "completed", 0.98)]
    assert rounds[1]["spec"] == best_spec
    assert len(steps) == 8 and {(s["status"], s["attempts"]) for s in steps} == {
        ("completed", 1)}


def test_an_interrupted_run_resumes_without_redoing_completed_steps(repo: Path) -> None:
    broken = json.loads(json.dumps(SCRIPT))
    judge = next(c for c in broken["conversations"] if c["match"] == "round 2: judge")
    judge["steps"] = [{"error": {"status": 400, "message": "judge model unavailable"}}]
    failed, _ = _distill(repo, broken)
    assert failed.returncode == 2
    assert "round 2 judge step failed" in failed.stderr
    assert "judge model unavailable" in failed.stderr
    assert "--resume" in failed.stderr
    with _db(repo) as db:
        assert db.execute("SELECT status FROM distill_runs").fetchone()[0] == "interrupted"
        judge_step = db.execute("SELECT status FROM distill_steps WHERE round = 2 AND "
                                "role = 'judge'").fetchone()
    assert judge_step["status"] == "failed"
    partial = json.loads((_run_dir(repo) / "report.json").read_text())
    assert partial["status"] == "interrupted" and partial["rounds"][1]["score"] is None

    with _db(repo) as db:
        run_id = db.execute("SELECT id FROM distill_runs").fetchone()[0]
    other = run_tack("distill", "toy", "--resume", cwd=repo, timeout=60)
    assert other.returncode == 2 and "no interrupted distillation of toy " in other.stderr
    assert f"{run_id} (toy/slugify.py)" in other.stderr  # names the one that is there
    wrong = run_tack("distill", "toy/slugify.py", "--resume", "--run", "nope", cwd=repo,
                     timeout=60)
    assert wrong.returncode == 2 and f"unfinished runs: {run_id} (toy/slugify.py)" in wrong.stderr
    elsewhere = run_tack("distill", "toy", "--resume", "--run", run_id, cwd=repo, timeout=60)
    assert elsewhere.returncode == 2
    assert f"--resume --run {run_id}" in elsewhere.stderr

    resumed, stub = _distill(repo, SCRIPT, "--resume", "--run", run_id)
    assert resumed.returncode == 0, resumed.stderr
    assert "resuming run" in resumed.stderr
    # Only the failed judge step asked the model again.
    assert {r.conversation for r in stub.requests} == {"round 2: judge"}
    report = json.loads((_run_dir(repo) / "report.json").read_text())
    assert report["status"] == "completed"
    assert [r["score"] for r in report["rounds"]] == [0.5, 0.98]
    with _db(repo) as db:
        attempts = {(r["round"], r["role"]): r["attempts"]
                    for r in db.execute("SELECT * FROM distill_steps")}
    assert attempts.pop((2, "judge")) == 2
    assert set(attempts.values()) == {1} and len(attempts) == 7


def test_token_budget_stops_before_the_next_agent_step(repo: Path) -> None:
    result, stub = _distill(repo, SCRIPT, "--token-budget", "1000")
    assert result.returncode == 0, result.stderr
    assert "token budget spent" in result.stdout
    assert {r.conversation for r in stub.requests} == {"round 1: writer"}
    report = json.loads((_run_dir(repo) / "report.json").read_text())
    assert report["stop_reason"] == "token budget spent"
    assert report["tokens_total"]["total_tokens"] == _tokens("round 1: writer")
    assert report["rounds"][0]["steps"] == {"writer": "completed"}


def test_round_limit_stops_below_the_target(repo: Path) -> None:
    result, _ = _distill(repo, SCRIPT, "--rounds", "1", "--json")
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert report["stop_reason"] == "round limit reached"
    assert report["best_score"] == 0.5 and len(report["rounds"]) == 1


def test_user_mistakes_are_one_paragraph_errors(repo: Path, tmp_path: Path) -> None:
    with StubModelServer(SCRIPT) as stub:
        _workflow(repo, stub)
        missing = run_tack("distill", "toy/nope.py", cwd=repo, timeout=60)
        outside = run_tack("distill", str(FIXTURES / "toy"), cwd=repo, timeout=60)
        nothing = run_tack("distill", "toy/slugify.py", "--resume", cwd=repo, timeout=60)
        bad = run_tack("distill", "toy/slugify.py", "--target-score", "2", cwd=repo,
                       timeout=60)
        lone_run = run_tack("distill", "toy/slugify.py", "--run", "x", cwd=repo, timeout=60)
    for result, text in ((missing, "does not exist"), (outside, "outside the repository"),
                         (nothing, "no interrupted distillation"), (bad, "--target-score"),
                         (lone_run, "add --resume")):
        assert result.returncode == 2, result.stderr
        assert text in result.stderr and "Traceback" not in result.stderr
    assert not stub.requests


def test_a_role_agents_commands_run_in_the_sandbox(repo: Path) -> None:
    script = json.loads(json.dumps(SCRIPT))
    writer = next(c for c in script["conversations"] if c["match"] == "round 1: writer")
    probe = (f"head -c 15 {repo}/.tack/state.db; echo; ls {repo}/.tack/distill/*/; "
             "echo key=${OPENAI_API_KEY:-none}")
    writer["steps"].insert(0, {"tool_calls": [{"name": "shell",
                                               "arguments": {"command": probe}}],
                               "usage": {"input_tokens": 10, "output_tokens": 10}})
    result, stub = _distill(repo, script, "--token-budget", "1000")
    assert result.returncode == 0, result.stderr
    seen = _tool_output(stub, "round 1: writer", 1)
    assert "SQLite format 3" not in seen and "No such file or directory" in seen
    assert "roles.db" not in seen  # the run's own files (and other roles) are hidden too
