"""One chat completion against the built-in agent's OpenAI-compatible endpoint.

Learning and review ask a model one question and read one JSON answer; no tools, no loop.
"""

from __future__ import annotations

import json
import re
from typing import Any

import httpx

from tack.learning.lessons import LearningError
from tack.workflow.config import BuiltinConfig

_JSON = re.compile(r"\{.*\}", re.DOTALL)


class ReplyError(ValueError):
    """The model answered, but not with the JSON that was asked for."""


def ask(builtin: BuiltinConfig, system: str, user: str, *, what: str) -> str:
    """The reply text; `what` names the caller in error messages ("tack learn")."""
    headers = {"authorization": f"Bearer {builtin.api_key}"} if builtin.api_key else {}
    body: dict[str, Any] = {"model": builtin.model, "stream": False,
                            "messages": [{"role": "system", "content": system},
                                         {"role": "user", "content": user}]}
    if builtin.temperature is not None:
        body["temperature"] = builtin.temperature
    url = builtin.base_url.rstrip("/") + "/chat/completions"
    try:
        with httpx.Client(timeout=builtin.request_timeout_ms / 1000) as client:
            response = client.post(url, json=body, headers=headers)
    except httpx.HTTPError as exc:
        raise LearningError(f"{what}: the model at {builtin.base_url} cannot be reached "
                            f"({exc}). Check builtin.base_url in WORKFLOW.md.") from None
    if response.status_code >= 400:
        raise LearningError(f"{what}: the model at {builtin.base_url} answered HTTP "
                            f"{response.status_code}: {response.text[:300]}. Check "
                            "builtin.model and builtin.api_key in WORKFLOW.md.")
    try:
        data = response.json()
        return str(data["choices"][0]["message"].get("content") or "")
    except (ValueError, KeyError, IndexError, TypeError, AttributeError):
        raise LearningError(f"{what}: the model at {builtin.base_url} sent a reply that is "
                            "not a chat completion.") from None


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
