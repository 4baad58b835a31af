"""The issue's acceptance check, end to end on a repository built here from nothing: seeded
violations in Python, JavaScript and TypeScript are found at their locations, `--file-issues`
files each cluster once, and fixing a violation closes its issue."""

from __future__ import annotations

import json
from pathlib import Path

from tests.conftest import git, run_tack

PRINCIPLES = """# Principles of a web shop

## S001: No bare except
Why: It swallows KeyboardInterrupt.
Runbook: Catch the exception you expect.

```yaml check
ast-grep: {language: python, rule: {kind: except_clause, regex: '^except\\s*:'}}
```

## S002: No eval in JavaScript
Why: eval runs whatever string reaches it.

```yaml check
ast-grep: {language: javascript, pattern: eval($$$)}
```

## S003: No `any` in TypeScript
Why: `any` switches the type checker off.

```yaml check
ast-grep: {language: typescript, rule: {kind: predefined_type, regex: '^any$'}}
```

## S004: TODOs name their issue
Why: An anonymous TODO is never done.

```yaml check
python: todo-needs-issue
```
"""

SEEDS = {
    "shop/cart.py": "def total(items):\n    try:\n        return sum(items)\n    except:\n"
                    "        return 0\n",
    "web/app.js": "const x = 1;\n\nfunction run(code) {\n  return eval(code);\n}\n",
    "web/types.ts": "export function parse(raw: string): any {\n  return JSON.parse(raw);\n}\n",
    # tack: allow P016 because this TODO is the seeded violation the test looks for
    "web/util.ts": "// TODO make this faster\nexport const id = (x: number): number => x;\n",
    "web/clean.ts": "export const ok = (x: number): number => x + 1;\n",
}
EXPECTED = {
    ("S001", "shop/cart.py", 4, 5),
    ("S002", "web/app.js", 4, 10),
    ("S003", "web/types.ts", 1, 37),
    ("S004", "web/util.ts", 1, 1),
}


def _scan(repo: Path, *args: str) -> dict:
    result = run_tack("scan", "--json", *args, cwd=repo)
    assert result.returncode in (0, 1), result.stderr
    return json.loads(result.stdout)


def _issues(repo: Path) -> dict[str, dict]:
    listed = run_tack("issue", "list", "--json", cwd=repo)
    assert listed.returncode == 0, listed.stderr
    return {i["identifier"]: i for i in json.loads(listed.stdout)}


def test_seeded_violations_are_found_filed_once_and_closed_when_fixed(tmp_path: Path) -> None:
    repo = tmp_path / "shop"
    repo.mkdir()
    git(repo, "init", "-q", "-b", "main")
    (repo / ".gitignore").write_text(".tack/\n")
    (repo / "PRINCIPLES.md").write_text(PRINCIPLES)
    for rel, text in SEEDS.items():
        (repo / rel).parent.mkdir(parents=True, exist_ok=True)
        (repo / rel).write_text(text)
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", "seed")
    assert run_tack("principles", "lint", cwd=repo).returncode == 0

    found = _scan(repo)["findings"]
    assert {(f["rule"], f["path"], f["line"], f["column"]) for f in found} == EXPECTED
    prose = run_tack("scan", cwd=repo)
    assert prose.returncode == 1
    assert "web/app.js:4:10: S002 No eval in JavaScript" in prose.stdout
    assert "S001 runbook: Catch the exception you expect." in prose.stdout

    first = _scan(repo, "--file-issues")["issues"]
    assert len(first["filed"]) == 4
    issues = _issues(repo)
    assert len(issues) == 4 and {i["state"] for i in issues.values()} == {"Todo"}
    by_path = {next(p for _, p, _, _ in EXPECTED if p in i["title"]): i for i in issues.values()}
    assert "`web/app.js:4`" in by_path["web/app.js"]["description"]

    second = _scan(repo, "--file-issues")["issues"]
    assert second["filed"] == [] and sorted(second["unchanged"]) == sorted(first["filed"])
    assert len(_issues(repo)) == 4

    (repo / "web/app.js").write_text("const x = 1;\n\nfunction run(code) {\n  return code;\n}\n")
    third = _scan(repo, "--file-issues")
    fixed = by_path["web/app.js"]["identifier"]
    assert third["issues"]["closed"] == [fixed] and third["issues"]["filed"] == []
    after = _issues(repo)
    assert after[fixed]["state"] == "Done"
    assert {i["state"] for k, i in after.items() if k != fixed} == {"Todo"}
    assert {f["path"] for f in third["findings"]} == {"shop/cart.py", "web/types.ts",
                                                       "web/util.ts"}
