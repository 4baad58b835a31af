"""What the hosted adapters (GitHub, Linear, GitLab, Jira) share: reading `tracker.provider`
with errors that name the key, secrets from `$VAR`s, and normalisation of times, priorities,
label-mapped states and "blocked by" references.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from datetime import datetime, timezone
from typing import Any

from tack.errors import TrackerError
from tack.tracker.base import BlockerRef
from tack.tracker.http import RetryPolicy, resolve_secret
from tack.workflow.config import TrackerConfig, normalize_state

COMMON_KEYS = ("endpoint", "max_attempts", "retry_base_ms", "max_wait_ms", "page_size")
_PRIORITY = re.compile(r"^(?:p|priority)\s*[:/ _-]?\s*([0-4])$", re.I)
_BLOCKED = re.compile(
    r"(?:blocked[ -]by|depends[ -]on|after)\s*:?\s*((?:[\w.-]+/[\w.-]+)?#\d+"
    r"(?:\s*(?:,|and)\s*#\d+)*)",
    re.I,
)
_TASK = re.compile(r"^\s*[-*]\s+\[[ xX]\]\s+#(\d+)\b", re.M)
_NUMBER = re.compile(r"#(\d+)")


def provider_settings(config: TrackerConfig, kind: str, allowed: Iterable[str]) -> dict[str, Any]:
    """`tracker.provider`, refusing unknown keys with the allowed ones listed."""
    provider = dict(config.provider or {})
    keys = (*allowed, *COMMON_KEYS)
    unknown = sorted(set(provider) - set(keys))
    if unknown:
        names = ", ".join(f"tracker.provider.{k}" for k in unknown)
        raise TrackerError(
            f"Unknown key {names} in WORKFLOW.md for tracker.kind {kind}. Allowed keys: "
            f"{', '.join(f'tracker.provider.{k}' for k in keys)}. Remove or rename it.",
            code="invalid_tracker_config",
        )
    return provider


def require_text(provider: dict[str, Any], key: str, kind: str, example: str,
                 fallback: str | None = None) -> str:
    value = provider.get(key, fallback)
    if not isinstance(value, str) or not value.strip():
        raise TrackerError(
            f"tracker.provider.{key} is required for tracker.kind {kind}. Add it under "
            f"`tracker: provider:` in WORKFLOW.md, for example `{key}: {example}`.",
            code="invalid_tracker_config",
        )
    return value.strip()


def require_secret(config: TrackerConfig, provider: dict[str, Any], kind: str, env: str,
                   key: str = "token") -> str:
    """The credential: `tracker.provider.<key>`, then `tracker.api_key`, then `$<env>`.

    An explicit `$VAR` that is unset or empty counts as missing (SPEC §5.3.1)."""
    for value in (provider.get(key), config.api_key):
        if value is not None:
            secret = resolve_secret(value)
            if secret:
                return secret
            break
    else:
        secret = resolve_secret(f"${env}")
        if secret:
            return secret
    raise TrackerError(
        f"No credential for tracker.kind {kind}: set tracker.api_key: ${env} in WORKFLOW.md "
        f"and export {env} (or set tracker.provider.{key}).",
        code="missing_tracker_secret",
    )


def endpoint(config: TrackerConfig, provider: dict[str, Any], default: str) -> str:
    value = provider.get("endpoint") or config.endpoint or default
    resolved = resolve_secret(value) if str(value).startswith("$") else str(value)
    if not resolved or not resolved.startswith(("http://", "https://")):
        raise TrackerError(
            f"tracker.endpoint {value!r} in WORKFLOW.md is not an http(s) URL. Remove it to use "
            f"{default}, or give a full URL.",
            code="invalid_tracker_config",
        )
    return resolved.rstrip("/")


def retry_policy(provider: dict[str, Any]) -> RetryPolicy:
    def number(key: str, default: float) -> float:
        value = provider.get(key, default)
        if isinstance(value, bool) or not isinstance(value, (int, float)) or value < 0:
            raise TrackerError(
                f"tracker.provider.{key} must be a non-negative number, got {value!r}. Fix it "
                "in WORKFLOW.md or remove it to use the default.",
                code="invalid_tracker_config",
            )
        return float(value)

    return RetryPolicy(
        max_attempts=max(1, int(number("max_attempts", 5))),
        base_s=number("retry_base_ms", 500) / 1000,
        max_wait_s=number("max_wait_ms", 120_000) / 1000,
    )


def page_size(provider: dict[str, Any], maximum: int) -> int:
    value = provider.get("page_size", maximum)
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= maximum:
        raise TrackerError(
            f"tracker.provider.page_size must be a whole number from 1 to {maximum}, got "
            f"{value!r}. Fix it in WORKFLOW.md or remove it.",
            code="invalid_tracker_config",
        )
    return value


def parse_time(value: Any) -> datetime | None:
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=timezone.utc)
    if not isinstance(value, str) or not value:
        return None
    text = value.strip()
    # Jira writes `+0000` offsets; fromisoformat wants `+00:00`.
    text = re.sub(r"([+-]\d{2})(\d{2})$", r"\1:\2", text.replace("Z", "+00:00"))
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=timezone.utc)


def priority_from_labels(labels: Iterable[str], mapping: dict[str, Any] | None = None) -> int | None:
    """`priority_labels` mapping first, else `p1`, `priority: 2`, `priority/3`..."""
    table = {normalize_state(k): v for k, v in (mapping or {}).items()}
    for label in labels:
        norm = normalize_state(label)
        if norm in table and isinstance(table[norm], int):
            return int(table[norm])
        match = _PRIORITY.match(norm)
        if match and not table:
            return int(match.group(1))
    return None


def blocker_numbers(text: str | None) -> list[int]:
    """Issue numbers named by "blocked by #N" / "depends on #N" or task-list items `- [ ] #N`."""
    if not text:
        return []
    found: dict[int, None] = {}
    for match in _BLOCKED.finditer(text):
        for number in _NUMBER.findall(match.group(1)):
            found.setdefault(int(number), None)
    for number in _TASK.findall(text):
        found.setdefault(int(number), None)
    return list(found)


def is_blocked(blockers: Iterable[BlockerRef], terminal_states: Iterable[str]) -> bool:
    terminal = {normalize_state(s) for s in terminal_states}
    return any(b.state is None or normalize_state(b.state) not in terminal for b in blockers)


class LabelStates:
    """Provider states from labels (GitHub, GitLab): a state label wins, an open issue without
    one is `open_state`, a closed one is `closed_state`."""

    def __init__(self, config: TrackerConfig, provider: dict[str, Any], kind: str) -> None:
        mapping = provider.get("state_labels")
        if mapping is None:
            names = [*config.active_states, config.handoff_state]
            mapping = {name: name for name in names}
        if not isinstance(mapping, dict) or not all(
            isinstance(k, str) and isinstance(v, str) for k, v in mapping.items()
        ):
            raise TrackerError(
                f"tracker.provider.state_labels for tracker.kind {kind} must map state names to "
                "label names, for example `state_labels: {In Progress: in-progress}`.",
                code="invalid_tracker_config",
            )
        self.label_of = {normalize_state(k): v for k, v in mapping.items()}
        self.state_of = {normalize_state(v): k for k, v in mapping.items()}
        self.open_state = str(provider.get("open_state") or (config.active_states or ["Todo"])[0])
        self.closed_state = provider.get("closed_state")
        self.terminal = {normalize_state(s) for s in config.terminal_states}

    def state(self, labels: Iterable[str], *, closed: bool, reason: str | None = None) -> str:
        if closed:
            if self.closed_state:
                return str(self.closed_state)
            return {"not_planned": "Cancelled", "duplicate": "Duplicate"}.get(reason or "", "Done")
        for label in labels:
            state = self.state_of.get(normalize_state(label))
            if state is not None:
                return str(state)
        return self.open_state

    def is_closed_state(self, state: str) -> bool:
        norm = normalize_state(state)
        return norm in self.terminal and norm not in self.label_of

    def wanted(self, states: Iterable[str]) -> tuple[set[str], bool, bool]:
        """(normalised states, any open state asked, any closed state asked)."""
        norms = {normalize_state(s) for s in states}
        closed = any(self.is_closed_state(s) for s in norms)
        return norms, any(not self.is_closed_state(s) for s in norms), closed

    def has(self, state: str) -> bool:
        """Whether an issue can be in `state`: a mapped label, the open or a closed state."""
        norm = normalize_state(state)
        return (norm in self.label_of or norm == normalize_state(self.open_state)
                or self.is_closed_state(state))

    @staticmethod
    def with_label(current: Iterable[str], label: str, present: bool) -> list[str]:
        """`current` labels with `label` added (present) or removed, case-insensitively."""
        keep = [x for x in current if x.strip().lower() != label.strip().lower()]
        return keep + ([label] if present else [])

    def labels_for(self, current: Iterable[str], state: str) -> list[str]:
        """`current` labels with every state label swapped for the one `state` maps to."""
        keep = [x for x in current if normalize_state(x) not in self.state_of]
        label = self.label_of.get(normalize_state(state))
        return keep + ([label] if label else [])
