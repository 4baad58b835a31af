"""Symphony SPEC §17.1 — Workflow and Config Parsing. One test per bullet, named after it."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from structlog.testing import capture_logs

from tack.errors import TrackerError, WorkflowError
from tack.tracker import build_tracker
from tack.tracker.base import BlockerRef, Issue
from tack.workflow import WorkflowWatcher, load_workflow
from tack.workflow.config import TrackerConfig
from tests.conftest import run_tack
from tests.workflow.helpers import write_workflow


def test_explicit_runtime_path_is_used_when_provided(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Workflow file path precedence: explicit runtime path is used when provided."""
    write_workflow(tmp_path, "polling:\n  interval_ms: 1111")  # the cwd default, not chosen
    other = tmp_path / "elsewhere"
    other.mkdir()
    explicit = write_workflow(other, "polling:\n  interval_ms: 2222", name="custom.md")
    monkeypatch.chdir(tmp_path)
    wf = load_workflow(explicit)
    assert wf.path == explicit
    assert wf.config.polling.interval_ms == 2222
    result = run_tack("validate", "--workflow", str(explicit), cwd=tmp_path)
    assert result.stdout.startswith(f"ok: {explicit}")


def test_cwd_default_is_workflow_md_when_no_explicit_path(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Workflow file path precedence: cwd default is `WORKFLOW.md` when no explicit runtime path
    is provided."""
    path = write_workflow(tmp_path, "polling:\n  interval_ms: 1111")
    monkeypatch.chdir(tmp_path)
    wf = load_workflow()
    assert wf.path == path
    assert wf.config.polling.interval_ms == 1111
    assert run_tack("validate", cwd=tmp_path).stdout.startswith(f"ok: {path}")


def test_workflow_file_changes_are_detected_and_trigger_reread_without_restart(tmp_path: Path) -> None:
    """Workflow file changes are detected and trigger re-read/re-apply without restart."""
    path = write_workflow(tmp_path, "polling:\n  interval_ms: 1000\nagent:\n  max_concurrent_agents: 2",
                          body="old prompt")
    watcher = WorkflowWatcher(path)
    assert watcher.check() is False
    write_workflow(tmp_path, "polling:\n  interval_ms: 50\nagent:\n  max_concurrent_agents: 7",
                   body="new prompt for {{ issue.identifier }}")
    assert watcher.check() is True
    assert watcher.current.config.polling.interval_ms == 50
    assert watcher.current.config.agent.max_concurrent_agents == 7
    assert watcher.current.render_prompt({"identifier": "T-1"}) == "new prompt for T-1"


def test_invalid_workflow_reload_keeps_last_known_good_config_and_emits_error(tmp_path: Path) -> None:
    """Invalid workflow reload keeps last known good effective configuration and emits an
    operator-visible error."""
    path = write_workflow(tmp_path, "polling:\n  interval_ms: 1000", body="good")
    watcher = WorkflowWatcher(path)
    path.write_text("---\npolling: [unclosed\n---\nbroken\n")
    with capture_logs() as logs:
        assert watcher.check() is False
    assert watcher.current.config.polling.interval_ms == 1000
    assert watcher.current.prompt_template == "good"
    assert watcher.last_error is not None and watcher.last_error.code == "workflow_parse_error"
    failures = [e for e in logs if e["event"] == "workflow_reload_failed"]
    assert failures and failures[0]["log_level"] == "warning"
    assert str(path) in failures[0]["error"]


def test_missing_workflow_md_returns_typed_error(tmp_path: Path) -> None:
    """Missing `WORKFLOW.md` returns typed error."""
    with pytest.raises(WorkflowError) as err:
        load_workflow(tmp_path / "WORKFLOW.md")
    assert err.value.code == "missing_workflow_file"
    assert "tack init" in err.value.message


def test_invalid_yaml_front_matter_returns_typed_error(tmp_path: Path) -> None:
    """Invalid YAML front matter returns typed error."""
    path = tmp_path / "WORKFLOW.md"
    path.write_text("---\ntracker:\n  kind: local\n   bad_indent: x\n---\nbody\n")
    with pytest.raises(WorkflowError) as err:
        load_workflow(path)
    assert err.value.code == "workflow_parse_error"
    assert err.value.message.startswith(f"{path}:4:")


def test_front_matter_non_map_returns_typed_error(tmp_path: Path) -> None:
    """Front matter non-map returns typed error."""
    path = tmp_path / "WORKFLOW.md"
    path.write_text("---\njust a string\n---\nbody\n")
    with pytest.raises(WorkflowError) as err:
        load_workflow(path)
    assert err.value.code == "workflow_front_matter_not_a_map"


def test_config_defaults_apply_when_optional_values_are_missing(tmp_path: Path) -> None:
    """Config defaults apply when OPTIONAL values are missing."""
    cfg = load_workflow(write_workflow(tmp_path, "tracker:\n  kind: local")).config
    assert cfg.tracker.provider == {}
    assert cfg.tracker.required_labels == []
    assert cfg.tracker.active_states == ["Todo", "In Progress"]
    assert cfg.tracker.terminal_states == ["Done", "Closed", "Cancelled", "Canceled", "Duplicate"]
    assert cfg.polling.interval_ms == 30_000
    assert cfg.workspace.root is None
    assert (cfg.hooks.after_create, cfg.hooks.before_run, cfg.hooks.after_run, cfg.hooks.before_remove) == (None,) * 4
    assert cfg.hooks.timeout_ms == 60_000
    assert cfg.agent.max_concurrent_agents == 10
    assert cfg.agent.max_turns == 20
    assert cfg.agent.max_retry_backoff_ms == 300_000
    assert cfg.agent.max_concurrent_agents_by_state == {}
    assert cfg.codex.command == "codex app-server"
    assert (cfg.codex.turn_timeout_ms, cfg.codex.read_timeout_ms, cfg.codex.stall_timeout_ms) == (
        3_600_000, 5_000, 300_000)


def test_tracker_kind_validation_enforces_an_implementation_supported_adapter(tmp_path: Path) -> None:
    """`tracker.kind` validation enforces an implementation-supported adapter."""
    wf = load_workflow(write_workflow(tmp_path, "tracker:\n  kind: asana"))
    with pytest.raises(TrackerError) as err:
        build_tracker(wf.config.tracker, tack_dir=wf.tack_dir)
    assert err.value.code == "unsupported_tracker_kind"
    assert "asana" in err.value.message
    with pytest.raises(TrackerError) as missing:
        build_tracker(TrackerConfig(), tack_dir=wf.tack_dir)
    assert missing.value.code == "unsupported_tracker_kind"


async def test_tracker_provider_preserves_adapter_owned_keys_and_validates_them_through_the_selected_adapter(
    tmp_path: Path,
) -> None:
    """`tracker.provider` preserves adapter-owned keys and validates them through the selected
    adapter."""
    wf = load_workflow(write_workflow(tmp_path, """
        tracker:
          kind: linear
          provider:
            project_slug: abc
            nested: {team: core, ids: [1, 2]}
    """))
    assert wf.config.tracker.provider == {"project_slug": "abc", "nested": {"team": "core", "ids": [1, 2]}}

    local = load_workflow(write_workflow(tmp_path, "tracker:\n  kind: local\n  provider:\n    prefix: ABC"))
    tracker = build_tracker(local.config.tracker, tack_dir=local.tack_dir)
    try:
        assert getattr(tracker, "prefix") == "ABC"
    finally:
        await tracker.close()
    bad = load_workflow(write_workflow(tmp_path, "tracker:\n  kind: local\n  provider:\n    prefx: ABC"))
    with pytest.raises(TrackerError) as err:
        build_tracker(bad.config.tracker, tack_dir=bad.tack_dir)
    assert "tracker.provider.prefx" in err.value.message


def test_var_resolution_works_for_documented_adapter_secret_keys_and_path_values(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`$VAR` resolution works for documented adapter secret keys and path values."""
    monkeypatch.setenv("TACK_CONF_TOKEN", "tok-secret")
    monkeypatch.setenv("TACK_CONF_EMPTY", "")
    monkeypatch.setenv("TACK_CONF_ROOT", str(tmp_path / "ws-root"))
    monkeypatch.setenv("TACK_CONF_KEY", "sk-abc")
    wf = load_workflow(write_workflow(tmp_path, """
        tracker:
          kind: github
          provider:
            token: $TACK_CONF_TOKEN
            other_token: ${TACK_CONF_EMPTY}
            repo: owner/$NOT_A_WHOLE_VALUE
        workspace:
          root: $TACK_CONF_ROOT
        store:
          path: ${TACK_CONF_ROOT}/state.db
        builtin:
          api_key: $TACK_CONF_KEY
    """))
    provider = wf.config.tracker.provider
    assert provider["token"] == "tok-secret"
    assert provider["other_token"] is None  # empty secret = missing (SPEC §5.3.1)
    assert provider["repo"] == "owner/$NOT_A_WHOLE_VALUE"
    assert wf.config.builtin.api_key == "sk-abc"
    assert wf.workspace_root() == (tmp_path / "ws-root").resolve()
    assert wf.store_path() == (tmp_path / "ws-root" / "state.db").resolve()


def test_tilde_path_expansion_works(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """`~` path expansion works."""
    home = tmp_path / "home"
    home.mkdir()
    monkeypatch.setenv("HOME", str(home))
    wf = load_workflow(write_workflow(tmp_path, "workspace:\n  root: ~/workspaces\n  repo: ~/src/app"))
    assert wf.config.workspace.root == str(home / "workspaces")
    assert wf.workspace_root() == (home / "workspaces").resolve()
    assert wf.repo_dir() == (home / "src" / "app").resolve()


def test_codex_command_is_preserved_as_a_shell_command_string(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """`codex.command` is preserved as a shell command string."""
    monkeypatch.setenv("CODEX_BIN", "/should/not/appear")
    command = "$CODEX_BIN --config 'model=\"gpt-5\"' --config x=~/y app-server | tee ~/log"
    path = tmp_path / "WORKFLOW.md"
    path.write_text(f"---\ncodex:\n  command: {json.dumps(command)}\nhooks:\n  before_run: $HOME/setup.sh\n---\nbody\n")
    wf = load_workflow(path)
    assert wf.config.codex.command == command
    assert wf.config.hooks.before_run == "$HOME/setup.sh"


def test_per_state_concurrency_override_map_normalizes_state_names_and_ignores_invalid_values(
    tmp_path: Path,
) -> None:
    """Per-state concurrency override map normalizes state names and ignores invalid values."""
    wf = load_workflow(write_workflow(tmp_path, """
        agent:
          max_concurrent_agents: 5
          max_concurrent_agents_by_state:
            "  In Progress ": 2
            Todo: "3"
            Rework: 0
            Merging: -1
            Review: many
            Blocked: true
    """))
    agent = wf.config.agent
    assert agent.max_concurrent_agents_by_state == {"in progress": 2, "todo": 3}
    assert agent.limit_for_state("IN PROGRESS") == 2
    assert agent.limit_for_state("Rework") == 5


def test_prompt_template_renders_issue_and_attempt(tmp_path: Path) -> None:
    """Prompt template renders `issue` and `attempt`."""
    wf = load_workflow(write_workflow(tmp_path, "tracker:\n  kind: local", body=(
        "{{ issue.identifier }} {{ issue.title }} ({{ issue.state }})"
        "{% for label in issue.labels %} #{{ label }}{% endfor %}"
        "{% for b in issue.blocked_by %} after {{ b.identifier }}{% endfor %}"
        "{% if attempt %} attempt={{ attempt }}{% else %} first{% endif %}"
    )))
    issue = Issue(id="9", identifier="TACK-9", title="Ship it", state="Todo", labels=("a", "b"),
                  blocked_by=(BlockerRef("8", "TACK-8", "Done"),))
    assert wf.render_prompt(issue) == "TACK-9 Ship it (Todo) #a #b after TACK-8 first"
    assert wf.render_prompt(issue, attempt=3) == "TACK-9 Ship it (Todo) #a #b after TACK-8 attempt=3"


def test_prompt_rendering_fails_on_unknown_variables(tmp_path: Path) -> None:
    """Prompt rendering fails on unknown variables (strict mode)."""
    path = write_workflow(tmp_path, "tracker:\n  kind: local", body="{{ issue.title }} {{ retry_kind }}")
    wf = load_workflow(path)
    with pytest.raises(WorkflowError) as err:
        wf.render_prompt(Issue(id="1", identifier="T-1", title="x", state="Todo"))
    assert err.value.code == "template_render_error"
    assert f"{path}:5" in err.value.message and "retry_kind" in err.value.message
