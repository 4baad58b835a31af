"""`tack init` in an existing repository: detected checks become `feedback.checks`, a
logged-in agent CLI becomes `agent.backend`, and `tack up` with no work says how to add some."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

from tack.workflow import load_workflow
from tests.conftest import GIT_ENV, TACK, run_tack
from tests.e2e.harness import wait_for

ROOT = Path(__file__).resolve().parents[2]
AGENT_BIN = ROOT / "tools" / "agents" / "node_modules" / ".bin"
NO_LOGIN = {"OPENAI_API_KEY": "", "ANTHROPIC_API_KEY": ""}


def _checks(repo: Path) -> dict[str, tuple[str, list[str]]]:
    cfg = load_workflow(repo / "WORKFLOW.md").config
    return {c.name: (str(c.command), list(c.profiles)) for c in cfg.feedback.checks}


def test_a_python_project_gets_pytest_ruff_and_mypy_checks(git_repo: Path, tmp_path: Path) -> None:
    (git_repo / "pyproject.toml").write_text('[project]\nname = "x"\n\n[tool.ruff]\nline-length = 100\n'
                                             '\n[tool.mypy]\nstrict = true\n')
    (git_repo / "tests").mkdir()
    result = run_tack("init", cwd=git_repo, env={"HOME": str(tmp_path), **NO_LOGIN})
    assert result.returncode == 0, result.stderr
    assert "detected python" in result.stdout
    assert _checks(git_repo) == {"tests": ("python -m pytest -q", ["fast", "ci"]),
                                 "lint": ("ruff check .", ["fast", "ci"]),
                                 "types": ("mypy .", ["ci"])}
    assert run_tack("validate", cwd=git_repo).returncode == 0


def test_a_node_project_gets_npm_test_eslint_and_tsc(git_repo: Path, tmp_path: Path) -> None:
    (git_repo / "package.json").write_text(json.dumps({
        "name": "web", "scripts": {"test": "vitest run"},
        "devDependencies": {"eslint": "^9", "typescript": "^5"}}))
    (git_repo / "tsconfig.json").write_text("{}")
    result = run_tack("init", cwd=git_repo, env={"HOME": str(tmp_path), **NO_LOGIN})
    assert result.returncode == 0, result.stderr
    assert _checks(git_repo) == {"tests": ("npm test", ["fast", "ci"]),
                                 "lint": ("npx eslint . --format json", ["fast", "ci"]),
                                 "types": ("npx tsc --noEmit", ["ci"])}


def test_go_and_rust_projects_get_their_test_commands(git_repo: Path, tmp_path: Path) -> None:
    (git_repo / "go.mod").write_text("module example.com/x\n\ngo 1.22\n")
    (git_repo / "Cargo.toml").write_text('[package]\nname = "x"\nversion = "0.1.0"\n')
    result = run_tack("init", cwd=git_repo, env={"HOME": str(tmp_path), **NO_LOGIN})
    assert result.returncode == 0, result.stderr
    checks = _checks(git_repo)
    assert checks["tests"][0] == "go test ./..."
    assert checks["tests-2"][0] == "cargo test"


def test_an_installed_logged_in_codex_is_picked(git_repo: Path, tmp_path: Path) -> None:
    assert (AGENT_BIN / "codex").exists(), "make test installs the codex CLI into tools/agents"
    home = tmp_path / "home"
    path = f"{AGENT_BIN}{os.pathsep}{os.environ['PATH']}"
    # Installed but not logged in: the built-in agent stays.
    home.mkdir()
    result = run_tack("init", cwd=git_repo, env={"HOME": str(home), "PATH": path, **NO_LOGIN})
    assert result.returncode == 0, result.stderr
    assert load_workflow(git_repo / "WORKFLOW.md").config.agent.backend == "builtin"
    # Logged in (codex keeps its credentials in ~/.codex/auth.json): codex is chosen.
    (home / ".codex").mkdir()
    (home / ".codex" / "auth.json").write_text("{}")
    result = run_tack("init", "--force", cwd=git_repo,
                      env={"HOME": str(home), "PATH": path, **NO_LOGIN})
    assert result.returncode == 0, result.stderr
    assert "agent.backend: codex" in result.stdout
    assert load_workflow(git_repo / "WORKFLOW.md").config.agent.backend == "codex"


def test_tack_up_with_no_eligible_issue_says_how_to_add_one(git_repo: Path, tmp_path: Path) -> None:
    assert run_tack("init", cwd=git_repo, env={"HOME": str(tmp_path), **NO_LOGIN}).returncode == 0
    log = tmp_path / "up.log"
    with log.open("w") as err:
        proc = subprocess.Popen([*TACK, "up"], cwd=git_repo, stdout=subprocess.DEVNULL,
                                stderr=err, env={**os.environ, **GIT_ENV})
        try:
            wait_for(lambda: "No issue is eligible yet" in log.read_text(), timeout=60,
                     what="the hint on stderr")
        finally:
            proc.terminate()
            proc.wait(timeout=30)
    text = log.read_text()
    assert "tack issue add" in text and "'Todo'" in text
    # With an issue in Todo there is nothing to explain.
    assert run_tack("issue", "add", "Fix it", cwd=git_repo).returncode == 0
    from tack.cli.run import _no_work_hint

    assert _no_work_hint(git_repo / "WORKFLOW.md") is None
