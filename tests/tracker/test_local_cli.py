"""`tack issue ...` end to end: the real CLI in a subprocess against a real SQLite tracker."""

from __future__ import annotations

import json
from pathlib import Path

from tack.tracker.local import LocalTracker
from tests.conftest import run_tack


def tack(tmp_path: Path, *args: str) -> str:
    result = run_tack("issue", *args, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    return result.stdout


def test_add_prints_only_the_new_identifier_and_numbers_count_up(tmp_path: Path) -> None:
    assert tack(tmp_path, "add", "First") == "TACK-1\n"
    assert tack(tmp_path, "add", "Second", "--priority", "2", "--label", "Bug",
                "--label", " ui ", "--description", "Steps to repro") == "TACK-2\n"
    assert (tmp_path / ".tack" / "issues.db").is_file()
    [second] = [i for i in json.loads(tack(tmp_path, "list", "--json"))
                if i["identifier"] == "TACK-2"]
    assert second["priority"] == 2 and second["labels"] == ["bug", "ui"]
    assert second["description"] == "Steps to repro" and second["state"] == "Todo"


def test_list_shows_a_table_and_json_with_every_issue_field(tmp_path: Path) -> None:
    tack(tmp_path, "add", "Fix login", "--priority", "1", "--label", "auth")
    tack(tmp_path, "add", "Release notes", "--blocked-by", "tack-1", "--state", "In Progress")
    table = tack(tmp_path, "list")
    for text in ("identifier", "blocked by", "TACK-1", "Fix login", "auth", "In Progress",
                 "TACK-1 (Todo)"):
        assert text in table
    issues = json.loads(tack(tmp_path, "list", "--json"))
    assert [i["identifier"] for i in issues] == ["TACK-1", "TACK-2"]
    assert set(issues[0]) >= {"id", "identifier", "title", "description", "priority", "state",
                              "branch_name", "url", "labels", "blocked_by", "dispatchable",
                              "created_at", "updated_at", "native_ref"}
    assert issues[1]["blocked_by"] == [
        {"id": issues[0]["id"], "identifier": "TACK-1", "state": "Todo"}]
    assert issues[1]["dispatchable"] is False and issues[0]["dispatchable"] is True
    only = json.loads(tack(tmp_path, "list", "--state", "in progress", "--json"))
    assert [i["identifier"] for i in only] == ["TACK-2"]
    assert json.loads(tack(tmp_path, "list", "--state", "Nope", "--json")) == []


def test_move_and_comment_then_show_has_description_and_comments(tmp_path: Path) -> None:
    tack(tmp_path, "add", "Fix login", "--description", "It redirects twice.")
    tack(tmp_path, "add", "Docs", "--blocked-by", "TACK-1")
    assert tack(tmp_path, "move", "TACK-1", "Done") == "TACK-1: Todo -> Done\n"
    tack(tmp_path, "comment", "tack-1", "Fixed in abc123", "--author", "ana")
    shown = tack(tmp_path, "show", "TACK-1")
    for text in ("TACK-1", "Fix login", "state: Done", "It redirects twice.", "ana",
                 "Fixed in abc123"):
        assert text in shown
    data = json.loads(tack(tmp_path, "show", "TACK-1", "--json"))
    assert data["state"] == "Done"
    assert [(c["author"], c["body"]) for c in data["comments"]] == [("ana", "Fixed in abc123")]
    assert json.loads(tack(tmp_path, "show", "TACK-2", "--json"))["dispatchable"] is True


def test_bad_input_is_a_clear_error_with_exit_2_and_no_traceback(tmp_path: Path) -> None:
    tack(tmp_path, "add", "One")
    cases = {
        ("add", "x", "--priority", "high"): "priority",
        ("show", "TACK-99"): "tack issue list",
        ("comment", "TACK-42", "hi"): "TACK-42",
        ("add", "x", "--blocked-by", "TACK-7"): "TACK-7",
        ("move", "TACK-1", "  "): "state",
    }
    for args, expected in cases.items():
        result = run_tack("issue", *args, cwd=tmp_path)
        assert result.returncode == 2, args
        assert "Traceback" not in result.stderr
        assert expected.lower() in result.stderr.lower(), (args, result.stderr)
    # Nothing was created by the failed adds: the next identifier is still TACK-2.
    assert tack(tmp_path, "add", "Two") == "TACK-2\n"


def test_workflow_tracker_section_sets_prefix_path_and_terminal_states(tmp_path: Path) -> None:
    project = tmp_path / "project"
    project.mkdir()
    (project / "WORKFLOW.md").write_text(
        "---\ntracker:\n  kind: local\n  terminal_states: [Shipped]\n"
        "  provider:\n    prefix: WEB\n    path: data/issues.db\n---\nWork on {{ issue.title }}.\n"
    )
    workflow = str(project / "WORKFLOW.md")
    assert tack(tmp_path, "add", "Blocker", "--workflow", workflow) == "WEB-1\n"
    assert tack(tmp_path, "add", "Blocked", "-b", "WEB-1", "--workflow", workflow) == "WEB-2\n"
    assert (project / "data" / "issues.db").is_file()
    assert not (tmp_path / ".tack").exists()
    tack(tmp_path, "move", "WEB-1", "Shipped", "--workflow", workflow)
    data = json.loads(tack(tmp_path, "show", "WEB-2", "--json", "--workflow", workflow))
    assert data["dispatchable"] is True
    # The orchestrator's adapter sees what the CLI wrote.
    with LocalTracker(project / "data" / "issues.db", prefix="WEB") as tracker:
        assert [i.identifier for i in tracker.list_issues(["shipped"])] == ["WEB-1"]


def test_workflow_with_another_tracker_kind_or_bad_provider_key_is_refused(tmp_path: Path) -> None:
    (tmp_path / "WORKFLOW.md").write_text(
        "---\ntracker:\n  kind: local\n  provider:\n    prefx: X\n---\nprompt\n")
    result = run_tack("issue", "add", "x", cwd=tmp_path)
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert "tracker.provider.prefx" in result.stderr
    (tmp_path / "WORKFLOW.md").write_text("---\ntracker:\n  kind: linear\n---\nprompt\n")
    result = run_tack("issue", "list", cwd=tmp_path)
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert "tracker.kind" in result.stderr


def test_a_comment_or_title_that_starts_with_a_dash_is_text_not_an_option(
    tmp_path: Path,
) -> None:
    assert tack(tmp_path, "add", "-x flag misparsed", "-p", "2") == "TACK-1\n"
    tack(tmp_path, "comment", "TACK-1", "-1 this is wrong")
    tack(tmp_path, "comment", "TACK-1", "-1", "--author", "ana")
    tack(tmp_path, "comment", "--author=bo", "TACK-1", "--", "--verbose is wrong")
    tack(tmp_path, "comment", "-azed", "TACK-1", "-v")
    data = json.loads(tack(tmp_path, "show", "TACK-1", "--json"))
    assert data["title"] == "-x flag misparsed" and data["priority"] == 2
    assert [(c["author"], c["body"]) for c in data["comments"]] == [
        ("human", "-1 this is wrong"), ("ana", "-1"), ("bo", "--verbose is wrong"),
        ("zed", "-v")]
    missing = run_tack("issue", "comment", "TACK-1", cwd=tmp_path)
    assert missing.returncode == 2 and "Missing argument" in missing.stderr
    no_author = run_tack("issue", "comment", "TACK-1", "text", "--author", cwd=tmp_path)
    assert no_author.returncode == 2 and "requires an argument" in no_author.stderr


def test_list_json_includes_each_issues_comments(tmp_path: Path) -> None:
    tack(tmp_path, "add", "Fix login")
    tack(tmp_path, "add", "Docs")
    tack(tmp_path, "comment", "TACK-2", "first", "--author", "ana")
    tack(tmp_path, "comment", "TACK-2", "second")
    issues = json.loads(tack(tmp_path, "list", "--json"))
    assert [[c["body"] for c in i["comments"]] for i in issues] == [[], ["first", "second"]]
    only = json.loads(tack(tmp_path, "list", "--state", "todo", "--json"))
    assert [c["author"] for c in only[1]["comments"]] == ["ana", "human"]
