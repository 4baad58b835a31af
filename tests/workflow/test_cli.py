from __future__ import annotations

import json
from pathlib import Path

from tack.tracker.local import LocalTracker
from tack.workflow import load_workflow
from tack.workflow.scaffold import default_workflow_text
from tests.conftest import git, run_tack
from tests.workflow.helpers import SYMPHONY_WORKFLOW, write_workflow


def assert_clean_error(result, *needles: str) -> None:  # type: ignore[no-untyped-def]
    assert result.returncode == 2, result.stderr
    assert "Traceback" not in result.stderr
    for needle in needles:
        assert needle in result.stderr, result.stderr


def test_init_writes_a_loadable_commented_workflow_and_ignores_tack_dir(git_repo: Path) -> None:
    (git_repo / ".gitignore").write_text("node_modules/")  # no trailing newline
    # No logged-in agent CLI here, whatever this machine has: the default backend stays.
    result = run_tack("init", cwd=git_repo, env={"HOME": str(git_repo.parent),
                                                 "OPENAI_API_KEY": "", "ANTHROPIC_API_KEY": ""})
    assert result.returncode == 0, result.stderr
    wf = load_workflow(git_repo / "WORKFLOW.md")
    assert wf.warnings == ()
    cfg = wf.config
    assert cfg.tracker.kind == "local"
    assert cfg.tracker.active_states == ["Todo", "In Progress"]
    assert cfg.tracker.terminal_states == ["Done", "Closed", "Cancelled", "Canceled", "Duplicate"]
    assert cfg.tracker.handoff_state == "Human Review"
    assert cfg.polling.interval_ms == 5000
    assert (cfg.agent.backend, cfg.agent.max_concurrent_agents, cfg.agent.max_turns) == ("builtin", 4, 10)
    assert cfg.builtin.base_url == "http://127.0.0.1:8765/v1"
    assert cfg.builtin.api == "chat"
    assert wf.raw["builtin"]["api_key"] == "$OPENAI_API_KEY"
    assert "server" not in wf.raw and "hooks" not in wf.raw
    assert "# hooks:" in (git_repo / "WORKFLOW.md").read_text()
    assert (git_repo / ".tack").is_dir()
    assert (git_repo / ".gitignore").read_text() == "node_modules/\n.tack/\n"
    assert ".tack" not in git(git_repo, "status", "--porcelain", "--untracked-files=all")
    prompt = wf.render_prompt({**_issue(), "branch_name": "tack/TACK-1"})
    assert "Human Review" in prompt and "tack/TACK-1" in prompt


def test_every_front_matter_key_in_the_default_workflow_has_a_comment() -> None:
    lines = default_workflow_text().split("---\n")[1].splitlines()
    for i, line in enumerate(lines):
        stripped = line.strip()
        if stripped and not stripped.startswith("#") and ":" in stripped and not stripped.endswith(":"):
            assert lines[i - 1].strip().startswith("#"), f"uncommented key: {line!r}"


def test_init_refuses_to_overwrite_without_force(git_repo: Path) -> None:
    (git_repo / "WORKFLOW.md").write_text("mine\n")
    result = run_tack("init", str(git_repo))
    assert_clean_error(result, "WORKFLOW.md already exists", "--force")
    assert (git_repo / "WORKFLOW.md").read_text() == "mine\n"
    forced = run_tack("init", str(git_repo), "--force")
    assert forced.returncode == 0, forced.stderr
    assert load_workflow(git_repo / "WORKFLOW.md").config.tracker.kind == "local"
    assert (git_repo / ".gitignore").read_text().count(".tack/") == 1


def test_validate_prints_ok_and_warnings(tmp_path: Path) -> None:
    write_workflow(tmp_path, "tracker:\n  kind: local\nmystery:\n  a: 1")
    result = run_tack("validate", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines()[0] == f"ok: {tmp_path / 'WORKFLOW.md'}"
    assert "warning:" in result.stdout and "unknown section `mystery`" in result.stdout


def test_validate_warns_about_unsupported_tracker_kind(tmp_path: Path) -> None:
    path = write_workflow(tmp_path, "tracker:\n  kind: asana")
    result = run_tack("validate", "--workflow", str(path))
    assert result.returncode == 0, result.stderr
    assert "tracker.kind 'asana' is not supported" in result.stdout


def test_symphonys_own_workflow_validates_with_the_linear_tracker() -> None:
    result = run_tack("validate", "--workflow", str(SYMPHONY_WORKFLOW))
    assert result.returncode == 0, result.stderr
    assert "not supported" not in result.stdout


def test_validate_bad_key_exits_2_naming_file_line_and_key(tmp_path: Path) -> None:
    path = write_workflow(tmp_path, "tracker:\n  kind: local\nagent:\n  max_turn: 3")
    result = run_tack("validate", "--workflow", str(path))
    assert_clean_error(result, f"{path}:5: agent.max_turn: unknown key; did you mean agent.max_turns?")


def test_validate_missing_file_suggests_init(tmp_path: Path) -> None:
    result = run_tack("validate", cwd=tmp_path)
    assert_clean_error(result, str(tmp_path / "WORKFLOW.md"), "tack init")


def test_validate_bad_yaml_and_non_map(tmp_path: Path) -> None:
    bad = tmp_path / "bad.md"
    bad.write_text("---\ntracker:\n  kind: [local\n---\nbody\n")
    assert_clean_error(run_tack("validate", "-w", str(bad)), f"{bad}:", "not valid YAML")
    listy = tmp_path / "list.md"
    listy.write_text("---\n- a\n- b\n---\nbody\n")
    assert_clean_error(run_tack("validate", "-w", str(listy)), str(listy), "must be a map")


def _issue() -> dict[str, object]:
    return {"id": "1", "identifier": "TACK-1", "title": "Make it fast", "state": "Todo"}


def test_prompt_from_issue_json_prints_exactly_the_rendered_prompt(tmp_path: Path) -> None:
    write_workflow(tmp_path, "tracker:\n  kind: local",
                   body="{{ issue.identifier }}: {{ issue.title }} [{{ issue.labels | join: ',' }}]"
                        "{% if attempt %} attempt {{ attempt }}{% endif %}")
    (tmp_path / "issue.json").write_text(json.dumps({**_issue(), "labels": ["a", "b"]}))
    result = run_tack("prompt", "--issue-json", "issue.json", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert result.stdout == "TACK-1: Make it fast [a,b]\n"
    retry = run_tack("prompt", "--issue-json", "issue.json", "--attempt", "2", cwd=tmp_path)
    assert retry.stdout == "TACK-1: Make it fast [a,b] attempt 2\n"


def test_prompt_issue_json_errors_name_file_and_key(tmp_path: Path) -> None:
    write_workflow(tmp_path, "tracker:\n  kind: local")
    (tmp_path / "bad.json").write_text('{"id": "1",')
    assert_clean_error(run_tack("prompt", "--issue-json", "bad.json", cwd=tmp_path),
                       f"{tmp_path / 'bad.json'}:1: not valid JSON")
    (tmp_path / "partial.json").write_text('{"id": "1", "identifier": "X-1"}')
    assert_clean_error(run_tack("prompt", "--issue-json", "partial.json", cwd=tmp_path),
                       str(tmp_path / "partial.json"), "missing required key(s) title, state")


def test_prompt_unknown_variable_exits_2_naming_file_line_and_variable(tmp_path: Path) -> None:
    path = write_workflow(tmp_path, "tracker:\n  kind: local", body="Hi {{ isue.title }}")
    (tmp_path / "issue.json").write_text(json.dumps(_issue()))
    result = run_tack("prompt", "--workflow", str(path), "--issue-json", str(tmp_path / "issue.json"))
    assert_clean_error(result, f"{path}:5:", "'isue' is undefined", "issue.identifier")
    assert result.stdout == ""


def test_prompt_needs_exactly_one_issue_source(tmp_path: Path) -> None:
    write_workflow(tmp_path, "tracker:\n  kind: local")
    assert_clean_error(run_tack("prompt", cwd=tmp_path), "--issue-json")


def test_prompt_reads_the_issue_from_the_local_tracker(tmp_path: Path) -> None:
    path = write_workflow(tmp_path, "tracker:\n  kind: local",
                          body="{{ issue.identifier }} {{ issue.title }} {{ issue.labels | join: ',' }}")
    wf = load_workflow(path)
    with LocalTracker.from_config(wf.config.tracker, tack_dir=wf.tack_dir) as tracker:
        issue = tracker.add_issue("Speed up startup", labels=["perf"])
    by_identifier = run_tack("prompt", issue.identifier, cwd=tmp_path)
    assert by_identifier.returncode == 0, by_identifier.stderr
    assert by_identifier.stdout == f"{issue.identifier} Speed up startup perf\n"
    by_id = run_tack("prompt", issue.id, cwd=tmp_path)
    assert by_id.stdout == by_identifier.stdout
    missing = run_tack("prompt", "TACK-999", cwd=tmp_path)
    assert_clean_error(missing, "TACK-999", "not found")
