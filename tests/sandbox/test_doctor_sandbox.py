"""`tack doctor` says whether the sandbox works, what happens when it does not, and what
each backend's processes may reach."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

from tests.conftest import run_tack

WORKFLOW = """---
tracker: {kind: local}
agent: {backend: builtin}
sandbox:
  hooks: true
  allow_hosts: [pypi.org, "*.pythonhosted.org"]
  env: [PATH, LANG]
  limits: {cpu_seconds: 30, memory_mb: 2048, processes: 100}
---
prompt
"""


def _checks(stdout: str) -> dict[str, dict[str, object]]:
    return {c["name"]: c for c in json.loads(stdout)["checks"]}


def test_doctor_prints_the_effective_policy_per_backend(tmp_path: Path) -> None:
    (tmp_path / "WORKFLOW.md").write_text(WORKFLOW)
    result = run_tack("doctor", "--json", cwd=tmp_path, timeout=60)
    assert result.returncode == 0, result.stderr
    checks = _checks(result.stdout)
    assert checks["sandbox"]["ok"] and "bwrap" in str(checks["sandbox"]["detail"])
    builtin = str(checks["policy: builtin"]["detail"])
    assert "network: pypi.org, *.pythonhosted.org (through Tack's proxy)" in builtin
    assert "env: PATH, LANG and TACK_*" in builtin
    assert "cpu 30s, memory 2048 MB, 100 processes" in builtin
    assert "network: pypi.org" in str(checks["policy: hooks"]["detail"])
    assert "workspaceWrite, network off" in str(checks["policy: codex"]["detail"])
    claude = str(checks["policy: claude"]["detail"])
    assert "WebFetch" not in claude
    assert "own sandbox for Bash (--settings): network *.pythonhosted.org, pypi.org, " in claude


def test_doctor_says_what_happens_without_bubblewrap(tmp_path: Path) -> None:
    (tmp_path / "WORKFLOW.md").write_text("---\ntracker: {kind: local}\n---\nprompt\n")
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    for tool in ("git", "sh", "bash"):  # everything doctor needs, but no bwrap
        (bin_dir / tool).symlink_to(f"/usr/bin/{tool}" if os.path.exists(f"/usr/bin/{tool}")
                                    else f"/bin/{tool}")
    result = run_tack("doctor", "--json", cwd=tmp_path, timeout=60,
                      env={"PATH": f"{Path(sys.executable).parent}:{bin_dir}"})
    assert result.returncode == 0, result.stderr
    sandbox = _checks(result.stdout)["sandbox"]
    assert not sandbox["ok"]
    assert "bwrap not found on PATH" in str(sandbox["detail"])
    assert "refuse to run commands until it is installed" in str(sandbox["detail"])


def test_doctor_says_the_system_call_filter_is_on(tmp_path: Path) -> None:
    (tmp_path / "WORKFLOW.md").write_text(WORKFLOW)
    result = run_tack("doctor", "--json", cwd=tmp_path, timeout=60)
    check = _checks(result.stdout)["sandbox seccomp"]
    assert check["ok"] and "ptrace" in str(check["detail"])
