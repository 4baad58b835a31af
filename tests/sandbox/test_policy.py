"""The policy model: host allowlist matching, the environment allowlist, and `sandbox:`
keys in WORKFLOW.md (a typo is a clear error, not a silently open sandbox)."""

from __future__ import annotations

from pathlib import Path

import pytest

from tack.errors import WorkflowError
from tack.sandbox import SandboxPolicy, host_allowed, policy_from_config
from tack.workflow import load_workflow
from tack.workflow.config import SandboxConfig


@pytest.mark.parametrize(("host", "port", "allowed"), [
    ("pypi.org", 443, True),
    ("PyPI.org.", 80, True),
    ("pypi.org", 22, False),                  # only web ports without an explicit one
    ("evil-pypi.org", 443, False),
    ("pypi.org.evil.com", 443, False),
    ("files.pythonhosted.org", 443, True),    # *.pythonhosted.org
    ("pythonhosted.org", 443, False),         # the wildcard is for subdomains only
    ("registry.internal", 8443, True),
    ("registry.internal", 443, False),        # an explicit port is the only one
])
def test_hosts_match_names_wildcards_and_ports(host: str, port: int, allowed: bool) -> None:
    allow = ("pypi.org", "*.pythonhosted.org", "registry.internal:8443")
    assert host_allowed(host, port, allow) is allowed


def test_only_allowlisted_variables_reach_the_agent() -> None:
    policy = policy_from_config(SandboxConfig(env=["PATH", "LANG"]))
    env = policy.environment({"PATH": "/bin", "LANG": "C.UTF-8", "OPENAI_API_KEY": "sk-1",
                              "GITHUB_TOKEN": "ghp_1", "HOME": "/root", "TACK_ISSUE_ID": "7",
                              "AWS_SECRET_ACCESS_KEY": "x", "TACK_SERVER_TOKEN": "t"})
    assert env == {"PATH": "/bin", "LANG": "C.UTF-8", "TACK_ISSUE_ID": "7",
                   "HOME": "/tmp/home", "TMPDIR": "/tmp"}


def test_the_default_policy_hides_credentials_workspaces_and_state(tmp_path: Path) -> None:
    policy = policy_from_config(SandboxConfig(), workspace_root=tmp_path / "ws",
                                tack_dir=tmp_path / ".tack")
    hidden = {str(p) for p in policy.hide}
    home = str(Path.home())
    assert {f"{home}/.ssh", f"{home}/.aws", f"{home}/.config", str(tmp_path / "ws"),
            str(tmp_path / ".tack")} <= hidden
    assert not policy.network
    assert SandboxPolicy(allow_hosts=("pypi.org",)).offline().allow_hosts == ()


def test_a_misspelt_sandbox_key_is_an_error_naming_it(tmp_path: Path) -> None:
    path = tmp_path / "WORKFLOW.md"
    path.write_text("---\nsandbox:\n  allow_host: [pypi.org]\n---\nprompt\n")
    with pytest.raises(WorkflowError) as caught:
        load_workflow(path)
    assert "sandbox.allow_host" in caught.value.message
    assert str(path) in caught.value.message


async def test_without_bubblewrap_the_shell_refuses_instead_of_running_unconfined(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from tack.agents.base import SessionContext
    from tack.agents.tools import run_tool
    from tack.sandbox import sandbox_support
    from tack.tracker.local import LocalTracker

    monkeypatch.setenv("PATH", str(tmp_path / "empty-bin"))  # no bwrap on it
    sandbox_support.cache_clear()
    try:
        with LocalTracker(tmp_path / "issues.db") as tracker:
            ctx = SessionContext(workspace=tmp_path, issue=tracker.add_issue("x"),
                                 tracker=tracker, sandbox=SandboxPolicy())
            outcome = await run_tool("shell", {"command": "touch ran"}, ctx)
    finally:
        sandbox_support.cache_clear()
    assert not outcome.ok and not (tmp_path / "ran").exists()
    assert outcome.output.startswith("error: The sandbox for agents' commands is not "
                                     "available: bwrap not found on PATH")
    assert "sandbox: {enabled: false}" in outcome.output
