"""Principles reach agents at the right time: a prompt gets those relevant to the issue and
the files it touches, not the whole list."""

from __future__ import annotations

from pathlib import Path

from tack.principles import parse_document
from tack.principles.selection import (
    changed_paths,
    paths_in_text,
    principles_for_prompt,
    prompt_view,
    relevant_principles,
)
from tack.tracker.base import Issue
from tack.workflow.config import ServiceConfig
from tests.conftest import git
from tests.principles.conftest import commit, write

DOC = '''# Principles

## PY1: No bare except in Python
Why: A bare except swallows KeyboardInterrupt and hides bugs.
Runbook: Catch the exception you expect.

```python bad
try:
    go()
except:
    pass
```

```yaml check
ast-grep:
  language: python
  rule: {kind: except_clause, regex: '^except\\s*:'}
```

## PY2: Tests poll with a deadline instead of sleeping
Why: Sleeping tests are flaky on a loaded CI machine.

```yaml check
ast-grep:
  language: python
  pattern: time.sleep($$$)
files: ["tests/**/*.py"]
```

## JS1: No console.log in shipped JavaScript
Why: Debug output leaks into users' browser consoles.

```yaml check
ast-grep:
  language: javascript
  pattern: console.log($$$)
```

## DOC1: Documentation examples are copy-paste runnable
Why: Readers paste the commands in the docs; a broken example costs them an hour.
Runbook: Run every command block of the page before committing it.

```markdown bad
Run `tack strat` to begin.
```

```yaml check
python: todo-needs-issue
files: ["docs/**/*.md", "README.md"]
```

## SEC1: Secrets never reach logs
Why: An API key or token printed in a log line leaks to everyone who reads the logs.
'''


def _doc():
    doc = parse_document(DOC, Path("PRINCIPLES.md"))
    assert not doc.problems
    return doc


def _ids(principles) -> list[str]:
    return [p.id for p in principles]


def test_a_python_issue_gets_the_python_principles() -> None:
    chosen = relevant_principles(
        _doc(), issue_text="Retry loop swallows errors\nThe dispatcher retries forever.",
        paths=["src/app/dispatch.py"])
    assert set(_ids(chosen)) >= {"PY1"}
    assert not {"JS1", "DOC1"} & set(_ids(chosen))
    # PY2 is about tests/: its language matches but its globs do not, so it ranks lower.
    if "PY2" in _ids(chosen):
        assert _ids(chosen).index("PY1") < _ids(chosen).index("PY2")


def test_a_test_file_issue_puts_the_test_principle_first() -> None:
    chosen = relevant_principles(_doc(), issue_text="Flaky test in the dispatcher",
                                 paths=["tests/test_dispatch.py"])
    assert _ids(chosen)[0] == "PY2"
    assert "JS1" not in _ids(chosen)


def test_a_docs_issue_gets_the_docs_principles() -> None:
    chosen = relevant_principles(
        _doc(), issue_text="Update the getting-started page in docs/start.md",
        paths=paths_in_text("Update the getting-started page in docs/start.md"))
    assert _ids(chosen)[0] == "DOC1"
    assert not {"PY1", "PY2", "JS1"} & set(_ids(chosen))


def test_text_similarity_finds_principles_without_any_path() -> None:
    chosen = relevant_principles(_doc(), issue_text="The server logs the API key on startup",
                                 paths=[])
    assert _ids(chosen) == ["SEC1"]


def test_limit_is_honoured_and_irrelevant_ones_are_excluded() -> None:
    paths = ["src/a.py", "web/app.js", "docs/x.md", "tests/test_a.py"]
    assert len(relevant_principles(_doc(), issue_text="misc", paths=paths, limit=2)) == 2
    assert len(relevant_principles(_doc(), issue_text="misc", paths=paths, limit=10)) == 4
    assert relevant_principles(_doc(), issue_text="Rename the logo colour", paths=[]) == []
    assert relevant_principles(_doc(), issue_text="anything", paths=paths, limit=0) == []


def test_prompt_view_has_what_templates_need() -> None:
    view = prompt_view(_doc().get("DOC1"))  # type: ignore[arg-type]
    assert view == {"id": "DOC1", "title": "Documentation examples are copy-paste runnable",
                    "why": "Readers paste the commands in the docs; a broken example costs "
                           "them an hour.",
                    "runbook": "Run every command block of the page before committing it."}


def test_paths_in_issue_text() -> None:
    text = "See src/tack/core.py, `README.md` and docs/ (e.g. and/or https://x.io/a.py)."
    assert paths_in_text(text) == ["src/tack/core.py", "README.md", "docs/"]


def _issue(title: str, description: str = "") -> Issue:
    return Issue(id="1", identifier="T-1", title=title, state="Todo", description=description)


def test_principles_for_prompt_reads_the_workspace_diff(git_repo: Path) -> None:
    write(git_repo, "PRINCIPLES.md", DOC)
    write(git_repo, "app/main.py", "x = 1\n")
    commit(git_repo, "seed")
    git(git_repo, "branch", "-M", "main")
    git(git_repo, "checkout", "-q", "-b", "feature")
    write(git_repo, "web/app.js", "console.log(1)\n")
    commit(git_repo, "js")
    write(git_repo, "web/other.ts", "let a = 1\n")  # uncommitted work counts too
    assert changed_paths(git_repo) == ["web/app.js", "web/other.ts"]

    views = principles_for_prompt(ServiceConfig(), git_repo, git_repo, _issue("Polish the UI"), 3)
    assert [v["id"] for v in views] == ["JS1"]
    assert set(views[0]) == {"id", "title", "why", "runbook"}
    # Without a workspace only the issue's own words and paths count.
    views = principles_for_prompt(ServiceConfig(), git_repo, None,
                                  _issue("Crash", "in app/main.py"), 3)
    assert "PY1" in [v["id"] for v in views] and "JS1" not in [v["id"] for v in views]


def test_principles_for_prompt_without_a_usable_document(tmp_path: Path) -> None:
    issue = _issue("Anything", "src/a.py")
    assert principles_for_prompt(ServiceConfig(), tmp_path, None, issue, 5) == []
    (tmp_path / "PRINCIPLES.md").write_text("## P1: No why here\n")
    assert principles_for_prompt(ServiceConfig(), tmp_path, None, issue, 5) == []
    (tmp_path / "PRINCIPLES.md").write_bytes(b"\xff\xfe\x00bad")
    assert principles_for_prompt(ServiceConfig(), tmp_path, None, issue, 5) == []
