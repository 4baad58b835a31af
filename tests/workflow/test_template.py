from __future__ import annotations

from datetime import datetime, timezone
from pathlib import Path

import pytest

from tack.errors import WorkflowError
from tack.tracker.base import BlockerRef, Issue
from tack.workflow import DEFAULT_PROMPT, load_workflow, render_prompt
from tests.workflow.helpers import SYMPHONY_WORKFLOW, write_workflow

ISSUE = Issue(
    id="id-7",
    identifier="TACK-7",
    title="Fix the parser",
    state="In Progress",
    description="It crashes on empty input.",
    priority=2,
    labels=("bug", "parser"),
    blocked_by=(BlockerRef("id-3", "TACK-3", "Done"),),
    created_at=datetime(2026, 1, 2, 3, 4, 5, tzinfo=timezone.utc),
)


def test_issue_fields_lists_and_maps_are_available() -> None:
    template = (
        "{{ issue.identifier }}|{{ issue.priority }}|{{ issue.created_at }}|"
        "{% for l in issue.labels %}[{{ l }}]{% endfor %}|"
        "{% for b in issue.blocked_by %}{{ b.identifier }}={{ b.state }}{% endfor %}|"
        "{{ issue.labels | join: ',' }}|{{ issue.labels.size }}"
    )
    assert render_prompt(template, ISSUE, None) == (
        "TACK-7|2|2026-01-02T03:04:05+00:00|[bug][parser]|TACK-3=Done|bug,parser|2"
    )


def test_attempt_is_falsy_first_and_a_number_after() -> None:
    template = "{% if attempt %}retry {{ attempt }}{% else %}first{% endif %}"
    assert render_prompt(template, ISSUE, None) == "first"
    assert render_prompt(template, ISSUE, 3) == "retry 3"


def test_dict_issue_keys_are_stringified() -> None:
    out = render_prompt("{{ issue.title }} {{ issue.native_ref['1'] }}", {"title": "T", "native_ref": {1: "one"}}, None)
    assert out == "T one"


def test_unknown_variable_fails_naming_file_line_and_available_variables(tmp_path: Path) -> None:
    path = write_workflow(tmp_path, "tracker:\n  kind: local", body="Hello\n\n{{ issue.identifer }}")
    wf = load_workflow(path)
    with pytest.raises(WorkflowError) as err:
        wf.render_prompt(ISSUE)
    assert err.value.code == "template_render_error"
    assert err.value.message.startswith(f"{path}:7: prompt template failed to render: issue.identifer is undefined")
    assert "issue.identifier" in err.value.message and "attempt" in err.value.message


def test_unknown_filter_fails_rendering(tmp_path: Path) -> None:
    with pytest.raises(WorkflowError) as err:
        render_prompt("{{ issue.title | shout }}", ISSUE, None, source=tmp_path / "WORKFLOW.md")
    assert err.value.code == "template_render_error"
    assert "unknown filter 'shout'" in err.value.message
    assert str(tmp_path / "WORKFLOW.md") in err.value.message


def test_parse_error_is_typed() -> None:
    with pytest.raises(WorkflowError) as err:
        render_prompt("{{ issue.title ", ISSUE, None)
    assert err.value.code == "template_parse_error"


def test_blank_template_uses_default_prompt() -> None:
    assert render_prompt("  \n ", ISSUE, None) == DEFAULT_PROMPT


def test_symphony_elixir_prompt_renders_first_run_and_retry() -> None:
    wf = load_workflow(SYMPHONY_WORKFLOW)
    issue = Issue(id="1", identifier="MT-1", title="Add dark mode", state="Todo",
                  labels=("ui",), url="https://linear.app/x/MT-1")
    first = wf.render_prompt(issue)
    assert first.startswith("You are working on a Linear ticket `MT-1`")
    assert "Title: Add dark mode" in first
    assert "URL: https://linear.app/x/MT-1" in first
    assert "No description provided." in first
    assert "follow-up attempt" not in first
    retry = wf.render_prompt(issue, attempt=2)
    assert "This is follow-up attempt #2." in retry
