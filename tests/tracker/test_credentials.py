"""Agents' and hooks' processes never inherit a credential Tack itself reads: whatever
variable WORKFLOW.md names for a tracker, forge, GitHub App, server or (with the built-in
agent) model key, plus every variable holding the same value and the adapters' defaults."""

from __future__ import annotations

from pathlib import Path

import pytest

from tack.tracker.base import Issue
from tack.tracker.credentials import environ_without, withheld_env
from tack.workflow import Workflow, load_workflow
from tack.workflow.config import HooksConfig, WorkspaceConfig
from tack.workspace import WorkspaceManager

PEM = "-----BEGIN RSA PRIVATE KEY-----\\nMIIEabc\\n-----END RSA PRIVATE KEY-----"

# kind -> (front matter, the variable it names for its credential)
CONFIGS = {
    "github": ("tracker: {kind: github, api_key: $ACME_GH, provider: {repo: o/r}}", "ACME_GH"),
    "github-app": (("tracker: {kind: github, provider: {repo: o/r, app: {app_id: 1, "
                    "installation_id: 2, private_key: $ACME_APP_PEM}}}"), "ACME_APP_PEM"),
    "linear": ("tracker: {kind: linear, api_key: $ACME_LINEAR, project_slug: p}",
               "ACME_LINEAR"),
    "gitlab": ("tracker: {kind: gitlab, provider: {project: g/p, token: '${ACME_GITLAB}'}}",
               "ACME_GITLAB"),
    "jira": (("tracker: {kind: jira, api_key: $ACME_JIRA, endpoint: 'https://x.atlassian.net', "
              "provider: {project: ENG, email: a@b.c}}"), "ACME_JIRA"),
    "forge": ("pull_requests: {forge: github, repo: o/r, api_key: $ACME_FORGE}", "ACME_FORGE"),
    "forge-app": (("pull_requests: {app: {app_id: 1, installation_id: 2, "
                   "private_key_path: $ACME_PEM_PATH}}"), "ACME_PEM_PATH"),
    "server": ("server: {port: 0, token: $ACME_SERVER}", "ACME_SERVER"),
    "builtin-model": ("agent: {backend: builtin}\nbuiltin: {api_key: $ACME_MODEL}",
                      "ACME_MODEL"),
}


def _workflow(tmp_path: Path, front: str) -> Workflow:
    path = tmp_path / "WORKFLOW.md"
    path.write_text(f"---\n{front}\n---\nWork on {{{{ issue.identifier }}}}.\n")
    return load_workflow(path)


@pytest.mark.parametrize("kind", sorted(CONFIGS))
def test_the_credential_each_configuration_reads_is_withheld(
    kind: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    front, var = CONFIGS[kind]
    secret = PEM if "PEM" in var and "PATH" not in var else f"secret-of-{kind}-123"
    monkeypatch.setenv(var, secret)
    monkeypatch.setenv("ACME_SAME_VALUE_ELSEWHERE", secret)  # a second name for it
    monkeypatch.setenv("ACME_HARMLESS", "keep me")
    monkeypatch.setenv("GITLAB_TOKEN", "glpat-default-123")
    names = withheld_env(_workflow(tmp_path, front))
    env = environ_without(names)
    assert var not in env and "ACME_SAME_VALUE_ELSEWHERE" not in env
    assert secret not in env.values()
    assert "GITLAB_TOKEN" not in env  # the adapters' defaults, whatever is configured
    assert env["ACME_HARMLESS"] == "keep me"


def test_codex_and_claude_keep_their_model_key(tmp_path: Path,
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    # The agent CLI itself calls the model with it; only the built-in agent's is Tack's own.
    monkeypatch.setenv("ACME_MODEL", "sk-model-123456")
    wf = _workflow(tmp_path, "agent: {backend: codex}\nbuiltin: {api_key: $ACME_MODEL}")
    assert "ACME_MODEL" not in withheld_env(wf)


async def test_hooks_run_without_the_trackers_credentials(
    tmp_path: Path, git_repo: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ACME_JIRA", "jira-secret-123456")
    monkeypatch.setenv("GITLAB_TOKEN", "glpat-default-123")
    monkeypatch.setenv("ACME_HARMLESS", "keep me")
    wf = _workflow(tmp_path, CONFIGS["jira"][0])
    manager = WorkspaceManager(
        root=tmp_path / "ws", repo=git_repo, workspace=WorkspaceConfig(),
        hooks=HooksConfig(after_create="env > ../hook-env.txt"), withheld_env=withheld_env(wf))
    await manager.prepare(Issue(id="id-1", identifier="ENG-1", title="t", state="Todo"))
    seen = (tmp_path / "ws" / "hook-env.txt").read_text()
    assert "ACME_HARMLESS=keep me" in seen and "TACK_ISSUE_IDENTIFIER=ENG-1" in seen
    assert "ACME_JIRA" not in seen and "GITLAB_TOKEN" not in seen
