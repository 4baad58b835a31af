"""`tack doctor` reports which backends work here, as a table or JSON."""

from __future__ import annotations

import json
from pathlib import Path

from tack.testing.stub_model import StubModelServer
from tests.conftest import run_tack

ROOT = Path(__file__).resolve().parents[2]
CLAUDE_BIN = ROOT / "tools" / "agents" / "node_modules" / ".bin" / "claude"


def _checks(stdout: str) -> dict[str, dict[str, object]]:
    return {c["name"]: c for c in json.loads(stdout)["checks"]}


def test_doctor_json_reports_each_backend(tmp_path: Path) -> None:
    fake = tmp_path / "fake-claude"
    fake.write_text("#!/bin/sh\necho '9.9.9 (Claude Code)'\n")
    fake.chmod(0o755)
    with StubModelServer({"conversations": [{"steps": [{"text": "hi"}]}]}) as stub:
        (tmp_path / "WORKFLOW.md").write_text(
            f"---\ntracker: {{kind: local}}\nagent: {{backend: claude}}\n"
            f"builtin: {{base_url: '{stub.url}'}}\nclaude: {{command: '{fake}'}}\n"
            "codex: {command: 'no-such-codex-xyz app-server'}\n---\nprompt\n")
        result = run_tack("doctor", "--json", cwd=tmp_path, timeout=30)
    assert result.returncode == 0, result.stderr
    checks = _checks(result.stdout)
    assert checks["claude"]["ok"] and "9.9.9" in str(checks["claude"]["detail"])
    assert not checks["codex"]["ok"] and "not found" in str(checks["codex"]["detail"])
    assert checks["builtin"]["ok"], checks["builtin"]
    assert checks["workflow"]["ok"] and "claude" in str(checks["workflow"]["detail"])
    assert checks["git"]["ok"] and checks["python"]["ok"]
    assert not checks["command"]["ok"]


def test_doctor_says_why_a_backend_is_not_usable(tmp_path: Path) -> None:
    (tmp_path / "WORKFLOW.md").write_text(
        "---\nbuiltin: {base_url: 'http://127.0.0.1:9/v1'}\nclaude: {command: /nope/claude}\n"
        "command: {command: 'echo hi'}\n---\nprompt\n")
    result = run_tack("doctor", "--json", cwd=tmp_path, timeout=30)
    checks = _checks(result.stdout)
    assert not checks["builtin"]["ok"] and "not reachable" in str(checks["builtin"]["detail"])
    assert not checks["claude"]["ok"] and "/nope/claude" in str(checks["claude"]["detail"])
    assert checks["command"]["ok"]
    table = run_tack("doctor", cwd=tmp_path, timeout=30)
    assert table.returncode == 0 and "claude" in table.stdout and "builtin" in table.stdout


def test_doctor_reports_an_invalid_workflow(tmp_path: Path) -> None:
    (tmp_path / "WORKFLOW.md").write_text("---\nclaude: {comand: x}\n---\nprompt\n")
    checks = _checks(run_tack("doctor", "--json", cwd=tmp_path, timeout=30).stdout)
    assert not checks["workflow"]["ok"] and "comand" in str(checks["workflow"]["detail"])
