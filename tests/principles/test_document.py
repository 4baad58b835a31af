"""PRINCIPLES.md: parsing, `tack principles lint|list|show|add`."""

from __future__ import annotations

import json
from pathlib import Path

from tack.principles.document import parse_document
from tack.principles.drafting import draft_from_comment
from tack.principles.lint import lint
from tack.testing.stub_model import StubModelServer
from tests.conftest import run_tack
from tests.principles.conftest import PRINCIPLES, write

BROKEN = PRINCIPLES + """
## P001: Duplicate id
Why: Copy-paste.

## P005: Rule that misses its bad example
Why: Examples keep rules honest.

```python bad
eval(source)
```

```yaml check
ast-grep:
  language: python
  pattern: exec($$$)
```

## P006: Unknown check
Why: Typos happen.

```yaml check
python: no-such-check
```

## P007: Bad YAML
Why: Also happens.

```yaml check
ast-grep: {language: python, pattern: [
```

## P008: No why here
"""


def test_document_model_has_every_part() -> None:
    doc = parse_document(PRINCIPLES, Path("PRINCIPLES.md"))
    assert [p.id for p in doc.principles] == ["P001", "P002", "P003"]
    p1 = doc.principles[0]
    assert p1.title == "No bare except" and p1.severity == "error" and p1.line == 3
    assert p1.why.startswith("A bare except") and p1.runbook
    assert [(e.kind, e.language) for e in p1.examples] == [("bad", "python"), ("good", "python")]
    assert p1.check and p1.check.kind == "ast-grep" and p1.check.language == "python"
    assert doc.principles[1].check and doc.principles[1].check.name == "module-docstring"
    assert doc.next_id() == "P004" and doc.problems == ()


def test_lint_names_file_line_and_fix_for_each_problem(tmp_path: Path) -> None:
    write(tmp_path, "PRINCIPLES.md", BROKEN)
    result = run_tack("principles", "lint", cwd=tmp_path)
    assert result.returncode == 1
    out = result.stdout
    path = tmp_path / "PRINCIPLES.md"
    lines = BROKEN.splitlines()

    def line_of(text: str) -> int:
        return next(n for n, line in enumerate(lines, 1) if line.startswith(text))

    assert f"{path}:{line_of('## P001: Duplicate')}: error: P001 is used twice" in out
    fence = lines.index("eval(source)")  # 0-based index of the code = 1-based fence line
    assert f"{path}:{fence}: error: P005: the ast-grep rule does not match this `bad`" in out
    assert "no Python check named 'no-such-check'" in out
    assert "not valid YAML" in out
    assert f"{path}:{line_of('## P008')}: error: P008 has no `Why:` line." in out
    assert all(" Fix: " in line for line in out.splitlines() if ": error: " in line)


def test_lint_checks_rules_against_their_examples() -> None:
    text = PRINCIPLES.replace("regex: '^except\\s*:'", "regex: '^except'")
    problems = lint(parse_document(text, Path("P.md")))
    assert [p.message for p in problems if p.level == "error"] == [
        "P001: the ast-grep rule matches this `good` example (1 match(es))."]


def test_list_and_show(prepo: Path) -> None:
    listed = run_tack("principles", "list", cwd=prepo)
    assert listed.returncode == 0, listed.stderr
    assert listed.stdout.splitlines()[0] == "P001\terror\tast-grep\tNo bare except"
    shown = run_tack("principles", "show", "p002", cwd=prepo)
    assert shown.stdout.startswith("## P002: Modules have a docstring")
    assert "## P003" not in shown.stdout
    missing = run_tack("principles", "show", "P404", cwd=prepo)
    assert missing.returncode == 2 and "P001, P002, P003" in missing.stderr


def test_draft_from_a_review_comment_is_deterministic() -> None:
    comment = ("nit: don't call `time.sleep(...)` in tests. It makes CI flaky on loaded "
               "machines; poll with a deadline instead.\n\n```python\ntime.sleep(2)\n```\n")
    draft = draft_from_comment(comment, principle_id="P009", source="a review comment")
    assert draft == draft_from_comment(comment, principle_id="P009", source="a review comment")
    doc = parse_document(draft, Path("draft.md"))
    (p,) = doc.principles
    assert p.id == "P009" and p.title == "Don't call `time.sleep(...)` in tests"
    assert p.why.startswith("It makes CI flaky")
    assert [(e.kind, e.code) for e in p.examples] == [("bad", "time.sleep(2)\n")]
    assert p.check and p.check.config == {"rule": {"pattern": "time.sleep($$$ARGS)"}}
    assert lint(doc) == []  # the drafted rule matches its own bad example


def test_add_from_comment_appends_a_valid_principle(prepo: Path) -> None:
    result = run_tack("principles", "add", "--from-comment",
                      "Please avoid `os.system(...)`: a shell string is an injection risk.",
                      cwd=prepo)
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("added P004 to ")
    lint_result = run_tack("principles", "lint", "--json", cwd=prepo)
    assert lint_result.returncode == 0, lint_result.stdout
    shown = json.loads(run_tack("principles", "show", "P004", "--json", cwd=prepo).stdout)
    assert shown["title"] == "Avoid `os.system(...)`: a shell string is an injection risk"
    assert shown["check"]["config"] == {"rule": {"pattern": "os.system($$$ARGS)"}}


def test_add_from_a_local_tracker_issue_thread(prepo: Path) -> None:
    ident = run_tack("issue", "add", "Review of PR 7", cwd=prepo).stdout.strip()
    for text in ("LGTM", "Never log the API key. It ends up in CI logs and the dashboard."):
        assert run_tack("issue", "comment", ident, text, cwd=prepo).returncode == 0
    result = run_tack("principles", "add", "--from-issue", ident, "--dry-run", cwd=prepo)
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("## P004: Never log the API key\n")
    assert f"from {ident}, comment by human" in result.stdout
    assert "P004" not in (prepo / "PRINCIPLES.md").read_text()


def test_add_from_a_github_comment_thread_export(prepo: Path, tmp_path: Path) -> None:
    export = [  # shaped like GET /repos/{owner}/{repo}/issues/{n}/comments
        {"id": 1, "node_id": "IC_1", "url": "https://api.github.com/repos/o/r/issues/comments/1",
         "html_url": "https://github.com/o/r/pull/3#issuecomment-1", "body": "+1",
         "user": {"login": "octocat", "id": 1, "type": "User"}, "created_at":
         "2024-01-01T00:00:00Z", "updated_at": "2024-01-01T00:00:00Z",
         "author_association": "MEMBER"},
        {"id": 2, "node_id": "IC_2", "url": "https://api.github.com/repos/o/r/issues/comments/2",
         "html_url": "https://github.com/o/r/pull/3#issuecomment-2",
         "body": "Use `datetime.now(timezone.utc)`, never naive datetimes. Naive ones compare "
                 "wrongly across machines.",
         "user": {"login": "hubot", "id": 2, "type": "User"}, "created_at":
         "2024-01-02T00:00:00Z", "updated_at": "2024-01-02T00:00:00Z",
         "author_association": "MEMBER"},
    ]
    path = tmp_path / "comments.json"
    path.write_text(json.dumps(export))
    result = run_tack("principles", "add", "--from-json", str(path), cwd=prepo)
    assert result.returncode == 0, result.stderr
    doc = parse_document((prepo / "PRINCIPLES.md").read_text(), prepo / "PRINCIPLES.md")
    assert [p.id for p in doc.principles] == ["P001", "P002", "P003", "P004"]
    assert doc.principles[-1].title.startswith("Use `datetime.now(timezone.utc)`")
    bad = tmp_path / "bad.json"
    bad.write_text('{"message": "Not Found"}')
    err = run_tack("principles", "add", "--from-json", str(bad), cwd=prepo)
    assert err.returncode == 2 and "expected a JSON array" in err.stderr


def test_add_with_a_model_uses_the_builtin_endpoint(prepo: Path) -> None:
    draft = ("## P1: Poll with a deadline in tests\n\nWhy: Sleeps are flaky.\n\n"
             "Runbook: Loop until the condition holds or 30 s pass.\n")
    with StubModelServer({"conversations": [{"match": "review comment", "steps": [
            {"text": f"Here it is:\n\n{draft}"}]}]}) as stub:
        write(prepo, "WORKFLOW.md", f"---\nbuiltin: {{base_url: '{stub.url}'}}\n---\nprompt\n")
        result = run_tack("principles", "add", "--model", "default", "--from-comment",
                          "don't sleep in tests, it is flaky", cwd=prepo)
        assert len(stub.requests) == 1
    assert result.returncode == 0, result.stderr
    assert "## P004: Poll with a deadline in tests" in (prepo / "PRINCIPLES.md").read_text()
