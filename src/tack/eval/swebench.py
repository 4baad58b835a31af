"""`tack eval import-swebench`: SWE-bench JSONL records as a Tack suite.

A record's repository (`owner/name`) must be cloned locally, as `REPOS/owner__name` or
`REPOS/name`; the task checks it out at `base_commit`. `test_patch` becomes the hidden
patch, `FAIL_TO_PASS`/`PASS_TO_PASS` the hidden test ids.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from tack.eval.suite import EvalError, Task


def _ids(value: Any) -> list[str]:
    if isinstance(value, str):
        value = json.loads(value) if value.strip() else []
    return [str(x) for x in value or []]


def _local_clone(repos: Path, name: str) -> Path | None:
    for candidate in (repos / name.replace("/", "__"), repos / name.split("/")[-1]):
        if (candidate / ".git").exists():
            return candidate.resolve()
    return None


def import_swebench(file: Path, repos: Path, out: Path) -> tuple[int, list[str]]:
    if not file.is_file():
        raise EvalError(f"{file} does not exist; pass a SWE-bench JSONL file.")
    tasks: list[str] = []
    skipped: list[str] = []
    for n, line in enumerate(file.read_text("utf-8").splitlines(), start=1):
        if not line.strip():
            continue
        try:
            rec = json.loads(line)
            instance, repo, commit = rec["instance_id"], rec["repo"], rec["base_commit"]
            statement = rec["problem_statement"]
            f2p, p2p = _ids(rec["FAIL_TO_PASS"]), _ids(rec.get("PASS_TO_PASS"))
        except (json.JSONDecodeError, KeyError, TypeError) as exc:
            raise EvalError(f"{file}:{n}: not a SWE-bench record ({exc!r}); each line needs "
                            "instance_id, repo, base_commit, problem_statement, FAIL_TO_PASS."
                            ) from None
        clone = _local_clone(repos, repo)
        if clone is None:
            skipped.append(instance)
            continue
        title = statement.strip().splitlines()[0][:120] if statement.strip() else instance
        task = Task.model_validate({
            "id": instance.replace("/", "__"),
            "repo": {"git": str(clone), "commit": commit},
            "issue": {"title": title, "description": statement, "labels": ["swe-bench"]},
            "verify": {"fail_to_pass": f2p, "pass_to_pass": p2p,
                       "patch": rec.get("test_patch") or None},
        })
        tasks.append(task.model_dump_json(exclude_defaults=True))
    out.write_text("".join(t + "\n" for t in tasks), "utf-8")
    return len(tasks), skipped
