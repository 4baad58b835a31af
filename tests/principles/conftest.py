"""Fixtures for the principles tests: a real git repository with a small PRINCIPLES.md."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.conftest import git, run_tack

PRINCIPLES = '''# Golden principles

## P001: No bare except
Why: A bare except swallows KeyboardInterrupt and hides bugs.
Runbook: Catch the specific exception you expect.
Severity: error

```python bad
try:
    go()
except:
    pass
```

```python good
try:
    go()
except ValueError:
    pass
```

```yaml check
ast-grep:
  language: python
  rule:
    kind: except_clause
    regex: '^except\\s*:'
```

## P002: Modules have a docstring
Why: Readers need to know what a file is for.

```yaml check
python: module-docstring
files: ["src/**/*.py"]
```

## P003: No console.log in shipped JavaScript
Why: Debug output leaks into users' consoles.

```js bad
console.log("here")
```

```yaml check
ast-grep:
  language: javascript
  pattern: console.log($$$)
exclude: ["tests/**"]
```
'''

CLEAN_PY = '"""A clean module."""\n\nVALUE = 1\n'
BARE_EXCEPT = (
    '"""Has a bare except."""\n'
    "\n"
    "def run():\n"
    "    try:\n"
    "        go()\n"
    "    except:\n"
    "        pass\n"
)


def write(repo: Path, rel: str, text: str) -> Path:
    path = repo / rel
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


def commit(repo: Path, message: str = "change") -> None:
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", message)


@pytest.fixture
def prepo(git_repo: Path) -> Path:
    """A repository with PRINCIPLES.md, one clean module and one bare except, committed."""
    write(git_repo, "PRINCIPLES.md", PRINCIPLES)
    write(git_repo, ".gitignore", ".tack/\n")
    write(git_repo, "src/app/clean.py", CLEAN_PY)
    write(git_repo, "src/app/risky.py", BARE_EXCEPT)
    commit(git_repo, "seed")
    return git_repo


def scan_json(repo: Path, *args: str, env: dict[str, str] | None = None) -> dict:
    result = run_tack("scan", "--json", *args, cwd=repo, env=env)
    assert result.returncode in (0, 1), result.stderr
    data = json.loads(result.stdout)
    assert (result.returncode == 1) == bool(data["findings"]), result.stdout
    return data


def locations(data: dict) -> set[tuple[str, str, int]]:
    return {(f["rule"], f["path"], f["line"]) for f in data["findings"]}
