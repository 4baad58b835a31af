"""One chat completion, no tools and no streaming, over any OpenAI-compatible endpoint: the
question-and-answer calls of the principles judge, `tack learn`, the reviewer and the plan
gate. Callers turn `CompletionError` into their own error naming the settings to fix.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import httpx


class CompletionError(Exception):
    """The call failed; `kind` is "unreachable", "status" or "shape"; str() says what."""

    def __init__(self, kind: str, detail: str) -> None:
        super().__init__(detail)
        self.kind = kind


@dataclass(frozen=True)
class Completion:
    text: str
    # What the endpoint reported, 0 when it reported nothing.
    total_tokens: int


def complete(client: httpx.Client, *, base_url: str, model: str, api_key: str | None,
             system: str, user: str, temperature: float | None = None) -> Completion:
    headers = {"authorization": f"Bearer {api_key}"} if api_key else {}
    body: dict[str, Any] = {"model": model, "stream": False,
                            "messages": [{"role": "system", "content": system},
                                         {"role": "user", "content": user}]}
    if temperature is not None:
        body["temperature"] = temperature
    try:
        response = client.post(base_url.rstrip("/") + "/chat/completions", json=body,
                               headers=headers)
    except httpx.HTTPError as exc:
        raise CompletionError("unreachable", f"cannot be reached ({exc})") from None
    if response.status_code >= 400:
        raise CompletionError("status", f"answered HTTP {response.status_code}: "
                                        f"{response.text[:300]}")
    try:
        data = response.json()
        text = str(data["choices"][0]["message"].get("content") or "")
        usage = data.get("usage") or {}
        return Completion(text, int(usage.get("total_tokens") or 0))
    except (ValueError, KeyError, IndexError, TypeError, AttributeError):
        raise CompletionError("shape", "sent a reply that is not a chat completion") from None
