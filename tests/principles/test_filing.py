"""`tack scan --file-issues`: one issue per cluster, never twice, closed when fixed."""

from __future__ import annotations

import json
from pathlib import Path

from tests.conftest import git, run_tack
from tests.principles.conftest import BARE_EXCEPT, commit, write


def _issues(repo: Path) -> list[dict]:
    result = run_tack("issue", "list", "--json", cwd=repo)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def _file(repo: Path, *args: str) -> dict:
    result = run_tack("scan", "--json", "--file-issues", *args, cwd=repo)
    assert result.returncode in (0, 1), result.stderr
    return json.loads(result.stdout)["issues"]


def test_issues_are_filed_once_closed_when_fixed_and_reopened(prepo: Path) -> None:
    write(prepo, "src/app/two.py", BARE_EXCEPT + BARE_EXCEPT.replace('"""Has a bare except."""',
                                                                     ""))
    first = _file(prepo)
    assert len(first["filed"]) == 2  # risky.py and two.py (two findings, one cluster)
    issues = {i["identifier"]: i for i in _issues(prepo)}
    two = next(i for i in issues.values() if "two.py" in i["title"])
    assert two["labels"] == ["tack-scan", "principle:p001"] and two["state"] == "Todo"
    assert "src/app/two.py:6" in two["description"] and "src/app/two.py:13" in two["description"]
    assert "Runbook: Catch the specific exception you expect." in two["description"]

    again = _file(prepo)
    assert again["filed"] == [] and sorted(again["unchanged"]) == sorted(first["filed"])
    assert len(_issues(prepo)) == 2

    write(prepo, "src/app/two.py", '"""Fixed."""\n')
    fixed = _file(prepo)
    assert fixed["closed"] == [two["identifier"]]
    shown = json.loads(run_tack("issue", "show", two["identifier"], "--json", cwd=prepo).stdout)
    assert shown["state"] == "Done"
    assert "violation is gone" in shown["comments"][-1]["body"]

    write(prepo, "src/app/two.py", BARE_EXCEPT)
    back = _file(prepo)
    assert back["reopened"] == [two["identifier"]] and back["filed"] == []
    assert len(_issues(prepo)) == 2


def test_a_partial_scan_closes_nothing_it_did_not_look_at(prepo: Path) -> None:
    base = git(prepo, "rev-parse", "HEAD").strip()
    assert len(_file(prepo)["filed"]) == 1
    write(prepo, "src/app/other.py", '"""Other."""\n')
    commit(prepo)
    partial = _file(prepo, "--since", base)
    assert partial["closed"] == [] and partial["filed"] == []
    assert [i["state"] for i in _issues(prepo)] == ["Todo"]
