"""Best-of-N: two attempts race one issue through the real orchestrator; the one whose
visible tests pass is handed off, the other is recorded with its score."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from tests.conftest import git, run_tack
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
    with StubModelServer(stub_script()) as stub:
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
            "--variant", f"guided=principles={tmp_path / 'PRINCIPLES.md'}",
            cwd=tmp_path, timeout=300)
    assert result.returncode == 0, result.stdout + result.stderr
    outcome = json.loads(result.stdout)
    attempts = {a["variant"]: a for a in outcome["attempts"]}
    assert len(attempts) == 2  # from the best-of:2 label
    assert attempts["guided"]["winner"] and attempts["guided"]["checks_passed"]
    assert not attempts["plain"]["winner"] and not attempts["plain"]["checks_passed"]
    assert attempts["plain"]["branch"], json.dumps(attempts["plain"])  # it committed, and lost on its score
    branch = outcome["branch"]
    assert "x <= hi" in git(repo, "show", f"{branch}:bounds.py")
    shown = json.loads(run_tack("issue", "show", ident, "--json", "--workflow", str(wf),
                                cwd=tmp_path).stdout)
    assert shown["state"] == "Human Review"
    assert any("Best of 2" in c["body"] and "(winner)" in c["body"]
               for c in shown.get("comments", []))
    record = json.loads((tmp_path / ".tack" / "best-of" / f"{ident}.json").read_text())
    assert record["winner"] == attempts["guided"]["index"]
