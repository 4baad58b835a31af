"""Read an issue from a JSON file, for `tack prompt --issue-json` (previewing a prompt
without a tracker). Optional fields default like a tracker's would.
"""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path
from typing import Any

from tack.errors import WorkflowError
from tack.tracker.base import BlockerRef, Issue

REQUIRED_KEYS = ("id", "identifier", "title", "state")


def _fail(path: Path, text: str) -> WorkflowError:
    return WorkflowError(f"{path}: {text}", code="invalid_issue_json")


def _timestamp(path: Path, data: dict[str, Any], key: str) -> datetime | None:
    value = data.get(key)
    if value in (None, ""):
        return None
    try:
        return datetime.fromisoformat(str(value))
    except ValueError as exc:
        raise _fail(path, f"`{key}` is not an ISO 8601 timestamp ({value!r}); write e.g. "
                          "\"2026-01-31T12:00:00+00:00\" or leave it out.") from exc


def issue_from_mapping(data: Any, path: Path) -> Issue:
    if not isinstance(data, dict):
        raise _fail(path, "must hold a JSON object with the issue's fields, e.g. "
                          '{"id": "1", "identifier": "TACK-1", "title": "...", "state": "Todo"}.')
    missing = [k for k in REQUIRED_KEYS if data.get(k) in (None, "")]
    if missing:
        raise _fail(path, f"missing required key(s) {', '.join(missing)}; an issue needs "
                          f"{', '.join(REQUIRED_KEYS)}.")
    labels = data.get("labels") or []
    blockers = data.get("blocked_by") or []
    if not isinstance(labels, list):
        raise _fail(path, "`labels` must be a list of strings.")
    if not isinstance(blockers, list) or not all(isinstance(b, dict) for b in blockers):
        raise _fail(path, "`blocked_by` must be a list of objects with id, identifier, state.")
    priority = data.get("priority")
    if priority is not None and (isinstance(priority, bool) or not isinstance(priority, int)):
        raise _fail(path, f"`priority` must be a whole number or null (got {priority!r}).")
    return Issue(
        id=str(data["id"]),
        identifier=str(data["identifier"]),
        title=str(data["title"]),
        state=str(data["state"]),
        description=data.get("description"),
        priority=priority,
        branch_name=data.get("branch_name"),
        url=data.get("url"),
        assignee_id=data.get("assignee_id"),
        labels=tuple(str(label) for label in labels),
        blocked_by=tuple(
            BlockerRef(id=b.get("id"), identifier=b.get("identifier"), state=b.get("state"))
            for b in blockers
        ),
        created_at=_timestamp(path, data, "created_at"),
        updated_at=_timestamp(path, data, "updated_at"),
    )


def load_issue_json(path: Path) -> Issue:
    try:
        text = path.read_text("utf-8")
    except OSError as exc:
        raise _fail(path, f"cannot read the issue file ({exc.strerror or exc}).") from exc
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise WorkflowError(
            f"{path}:{exc.lineno}: not valid JSON ({exc.msg}, column {exc.colno}). Fix the "
            "file; it must hold one JSON object with the issue's fields.",
            code="invalid_issue_json",
        ) from exc
    return issue_from_mapping(data, path)
