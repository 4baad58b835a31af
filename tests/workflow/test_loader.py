from __future__ import annotations

import hashlib
import tempfile
from pathlib import Path

import pytest

from tack.errors import WorkflowError
from tack.workflow import DEFAULT_PROMPT, load_workflow
from tests.workflow.helpers import SYMPHONY_WORKFLOW, write_workflow


def test_front_matter_and_trimmed_body_are_split(tmp_path: Path) -> None:
    path = write_workflow(tmp_path, "polling:\n  interval_ms: 1234", body="\n\n  Hello {{ issue.title }}  \n\n")
    wf = load_workflow(path)
    assert wf.path == path
    assert wf.raw == {"polling": {"interval_ms": 1234}}
    assert wf.config.polling.interval_ms == 1234
    assert wf.prompt_template == "Hello {{ issue.title }}"


def test_file_without_front_matter_is_all_prompt_and_default_config(tmp_path: Path) -> None:
    path = write_workflow(tmp_path, None, body="Just a prompt.\n---\nnot yaml: [\n")
    wf = load_workflow(path)
    assert wf.raw == {}
    assert wf.config.agent.max_turns == 20
    assert wf.prompt_template.startswith("Just a prompt.")


def test_empty_body_renders_default_prompt(tmp_path: Path) -> None:
    wf = load_workflow(write_workflow(tmp_path, "tracker:\n  kind: local", body="   \n"))
    assert wf.prompt_template == ""
    assert wf.render_prompt({"identifier": "X-1"}) == DEFAULT_PROMPT


def test_unknown_key_in_known_section_names_line_and_suggests(tmp_path: Path) -> None:
    path = write_workflow(tmp_path, """
        tracker:
          kind: local
        agent:
          max_concurrent_agents: 2
          max_turn: 3
    """)
    with pytest.raises(WorkflowError) as err:
        load_workflow(path)
    assert err.value.code == "workflow_config_invalid"
    assert err.value.message == f"{path}:6: agent.max_turn: unknown key; did you mean agent.max_turns?"


def test_every_invalid_value_is_listed_once_with_its_line_and_a_fix(tmp_path: Path) -> None:
    path = write_workflow(tmp_path, """
        polling:
          interval_ms: soon
        agent:
          max_turns: 0
          backend: gpt
        hooks:
          timeout_ms: -5
    """)
    with pytest.raises(WorkflowError) as err:
        load_workflow(path)
    lines = err.value.message.splitlines()
    assert lines == [
        f"{path}:3: polling.interval_ms: must be a whole number (got 'soon') — write digits only, without quotes",
        f"{path}:5: agent.max_turns: must be greater than 0 (got 0) — set agent.max_turns to a number greater than 0",
        f"{path}:6: agent.backend: must be 'codex', 'claude', 'builtin' or 'command' (got 'gpt')",
        f"{path}:8: hooks.timeout_ms: must be greater than 0 (got -5) — set hooks.timeout_ms to a number greater than 0",
    ]


def test_unknown_top_level_section_is_kept_and_warned_reserved_is_silent(tmp_path: Path) -> None:
    # No section is reserved any more (`learning` and `review` became known), so this checks
    # the unknown half and that a formerly reserved section is now validated, not kept raw.
    path = write_workflow(tmp_path, """
        tracker:
          kind: local
        agnet:
          max_turns: 3
        review:
          on_handoff: true
    """)
    wf = load_workflow(path)
    assert wf.config.extensions == {"agnet": {"max_turns": 3}}
    assert wf.config.review.on_handoff is True
    assert len(wf.warnings) == 1
    assert wf.warnings[0].startswith(f"{path}:4: unknown section `agnet`")
    assert "did you mean `agent`?" in wf.warnings[0]


def test_yaml_error_reports_the_line_in_the_file(tmp_path: Path) -> None:
    path = write_workflow(tmp_path, "tracker:\n  kind: local\nagent:\n  max_turns: [1,\n")
    # The closing `---` lands inside the flow sequence, so the error is at file line 6.
    with pytest.raises(WorkflowError) as err:
        load_workflow(path)
    assert err.value.code == "workflow_parse_error"
    assert err.value.message.startswith(f"{path}:6: front matter is not valid YAML")


def test_unclosed_front_matter_is_a_parse_error(tmp_path: Path) -> None:
    path = tmp_path / "WORKFLOW.md"
    path.write_text("---\ntracker:\n  kind: local\n")
    with pytest.raises(WorkflowError) as err:
        load_workflow(path)
    assert err.value.code == "workflow_parse_error"
    assert "no closing `---`" in err.value.message


def test_empty_sections_take_defaults(tmp_path: Path) -> None:
    wf = load_workflow(write_workflow(tmp_path, "hooks:\nagent:\n"))
    assert wf.config.hooks.timeout_ms == 60_000
    assert wf.config.agent.max_concurrent_agents == 10


def test_secrets_resolve_from_env_and_empty_means_missing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TACK_T_KEY", "sk-123")
    monkeypatch.setenv("TACK_T_EMPTY", "")
    monkeypatch.delenv("TACK_T_UNSET", raising=False)
    wf = load_workflow(write_workflow(tmp_path, """
        builtin:
          api_key: ${TACK_T_KEY}
        server:
          token: $TACK_T_EMPTY
        tracker:
          kind: local
          provider:
            auth: {token: $TACK_T_UNSET, list: [$TACK_T_KEY, plain]}
    """))
    assert wf.config.builtin.api_key == "sk-123"
    assert wf.config.server.token is None
    assert wf.config.tracker.provider == {"auth": {"token": None, "list": ["sk-123", "plain"]}}
    assert wf.raw["builtin"]["api_key"] == "${TACK_T_KEY}"  # raw keeps what was written


def test_unset_path_variable_is_an_error_naming_key_and_variable(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("TACK_T_NOPE", raising=False)
    path = write_workflow(tmp_path, "workspace:\n  root: $TACK_T_NOPE/ws")
    with pytest.raises(WorkflowError) as err:
        load_workflow(path)
    assert err.value.code == "workflow_config_invalid"
    assert err.value.message.startswith(f"{path}:3: workspace.root: $TACK_T_NOPE is not set")


def test_unset_base_url_variable_is_an_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("TACK_T_NOPE", raising=False)
    path = write_workflow(tmp_path, "builtin:\n  base_url: $TACK_T_NOPE")
    with pytest.raises(WorkflowError, match=r"builtin.base_url: \$TACK_T_NOPE is not set"):
        load_workflow(path)


def test_paths_resolve_relative_to_the_workflow_file(tmp_path: Path) -> None:
    wf = load_workflow(write_workflow(tmp_path, """
        workspace:
          root: ws
          repo: ../other
        store:
          path: state/tack.db
    """))
    assert wf.base_dir == tmp_path
    assert wf.tack_dir == tmp_path / ".tack"
    assert wf.workspace_root() == (tmp_path / "ws").resolve()
    assert wf.repo_dir() == (tmp_path.parent / "other").resolve()
    assert wf.store_path() == (tmp_path / "state" / "tack.db").resolve()


def test_default_workspace_root_is_per_repository(tmp_path: Path) -> None:
    a = tmp_path / "a" / "repo"
    b = tmp_path / "b" / "repo"
    a.mkdir(parents=True)
    b.mkdir(parents=True)
    wa = load_workflow(write_workflow(a, "tracker:\n  kind: local"))
    wb = load_workflow(write_workflow(b, "tracker:\n  kind: local"))
    digest = hashlib.sha256(str(a.resolve()).encode()).hexdigest()[:8]
    assert wa.workspace_root() == Path(tempfile.gettempdir()).resolve() / "tack_workspaces" / f"repo-{digest}"
    assert wa.workspace_root() != wb.workspace_root()
    assert wa.store_path() == a / ".tack" / "state.db"


def test_broken_template_is_caught_at_load(tmp_path: Path) -> None:
    path = write_workflow(tmp_path, "tracker:\n  kind: local", body="\nLine one\n{% if issue.title %}\nno end")
    with pytest.raises(WorkflowError) as err:
        load_workflow(path)
    assert err.value.code == "template_parse_error"
    # Front matter is lines 1-4, the body's blank line 5, so the `{% if %}` is on line 7.
    assert err.value.message.startswith(f"{path}:7: prompt template does not parse")


def test_template_names_that_always_fail_are_warned_at_load(tmp_path: Path) -> None:
    wf = load_workflow(write_workflow(tmp_path, "tracker:\n  kind: local",
                                      body="{{ issue.titel }}\n{{ issue.title | upcse }}"))
    assert any(":5: prompt template uses unknown field `issue.titel`; did you mean `issue.title`?" in w
               for w in wf.warnings)
    assert any(":6: prompt template uses unknown filter `upcse`; did you mean `upcase`?" in w
               for w in wf.warnings)


def test_symphony_elixir_workflow_loads_unchanged() -> None:
    wf = load_workflow(SYMPHONY_WORKFLOW)
    assert wf.warnings == ()
    assert wf.config.tracker.kind == "linear"
    assert wf.config.tracker.provider == {"project_slug": "symphony-0c79b11b75ea"}
    assert wf.config.tracker.active_states == ["Todo", "In Progress", "Merging", "Rework"]
    assert wf.config.polling.interval_ms == 5000
    assert wf.config.workspace.root == str(Path("~/code/symphony-workspaces").expanduser())
    assert wf.config.codex.approval_policy == "never"
    assert wf.config.codex.turn_sandbox_policy == {"type": "workspaceWrite", "networkAccess": True}
    assert wf.config.hooks.after_create is not None
    assert wf.config.hooks.after_create.startswith("git clone --depth 1 https://github.com/openai/symphony .\n")
    assert wf.prompt_template.startswith("You are working on a Linear ticket `{{ issue.identifier }}`")
