"""One chat completion against the built-in agent's OpenAI-compatible endpoint.

Learning and review ask a model one question and read one JSON answer; no tools, no loop.
"""

from __future__ import annotations

import json
import re
from typing import Any

import httpx

from tack.agents.completion import CompletionError, complete
from tack.learning.lessons import LearningError
from tack.workflow.config import BuiltinConfig

_JSON = re.compile(r"\{.*\}", re.DOTALL)


class ReplyError(ValueError):
    """The model answered, but not with the JSON that was asked for."""


def ask(builtin: BuiltinConfig, system: str, user: str, *, what: str) -> str:
    """The reply text; `what` names the caller in error messages ("tack learn")."""
    fix = {"unreachable": "Check builtin.base_url in WORKFLOW.md.",
           "status": "Check builtin.model and builtin.api_key in WORKFLOW.md."}
    try:
        with httpx.Client(timeout=builtin.request_timeout_ms / 1000) as client:
            return complete(client, base_url=builtin.base_url, model=builtin.model,
                            api_key=builtin.api_key, system=system, user=user,
                            temperature=builtin.temperature).text
    except CompletionError as exc:
        raise LearningError(f"{what}: the model at {builtin.base_url} {exc}."
                            + (f" {fix[exc.kind]}" if exc.kind in fix else "")) from None


def parse_json(text: str) -> dict[str, Any]:
    """The first JSON object in a reply (models wrap JSON in prose or fences)."""
    match = _JSON.search(text or "")
    if not match:
        raise ReplyError("the reply holds no JSON object")
    try:
        data = json.loads(match.group())
    except json.JSONDecodeError as exc:
        raise ReplyError(f"the reply's JSON is invalid ({exc})") from None
    if not isinstance(data, dict):
        raise ReplyError("the reply's JSON is not an object")
    return data
