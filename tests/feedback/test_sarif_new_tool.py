"""SARIF from tools Tack has never seen works with no code change (issue 4, "Checked by").

bandit.sarif is real `bandit -r app -f sarif` output (bandit 1.9.4); quill.sarif is a
made-up tool using the SARIF features bandit does not: `ruleIndex`, `uriBaseId`, `file://`
URIs, levels and message templates taken from the rule.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from tests.conftest import run_tack

FIXTURES = Path(__file__).parent.parent / "fixtures" / "feedback" / "bandit"
SHELL_RUNBOOK = """---
title: Shell commands built from input (bandit B602)
covers:
  rules: [B602, B6*]
---
# Never pass a string to a shell
Use an argv list and `shell=False`.
"""
SECRETS_RUNBOOK = """---
title: Secrets in source
covers:
  messages: ["hard-?coded (password|credential)"]
---
# Secrets
Read them from the environment.
"""


@pytest.fixture
def scanned(tmp_path: Path) -> Path:
    """A project laid out as bandit scanned it, with its SARIF and two runbooks."""
    (tmp_path / "app").mkdir()
    for source in (FIXTURES / "app").iterdir():
        shutil.copy(source, tmp_path / "app" / source.name.removesuffix(".txt"))
    shutil.copy(FIXTURES / "bandit.sarif", tmp_path / "bandit.sarif")
    (tmp_path / "runbooks").mkdir()
    (tmp_path / "runbooks" / "a-shell.md").write_text(SHELL_RUNBOOK)
    (tmp_path / "runbooks" / "b-secrets.md").write_text(SECRETS_RUNBOOK)
    return tmp_path


def test_real_bandit_sarif_is_detected_and_read_with_locations_rules_and_runbooks(
        scanned: Path):
    result = run_tack("check", "--no-history", "--json", "--", "cat", "bandit.sarif",
                      cwd=scanned)
    assert result.returncode == 0, result.stderr  # `cat` succeeded; findings are warnings
    (check,) = json.loads(result.stdout)["checks"]
    assert check["format"] == "sarif"
    found = {(f["rule"], f["path"], f["line"]): f for f in check["findings"]}
    assert set(found) == {
        ("B403", "app/handlers.py", 2), ("B404", "app/handlers.py", 3),
        ("B301", "app/handlers.py", 7), ("B602", "app/handlers.py", 11),
        ("B324", "app/handlers.py", 15), ("B105", "app/settings.py", 1),
        ("B101", "app/settings.py", 6)}
    shell = found[("B602", "app/handlers.py", 11)]
    assert shell["tool"] == "bandit" and shell["severity"] == "error"
    assert shell["message"] == "subprocess call with shell=True identified, security issue."
    assert shell["runbook"] == {"path": "runbooks/a-shell.md",
                                "title": "Shell commands built from input (bandit B602)"}
    password = found[("B105", "app/settings.py", 1)]
    assert password["message"] == "Possible hardcoded password: 'hunter2'"
    assert password["runbook"]["path"] == "runbooks/b-secrets.md"
    assert found[("B101", "app/settings.py", 6)]["runbook"] is None

    prose = run_tack("check", "--no-history", "--", "cat", "bandit.sarif", cwd=scanned).stdout
    assert "- B602 (bandit) — runbook: runbooks/a-shell.md" in prose
    assert "app/handlers.py:11:12 subprocess call with shell=True identified" in prose
    assert "7 finding(s)" in prose


def test_a_made_up_tools_sarif_resolves_rule_index_base_uris_and_message_templates(
        scanned: Path):
    shutil.copy(FIXTURES / "quill.sarif", scanned / "quill.sarif")
    result = run_tack("check", "--no-history", "--json", "--", "cat", "quill.sarif",
                      cwd=scanned)
    (check,) = json.loads(result.stdout)["checks"]
    assert check["format"] == "sarif"
    first, second = check["findings"]
    assert (first["tool"], first["rule"], first["severity"]) == ("quill", "QS100", "error")
    assert first["message"] == ("'DATABASE_PASSWORD' holds a hard-coded credential; read it "
                                "from the environment.")
    # The base URI is absolute (where the tool ran), so the path is shown as the tool gave it.
    assert first["path"] == "/tmp/fbbandit/app/settings.py" and first["line"] == 1
    assert first["runbook"]["path"] == "runbooks/b-secrets.md"
    assert (second["rule"], second["severity"], second["line"]) == ("QS200", "warning", 2)
    assert second["message"] == "Debug mode is switched on."
