"""Load WORKFLOW.md: split the YAML front matter from the Liquid body, resolve `$VAR`s, and
validate into a typed `ServiceConfig` (Symphony SPEC §5, §6.1). Every error names the file,
the line, the key and the fix.
"""

from __future__ import annotations

import copy
import difflib
import hashlib
import os
import re
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ValidationError

from tack.errors import WorkflowError
from tack.tracker.base import Issue
from tack.workflow.config import KNOWN_SECTIONS, RESERVED_SECTIONS, ServiceConfig
from tack.workflow.template import parse_template, render_prompt, template_warnings

_VAR_NAME = r"[A-Za-z_][A-Za-z0-9_]*"
_EXACT_VAR = re.compile(rf"^\$(?:\{{({_VAR_NAME})\}}|({_VAR_NAME}))$")
_ANY_VAR = re.compile(rf"\$(?:\{{({_VAR_NAME})\}}|({_VAR_NAME}))")

# Values that may hold a secret: `$VAR` that is unset or empty means "not configured".
SECRET_KEYS = (("builtin", "api_key"), ("server", "token"), ("tracker", "api_key"),
               ("pull_requests", "api_key"))
# Settings that must resolve when they name a variable.
SETTING_KEYS = (("builtin", "base_url"),)
PATH_KEYS = (("workspace", "root"), ("workspace", "repo"), ("store", "path"))


@dataclass(frozen=True)
class Workflow:
    """A loaded WORKFLOW.md: typed config, the raw map, and the prompt template."""

    path: Path
    config: ServiceConfig
    raw: dict[str, Any]
    prompt_template: str
    warnings: tuple[str, ...] = ()
    # Lines of the file before the first line of `prompt_template`, for error locations.
    template_line_offset: int = 0

    @property
    def base_dir(self) -> Path:
        return self.path.parent

    @property
    def tack_dir(self) -> Path:
        return self.base_dir / ".tack"

    def _resolve(self, value: str) -> Path:
        p = Path(value).expanduser()
        return (p if p.is_absolute() else self.base_dir / p).resolve()

    def repo_dir(self) -> Path:
        repo = self.config.workspace.repo
        return self._resolve(repo) if repo else self.base_dir.resolve()

    def workspace_root(self) -> Path:
        root = self.config.workspace.root
        if root:
            return self._resolve(root)
        # Per repository, so two repositories' TACK-1 never share a workspace.
        repo = self.repo_dir()
        digest = hashlib.sha256(str(repo).encode()).hexdigest()[:8]
        return Path(tempfile.gettempdir()).resolve() / "tack_workspaces" / f"{repo.name}-{digest}"

    def store_path(self) -> Path:
        store = self.config.store.path
        return self._resolve(store) if store else self.tack_dir / "state.db"

    def render_prompt(self, issue: Issue | dict[str, Any], attempt: int | None = None, *,
                      lessons: list[dict[str, Any]] | None = None,
                      principles: list[dict[str, Any]] | None = None,
                      extra: Mapping[str, Any] | None = None) -> str:
        return render_prompt(
            self.prompt_template,
            issue,
            attempt,
            source=self.path,
            line_offset=self.template_line_offset,
            lessons=lessons,
            principles=principles,
            extra=extra,
        )


# --- reading and splitting -------------------------------------------------------------


def _read(path: Path) -> str:
    try:
        data = path.read_bytes()
    except FileNotFoundError as exc:
        raise WorkflowError(
            f"{path}: no WORKFLOW.md here. Run `tack init` to write one, or pass "
            "`--workflow PATH` to use another file.",
            code="missing_workflow_file",
        ) from exc
    except OSError as exc:
        raise WorkflowError(
            f"{path}: cannot read the workflow file ({exc.strerror or exc}). Check that it is "
            "a readable file, or run `tack init` to write one.",
            code="missing_workflow_file",
        ) from exc
    try:
        return data.decode("utf-8").removeprefix("\ufeff")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        raise WorkflowError(
            f"{path}:{line}: the workflow file is not valid UTF-8. Save it as UTF-8.",
            code="workflow_parse_error",
        ) from exc


def split_front_matter(text: str, path: Path) -> tuple[str | None, str, int]:
    """(front matter YAML or None, trimmed body, file lines before the body)."""
    lines = text.splitlines(keepends=True)
    if not lines or lines[0].rstrip() != "---":
        closing = 0
        front: str | None = None
        raw_body = text
    else:
        closing = next((i for i in range(1, len(lines)) if lines[i].rstrip() == "---"), -1)
        if closing < 0:
            raise WorkflowError(
                f"{path}:1: front matter starts with `---` but no closing `---` line follows. "
                "Add a line with just `---` after the YAML settings.",
                code="workflow_parse_error",
            )
        front = "".join(lines[1:closing])
        raw_body = "".join(lines[closing + 1 :])
        closing += 1  # lines consumed, counting the closing `---`
    leading = raw_body[: len(raw_body) - len(raw_body.lstrip())]
    return front, raw_body.strip(), closing + leading.count("\n")


def _parse_yaml(front: str, path: Path) -> tuple[dict[str, Any], yaml.Node | None]:
    try:
        node = yaml.compose(front, Loader=yaml.SafeLoader)
        data = yaml.safe_load(front)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None) or getattr(exc, "context_mark", None)
        line = f":{mark.line + 2}" if mark is not None else ""  # +1 for 1-based, +1 for `---`
        problem = getattr(exc, "problem", None) or str(exc)
        context = getattr(exc, "context", None)
        detail = f"{context}, {problem}" if context else problem
        raise WorkflowError(
            f"{path}{line}: front matter is not valid YAML: {detail}. Fix the YAML between "
            "the `---` lines (check indentation, and quote values that contain `: ` or `#`).",
            code="workflow_parse_error",
        ) from exc
    if data is None:
        return {}, None
    if not isinstance(data, dict):
        raise WorkflowError(
            f"{path}:2: front matter must be a map of settings (`key: value` lines), but it is "
            f"a {type(data).__name__}. Write settings such as `tracker:` and `agent:` at the "
            "top level.",
            code="workflow_front_matter_not_a_map",
        )
    return {str(k): v for k, v in data.items()}, node


def line_of(node: yaml.Node | None, keys: tuple[Any, ...], offset: int = 1) -> int | None:
    """The file line of the deepest part of `keys` present in the YAML node tree."""
    line: int | None = None
    for key in keys:
        if isinstance(node, yaml.MappingNode):
            match = next(((k, v) for k, v in node.value if str(k.value) == str(key)), None)
            if match is None:
                break
            line = match[0].start_mark.line + 1 + offset
            node = match[1]
        elif isinstance(node, yaml.SequenceNode) and isinstance(key, int):
            if key >= len(node.value):
                break
            node = node.value[key]
            line = node.start_mark.line + 1 + offset
        else:
            break
    return line


# --- $VAR resolution ---------------------------------------------------------------------


class _Problems:
    def __init__(self, path: Path, node: yaml.Node | None) -> None:
        self.path = path
        self.node = node
        self.found: list[tuple[int, str]] = []

    def add(self, keys: tuple[Any, ...], text: str) -> None:
        line = line_of(self.node, keys)
        where = f"{self.path}:{line}" if line else str(self.path)
        dotted = ".".join(str(k) for k in keys)
        self.found.append((line or 0, f"{where}: {dotted}: {text}"))

    @property
    def items(self) -> list[str]:
        return [text for _, text in sorted(self.found, key=lambda item: item[0])]


def _env_secret(value: Any) -> Any:
    if isinstance(value, str):
        match = _EXACT_VAR.match(value.strip())
        if match:
            return os.environ.get(match.group(1) or match.group(2)) or None
        return value
    if isinstance(value, dict):
        return {k: _env_secret(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_env_secret(v) for v in value]
    return value


def _env_setting(value: Any, keys: tuple[str, ...], problems: _Problems) -> Any:
    if not isinstance(value, str):
        return value
    match = _EXACT_VAR.match(value.strip())
    if not match:
        return value
    name = match.group(1) or match.group(2)
    resolved = os.environ.get(name)
    if not resolved:
        problems.add(keys, f"${name} is not set — export {name} or write the value itself")
        return None
    return resolved


def _env_path(value: Any, keys: tuple[str, ...], problems: _Problems) -> Any:
    if not isinstance(value, str):
        return value
    missing: list[str] = []

    def sub(match: re.Match[str]) -> str:
        name = match.group(1) or match.group(2)
        resolved = os.environ.get(name)
        if not resolved:
            missing.append(name)
            return ""
        return resolved

    expanded = _ANY_VAR.sub(sub, value.strip())
    if missing:
        names = ", ".join(f"${n}" for n in missing)
        problems.add(keys, f"{names} is not set — export it or write the path itself")
        return None
    return os.path.expanduser(expanded) if expanded else None


def resolve_env(data: dict[str, Any], problems: _Problems) -> dict[str, Any]:
    """SPEC §6.1 step 4: `$VAR` only where a value names one, in the documented keys."""
    out = copy.deepcopy(data)
    tracker = out.get("tracker")
    if isinstance(tracker, dict) and isinstance(tracker.get("provider"), dict):
        tracker["provider"] = _env_secret(tracker["provider"])
    for section, key in (*SECRET_KEYS, *SETTING_KEYS, *PATH_KEYS):
        block = out.get(section)
        if not isinstance(block, dict) or key not in block:
            continue
        if (section, key) in SECRET_KEYS:
            block[key] = _env_secret(block[key])
        elif (section, key) in SETTING_KEYS:
            block[key] = _env_setting(block[key], (section, key), problems)
        else:
            block[key] = _env_path(block[key], (section, key), problems)
    return out


# --- validation ----------------------------------------------------------------------------


def _model_at(loc: tuple[Any, ...]) -> type[BaseModel] | None:
    model: type[BaseModel] = ServiceConfig
    for part in loc:
        field = model.model_fields.get(str(part))
        annotation = field.annotation if field else None
        if isinstance(annotation, type) and issubclass(annotation, BaseModel):
            model = annotation
        else:
            return None
    return model


def _is_secret(loc: tuple[Any, ...]) -> bool:
    return tuple(loc[:2]) in SECRET_KEYS or tuple(loc[:2]) == ("tracker", "provider")


def _describe(error: Any) -> str:
    loc = tuple(error["loc"])
    kind = error["type"]
    ctx = error.get("ctx") or {}
    got = "" if _is_secret(loc) else f" (got {error.get('input')!r})"
    dotted = ".".join(str(p) for p in loc)
    if kind == "extra_forbidden":
        model = _model_at(loc[:-1])
        known = list(model.model_fields) if model else []
        parent = ".".join(str(p) for p in loc[:-1])
        close = difflib.get_close_matches(str(loc[-1]), known, n=1, cutoff=0.6)
        if close:
            return f"unknown key; did you mean {parent}.{close[0]}?"
        return f"unknown key — remove it or use one of: {', '.join(known)}"
    if kind in ("greater_than", "greater_than_equal", "less_than", "less_than_equal"):
        bound = next(iter(ctx.values()), "")
        word = {"greater_than": "greater than", "greater_than_equal": "at least",
                "less_than": "less than", "less_than_equal": "at most"}[kind]
        return f"must be {word} {bound}{got} — set {dotted} to a number {word} {bound}"
    if kind in ("int_parsing", "int_type", "int_from_float"):
        return f"must be a whole number{got} — write digits only, without quotes"
    if kind in ("float_parsing", "float_type"):
        return f"must be a number{got} — write a number without quotes"
    if kind == "literal_error":
        return f"{error['msg'].replace('Input should be', 'must be')}{got}"
    if kind == "string_type":
        return f"must be a string{got} — quote the value"
    if kind == "list_type":
        return f"must be a list{got} — write `[a, b]` or one `- item` per line"
    if kind in ("dict_type", "model_type", "model_attributes_type"):
        return f"must be a map{got} — write `key: value` lines indented under {dotted}"
    if kind == "bool_parsing":
        return f"must be true or false{got}"
    msg = str(error["msg"]).removeprefix("Value error, ")
    return f"{msg}{got} — fix the value"


def _validate(data: dict[str, Any], problems: _Problems) -> ServiceConfig | None:
    try:
        return ServiceConfig.model_validate(data)
    except ValidationError as exc:
        for error in exc.errors():
            problems.add(tuple(error["loc"]), _describe(error))
        return None


def load_workflow(path: str | Path | None = None) -> Workflow:
    """Load and validate a WORKFLOW.md; `None` means `WORKFLOW.md` in the current directory."""
    file = Path(path if path is not None else "WORKFLOW.md").expanduser().absolute()
    text = _read(file)
    front, body, offset = split_front_matter(text, file)
    raw, node = _parse_yaml(front, file) if front is not None else ({}, None)

    problems = _Problems(file, node)
    warnings: list[str] = []
    known: dict[str, Any] = {}
    extensions: dict[str, Any] = {}
    for key, value in raw.items():
        if key in KNOWN_SECTIONS:
            known[key] = {} if value is None else value  # `hooks:` with nothing under it
        else:
            extensions[key] = value
            if key not in RESERVED_SECTIONS:
                line = line_of(node, (key,))
                close = difflib.get_close_matches(key, [*KNOWN_SECTIONS, *RESERVED_SECTIONS], n=1)
                hint = f"; did you mean `{close[0]}`?" if close else ""
                warnings.append(
                    f"{file}:{line}: unknown section `{key}` is ignored by Tack (kept for "
                    f"extensions){hint}"
                )

    resolved = resolve_env(known, problems)
    config = _validate({**resolved, "extensions": extensions}, problems)
    if problems.items or config is None:
        raise WorkflowError("\n".join(problems.items), code="workflow_config_invalid")

    # Parse now so a broken template blocks load/reload instead of failing every run.
    parse_template(body, source=file, line_offset=offset)
    warnings.extend(template_warnings(body, source=file, line_offset=offset))
    return Workflow(
        path=file,
        config=config,
        raw=raw,
        prompt_template=body,
        warnings=tuple(warnings),
        template_line_offset=offset,
    )
