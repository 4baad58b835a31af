"""`context.yaml`: the organisation's repositories, doc folders and data catalogs, kept in git.

Every entry names its owner and a one-line purpose, so an agent (and a person) knows whom a
result belongs to and why the source exists.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from tack.context import ContextError

NAME_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._-]*$"


class Entry(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(pattern=NAME_PATTERN)
    owner: str = Field(min_length=1)
    purpose: str = Field(min_length=1)


class RepoSource(Entry):
    """A git repository, mirrored bare and indexed at the head of `branch`."""

    url: str | None = None
    path: str | None = None
    branch: str = "main"

    @model_validator(mode="after")
    def _one_location(self) -> RepoSource:
        if bool(self.url) == bool(self.path):
            raise ValueError("give exactly one of `url` or `path`")
        return self


class DocSource(Entry):
    """A folder of Markdown files (relative to the manifest), indexed as its own source."""

    path: str


class CatalogSource(Entry):
    """A data or API catalog: a dbt `manifest.json`, SQL DDL files or an OpenAPI spec. `path`
    is a file or folder inside `repo` when given, else relative to the manifest."""

    kind: Literal["dbt", "ddl", "openapi"]
    path: str
    repo: str | None = None


class ContextManifest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    repos: list[RepoSource] = Field(default_factory=list)
    docs: list[DocSource] = Field(default_factory=list)
    catalogs: list[CatalogSource] = Field(default_factory=list)
    base_dir: Path = Path(".")

    @model_validator(mode="after")
    def _unique_names(self) -> ContextManifest:
        seen: set[str] = set()
        for entry in [*self.repos, *self.docs]:
            if entry.name in seen:
                raise ValueError(f"source name {entry.name!r} is used twice; names of repos "
                                 "and docs must be unique")
            seen.add(entry.name)
        repos = {r.name for r in self.repos}
        for cat in self.catalogs:
            if cat.repo and cat.repo not in repos:
                raise ValueError(f"catalog {cat.name!r} names repo {cat.repo!r}, which is not "
                                 "listed under `repos`")
        return self

    def repo(self, name: str) -> RepoSource:
        for r in self.repos:
            if r.name == name:
                return r
        raise ContextError(f"no repository named {name!r} in the org manifest; known: "
                           + (", ".join(r.name for r in self.repos) or "(none)"))

    def resolve(self, path: str) -> Path:
        p = Path(path).expanduser()
        return p if p.is_absolute() else (self.base_dir / p).resolve()

    def repo_location(self, repo: RepoSource) -> str:
        """What `git clone --mirror` gets: the URL, or the resolved local path."""
        return repo.url or str(self.resolve(repo.path or "."))


def load_manifest(path: str | Path) -> ContextManifest:
    """Parse and validate `context.yaml`; errors name the file, the key and the fix."""
    file = Path(path).expanduser().resolve()
    if not file.is_file():
        raise ContextError(f"org manifest {file} does not exist; create it (see docs/context.md) "
                           "or set `context.manifest` in WORKFLOW.md to its path")
    try:
        data = yaml.safe_load(file.read_text(encoding="utf-8")) or {}
    except yaml.YAMLError as exc:
        raise ContextError(f"{file} is not valid YAML ({exc}); fix the syntax") from None
    if not isinstance(data, dict):
        raise ContextError(f"{file} must be a YAML map with `repos`, `docs` and `catalogs` "
                           "lists; see docs/context.md")
    try:
        return ContextManifest.model_validate({**data, "base_dir": file.parent})
    except ValidationError as exc:
        problems = "; ".join(_problem(data, e) for e in exc.errors())
        raise ContextError(f"{file}: {problems}. Fix these keys (reference: docs/context.md)."
                           ) from None


def _problem(data: dict[str, object], error: object) -> str:
    assert isinstance(error, dict)
    loc: tuple[object, ...] = tuple(error.get("loc") or ())
    key = ".".join(str(p) for p in loc) or "(top level)"
    # Name the entry by its `name` so the reader finds it without counting list items.
    position = loc[1] if len(loc) >= 2 else None
    if isinstance(position, int):
        items = data.get(str(loc[0]))
        if isinstance(items, list) and position < len(items) and isinstance(items[position], dict):
            name = items[position].get("name")
            if name:
                key = re.sub(r"^(\w+)\.\d+", rf"\1[{name}]", key)
    msg = str(error.get("msg", "invalid"))
    if error.get("type") == "missing":
        msg = "is required"
    elif error.get("type") == "extra_forbidden":
        msg = "is not a known key"
    return f"`{key}` {msg}"
