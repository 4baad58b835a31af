"""The environment variables that hold Tack's own credentials, so the processes agents and
hooks start never see them (DESIGN.md: an agent's processes see no secret of Tack's own).

The names come from the configuration: every `$VAR` a tracker, forge, GitHub App, server or
executor credential reads, each variable whose value is such a credential, and the default
variables the adapters fall back to.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from tack.workflow.loader import Workflow

# What the adapters read when WORKFLOW.md names no variable (tack.tracker.*, tack.forge).
DEFAULT_CREDENTIAL_ENV = frozenset({
    "GITHUB_TOKEN", "GH_TOKEN", "GITHUB_APP_PRIVATE_KEY", "LINEAR_API_KEY", "GITLAB_TOKEN",
    "JIRA_API_TOKEN", "TACK_SERVER_TOKEN",
})
# Sections whose credentials only Tack itself uses.
_TACK_ONLY = ("tracker", "pull_requests", "server", "executor")
# Keys under those sections that hold a credential (or the path of a private key).
_CREDENTIAL_KEY = re.compile(r"(key|token|secret|password|private)", re.IGNORECASE)
_VAR = re.compile(r"\$(?:\{([A-Za-z_][A-Za-z0-9_]*)\}|([A-Za-z_][A-Za-z0-9_]*))")
_MIN_SECRET_LEN = 6


def withheld_env(workflow: Workflow, environ: Mapping[str, str] | None = None) -> frozenset[str]:
    """Names of the environment variables an agent's or hook's process must not inherit."""
    environ = os.environ if environ is None else environ
    raw = workflow.raw if isinstance(workflow.raw, dict) else {}
    names = set(DEFAULT_CREDENTIAL_ENV)
    for section in _TACK_ONLY:
        names.update(_credential_vars(raw.get(section)))
    config = workflow.config
    if config.agent.backend == "builtin":
        # The built-in agent's model calls are Tack's own; codex and claude need their key.
        names.update(_credential_vars({"api_key": (raw.get("builtin") or {}).get("api_key")}))
        judge = config.principles.judge.api_key_env
        if judge:
            names.add(judge)
    values = {v for v in _credential_values(workflow, environ) if len(v) >= _MIN_SECRET_LEN}
    names.update(k for k, v in environ.items() if v in values)
    return frozenset(names)


def environ_without(names: Iterable[str] = DEFAULT_CREDENTIAL_ENV,
                    environ: Mapping[str, str] | None = None) -> dict[str, str]:
    """A copy of the environment without `names` (by default the adapters' defaults)."""
    environ = os.environ if environ is None else environ
    drop = set(names)
    return {k: v for k, v in environ.items() if k not in drop}


def _credential_vars(value: Any, *, credential: bool = False) -> set[str]:
    """`$VAR` names referenced under credential-looking keys of a config mapping."""
    if isinstance(value, dict):
        out: set[str] = set()
        for key, item in value.items():
            out |= _credential_vars(item, credential=credential
                                    or bool(_CREDENTIAL_KEY.search(str(key))))
        return out
    if isinstance(value, list):
        return set().union(*(_credential_vars(v, credential=credential) for v in value))
    if credential and isinstance(value, str):
        return {m.group(1) or m.group(2) for m in _VAR.finditer(value)}
    return set()


def _credential_values(workflow: Workflow, environ: Mapping[str, str]) -> list[str]:
    """The credentials in the loaded config, `$VAR`s read (the loader reads most of them;
    a GitHub App's keys are read when the app is used)."""
    config = workflow.config
    out = [config.tracker.api_key, config.pull_requests.api_key, config.server.token,
           config.executor.api_key]
    if config.agent.backend == "builtin":
        out.append(config.builtin.api_key)
    out.extend(_strings_under_credential_keys(config.tracker.provider))
    out.extend(_strings_under_credential_keys(config.pull_requests.app or {}))
    values = []
    for value in out:
        if not isinstance(value, str) or not value.strip():
            continue
        exact = _VAR.fullmatch(value.strip())
        values.append(environ.get(exact.group(1) or exact.group(2), "") if exact
                      else value.strip())
    return [v for v in values if v]


def _strings_under_credential_keys(value: Any, credential: bool = False) -> list[str]:
    if isinstance(value, dict):
        return [s for key, item in value.items() for s in _strings_under_credential_keys(
            item, credential or bool(_CREDENTIAL_KEY.search(str(key))))]
    return [value] if credential and isinstance(value, str) else []
