"""Harness variants: WORKFLOW.md front-matter overrides applied to a base workflow.

`--variant NAME=KEY=VALUE,KEY=VALUE` sets dotted front-matter keys (values parse as YAML).
Two keys name files instead: `prompt=FILE` replaces the prompt body, and
`principles=FILE` points `principles.path` at another PRINCIPLES.md.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from tack.eval.suite import EvalError

_SPLIT = re.compile(r",(?=\s*[A-Za-z_][\w.-]*=)")
_KEY = re.compile(r"^[A-Za-z_][\w-]*(\.[A-Za-z_][\w-]*)*$")

# The base an eval trial runs when no --workflow is given: the built-in agent, the prompt
# carrying lessons and principles, the issue handed off for review when done.
DEFAULT_PROMPT = """You are working on issue {{ issue.identifier }}: {{ issue.title }}

{{ issue.description }}
{% if principles.size > 0 %}
Golden principles for this code base:
{% for p in principles %}- {{ p.title }}: {{ p.why }}{% if p.runbook %} Runbook: {{ p.runbook }}{% endif %}
{% endfor %}{% endif %}{% if lessons.size > 0 %}
Lessons from earlier reviews:
{% for l in lessons %}- {{ l.title }}: {{ l.body }}
{% endfor %}{% endif %}
Make the change on this branch, run the tests, commit, then move the issue to the hand-off
state with the tracker tool and leave a short comment.
{% if attempt %}This is attempt {{ attempt }}; continue from the workspace as it is.{% endif %}
"""

DEFAULT_CONFIG: dict[str, Any] = {
    "agent": {"backend": "builtin", "max_concurrent_agents": 1, "max_turns": 3},
    "builtin": {"model": "stub", "api": "chat"},
}

# Keys the runner owns: every trial gets its own tracker, repository and workspaces.
FORCED_CONFIG: dict[str, Any] = {
    "tracker": {"kind": "local"},
    "workspace": {"root": "./workspaces", "repo": "./repo"},
    "polling": {"interval_ms": 100},
    # A trial's branch is scored where it is; it is never pushed anywhere.
    "pull_requests": {"publish": "off"},
    # An attempt of a best-of-N race is one attempt: never a race of its own.
    "agent": {"best_of": 1},
}
# Sections of a project's WORKFLOW.md that would reach outside the trial (its own server
# port, state db, hosted tracker): dropped before the forced keys apply.
DROPPED_SECTIONS = ("server", "store")


@dataclass
class Variant:
    name: str
    overrides: dict[str, Any] = field(default_factory=dict)
    prompt_file: Path | None = None

    def describe(self) -> str:
        parts = [f"{k}={v}" for k, v in _flatten(self.overrides)]
        if self.prompt_file:
            parts.append(f"prompt={self.prompt_file}")
        return ",".join(parts) or "(base)"


def _flatten(data: dict[str, Any], prefix: str = "") -> list[tuple[str, Any]]:
    out: list[tuple[str, Any]] = []
    for key, value in data.items():
        if isinstance(value, dict) and value:
            out += _flatten(value, f"{prefix}{key}.")
        else:
            out.append((f"{prefix}{key}", value))
    return out


def set_dotted(target: dict[str, Any], key: str, value: Any) -> None:
    parts = key.split(".")
    node = target
    for part in parts[:-1]:
        child = node.get(part)
        if not isinstance(child, dict):
            child = {}
            node[part] = child
        node = child
    node[parts[-1]] = value


def deep_merge(base: dict[str, Any], extra: dict[str, Any]) -> dict[str, Any]:
    out = dict(base)
    for key, value in extra.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = deep_merge(out[key], value)
        else:
            out[key] = value
    return out


def parse_overrides(text: str, *, where: str, cwd: Path) -> tuple[dict[str, Any], Path | None]:
    overrides: dict[str, Any] = {}
    prompt: Path | None = None
    for item in (p.strip() for p in _SPLIT.split(text) if p.strip()):
        key, sep, raw = item.partition("=")
        key = key.strip()
        if not sep or not _KEY.match(key):
            raise EvalError(f"{where}: `{item}` is not KEY=VALUE; write e.g. "
                            "`principles.enabled=false` or `prompt=./PROMPT.md`.")
        if key in ("prompt", "principles"):
            path = (cwd / raw.strip()).resolve()
            if not path.is_file():
                raise EvalError(f"{where}: `{key}` names {path}, which does not exist; pass an "
                                "existing file.")
            if key == "prompt":
                prompt = path
            else:
                set_dotted(overrides, "principles.path", str(path))
            continue
        try:
            value = yaml.safe_load(raw) if raw.strip() else ""
        except yaml.YAMLError:
            value = raw
        set_dotted(overrides, key, value)
    return overrides, prompt


def parse_variant(spec: str, *, cwd: Path) -> Variant:
    name, sep, rest = spec.partition("=")
    name = name.strip()
    if not sep or not re.fullmatch(r"[A-Za-z0-9][\w.-]*", name):
        raise EvalError(f"--variant `{spec}`: write NAME=OVERRIDES, e.g. "
                        "`--variant noprinciples=principles.enabled=false` or `--variant base=`.")
    overrides, prompt = parse_overrides(rest, where=f"--variant {name}", cwd=cwd)
    return Variant(name, overrides, prompt)


@dataclass
class BaseWorkflow:
    config: dict[str, Any]
    prompt: str

    @classmethod
    def load(cls, path: Path | None) -> BaseWorkflow:
        if path is None:
            return cls(dict(DEFAULT_CONFIG), DEFAULT_PROMPT)
        text = path.read_text("utf-8")
        if not text.startswith("---"):
            return cls({}, text)
        _, front, body = text.split("---", 2)
        data = yaml.safe_load(front) or {}
        if not isinstance(data, dict):
            raise EvalError(f"{path}: the front matter must be a mapping; fix the YAML.")
        return cls(data, body.lstrip("\n"))

    def render(self, variant: Variant, common: dict[str, Any], setup: str | None) -> str:
        config = deep_merge(deep_merge(self.config, common), variant.overrides)
        for section in DROPPED_SECTIONS:
            config.pop(section, None)
        tracker = config.get("tracker") if isinstance(config.get("tracker"), dict) else {}
        config["tracker"] = {k: v for k, v in (tracker or {}).items()
                             if k in ("handoff_state", "active_states", "terminal_states")}
        config = deep_merge(config, FORCED_CONFIG)
        if setup:
            hooks = dict(config.get("hooks") or {})
            hooks["after_create"] = setup
            config["hooks"] = hooks
        prompt = variant.prompt_file.read_text("utf-8") if variant.prompt_file else self.prompt
        return f"---\n{yaml.safe_dump(config, sort_keys=False)}---\n{prompt}"
