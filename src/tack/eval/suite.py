"""Task suites: a directory of task files or one JSONL file, validated with pydantic.

A task names where its repository comes from (a local path, a git URL at a commit, or a
PyPI sdist), the issue an agent gets, and the hidden verification it never sees.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from tack.errors import TackError

DEFAULT_TEST_COMMAND = "python -m pytest -q -p no:cacheprovider"


class EvalError(TackError):
    """A suite, a variant or a run cannot be used as given."""

    code = "eval_error"


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid")


class RepoSource(_Model):
    """Exactly one of `path`, `git` or `sdist`."""

    path: str | None = None
    git: str | None = None
    commit: str | None = None
    sdist: str | None = None

    @model_validator(mode="after")
    def _one_kind(self) -> RepoSource:
        kinds = [k for k in ("path", "git", "sdist") if getattr(self, k)]
        if len(kinds) != 1:
            raise ValueError("set exactly one of `path`, `git` (with `commit`) or `sdist`")
        if self.sdist and "==" not in self.sdist:
            raise ValueError("`sdist` must be pinned as `name==version`")
        return self

    def label(self) -> str:
        if self.sdist:
            return f"sdist {self.sdist}"
        if self.git:
            return f"git {self.git}@{self.commit or 'HEAD'}"
        return f"path {self.path}"


class Replacement(_Model):
    """A seeded change applied to the source before the agent's first commit."""

    path: str
    old: str
    new: str


class IssueSpec(_Model):
    title: str
    description: str = ""
    labels: list[str] = Field(default_factory=list)


class Verification(_Model):
    """Hidden tests: run in a clean checkout of the agent's branch after the hand-off."""

    command: str = DEFAULT_TEST_COMMAND
    fail_to_pass: list[str] = Field(min_length=1)
    pass_to_pass: list[str] = Field(default_factory=list)
    # Test files the agent never sees, written into the checkout before the tests run.
    files: dict[str, str] = Field(default_factory=dict)
    # A unified diff applied with `git apply` (SWE-bench's test_patch).
    patch: str | None = None
    timeout_s: float = Field(default=300, gt=0)
    # Load every installed pytest plug-in (off: only those the command names with `-p`).
    plugin_autoload: bool = False


class Task(_Model):
    id: str = Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")
    repo: RepoSource
    issue: IssueSpec
    setup: str | None = None
    seed: list[Replacement] = Field(default_factory=list)
    verify: Verification
    kind: str = "bug"


class Suite(BaseModel):
    name: str
    origin: Path
    tasks: list[Task]

    def base_dir(self) -> Path:
        """Relative `repo.path`s resolve against the suite's directory."""
        return self.origin if self.origin.is_dir() else self.origin.parent


def _task(data: Any, where: str) -> Task:
    if not isinstance(data, dict):
        raise EvalError(f"{where}: a task must be a mapping with `id`, `repo`, `issue` and "
                        "`verify`; see docs/eval.md.")
    try:
        return Task.model_validate(data)
    except ValidationError as exc:
        err = exc.errors()[0]
        key = ".".join(str(p) for p in err["loc"]) or "(task)"
        raise EvalError(
            f"{where}: key `{key}`: {err['msg']}. Fix that key in the task "
            "(task format: docs/eval.md)."
        ) from None


def load_suite(path: str | Path) -> Suite:
    """A directory of `*.json`/`*.yaml` task files (or its `tasks.jsonl`), or a JSONL file."""
    origin = Path(path).expanduser().resolve()
    tasks: list[Task] = []
    if origin.is_dir() and (origin / "tasks.jsonl").is_file():
        return load_suite(origin / "tasks.jsonl").model_copy(update={"origin": origin,
                                                                     "name": origin.name})
    if origin.is_dir():
        files = sorted(p for p in origin.iterdir()
                       if p.suffix in (".json", ".yaml", ".yml") and p.is_file())
        for file in files:
            try:
                data = yaml.safe_load(file.read_text("utf-8"))
            except yaml.YAMLError as exc:
                raise EvalError(f"{file}: not valid YAML/JSON ({exc}). Fix the syntax.") from None
            tasks.append(_task(data, str(file)))
        name = origin.name
    elif origin.is_file():
        for n, line in enumerate(origin.read_text("utf-8").splitlines(), start=1):
            if not line.strip():
                continue
            try:
                data = json.loads(line)
            except json.JSONDecodeError as exc:
                raise EvalError(f"{origin}:{n}: not valid JSON ({exc.msg}). Each line of a "
                                "JSONL suite is one task object.") from None
            tasks.append(_task(data, f"{origin}:{n}"))
        name = origin.stem
    else:
        raise EvalError(f"suite {origin} does not exist; pass a directory of task files or a "
                        "JSONL file (`tack eval suite starter DIR` writes one).")
    if not tasks:
        raise EvalError(f"suite {origin} has no tasks; add task files (docs/eval.md).")
    seen: set[str] = set()
    for task in tasks:
        if task.id in seen:
            raise EvalError(f"suite {origin}: task id `{task.id}` appears twice; ids must be "
                            "unique.")
        seen.add(task.id)
    return Suite(name=name, origin=origin, tasks=tasks)
