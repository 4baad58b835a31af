"""Scripts the stub model server replays: which answer each request gets.

A script is a list of conversations, each chosen by a regex over the conversation's first
user message, and each a list of steps; step k answers the request whose history already
holds k model responses, so replay is stateless and deterministic under concurrency.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from tack.errors import TackError


class ScriptError(TackError):
    """A stub model script cannot be read or is not valid."""

    code = "stub_script_invalid"


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class ScriptedToolCall(_Strict):
    name: str
    arguments: dict[str, Any] | str = Field(default_factory=dict)
    # Responses API: the namespace of a namespaced tool (codex groups an MCP server's tools
    # as namespace `mcp__<server>`, each called by its own name).
    namespace: str | None = None

    def arguments_json(self) -> str:
        if isinstance(self.arguments, str):
            return self.arguments
        return json.dumps(self.arguments)


class ScriptedError(_Strict):
    status: int = Field(default=500, ge=400, le=599)
    message: str = "stub model error"


class Step(_Strict):
    """One scripted model response (or failure)."""

    text: str | None = None
    tool_calls: list[ScriptedToolCall] = Field(default_factory=list)
    usage: dict[str, int] | None = None
    delay_ms: int = Field(default=0, ge=0)
    hang: bool = False
    error: ScriptedError | None = None
    # How many chunks the text is streamed in.
    events: int | None = Field(default=None, gt=0)
    # Text the request must contain (anywhere in its JSON body); otherwise the stub answers
    # 400, so a test can hold that what an agent sends carries something (an answer, a file).
    expect: str | None = None

    @field_validator("usage")
    @classmethod
    def _usage_keys(cls, value: dict[str, int] | None) -> dict[str, int] | None:
        if value is not None:
            unknown = set(value) - {"input_tokens", "output_tokens", "total_tokens"}
            if unknown:
                raise ValueError(
                    f"unknown usage keys {sorted(unknown)}; use input_tokens, output_tokens"
                )
        return value

    @property
    def text_only(self) -> bool:
        return not (self.tool_calls or self.hang or self.error)


class Conversation(_Strict):
    match: str | None = None
    steps: list[Step] = Field(min_length=1)

    @field_validator("match")
    @classmethod
    def _valid_regex(cls, value: str | None) -> str | None:
        if value is not None:
            try:
                re.compile(value)
            except re.error as exc:
                raise ValueError(f"not a valid regular expression: {exc}") from None
        return value

    def matches(self, first_user_message: str) -> bool:
        return self.match is None or re.search(self.match, first_user_message) is not None

    @property
    def label(self) -> str:
        return self.match if self.match is not None else "<any>"


class Script(_Strict):
    mode: Literal["match", "ordered"] = "match"
    conversations: list[Conversation] = Field(default_factory=list)
    # `mode: ordered`: one global queue answered in arrival order.
    steps: list[Step] = Field(default_factory=list)
    source: str = Field(default="<dict>", exclude=True)

    def conversation_for(self, first_user_message: str) -> Conversation | None:
        return next((c for c in self.conversations if c.matches(first_user_message)), None)


@dataclass
class Selection:
    """The step chosen for one request, and why (recorded with the request)."""

    step: Step
    conversation: str
    index: int
    exhausted: bool = False
    notes: dict[str, Any] = field(default_factory=dict)


def exhausted_step(conversation: str) -> Step:
    return Step(text=f"stub script exhausted for conversation {conversation}")


def pick_step(steps: list[Step], index: int, conversation: str) -> Selection:
    """Step `index`, or the repeatable last text step, or a deterministic 'exhausted' text."""
    if index < len(steps):
        return Selection(steps[index], conversation, index)
    last = steps[-1]
    if last.text_only:
        return Selection(last, conversation, index, exhausted=True)
    return Selection(exhausted_step(conversation), conversation, index, exhausted=True)


def load_script(source: Script | dict[str, Any] | str | Path) -> Script:
    """Read and validate a script from a model, a dict, or a YAML/JSON file path."""
    if isinstance(source, Script):
        return source
    origin = "<dict>"
    if isinstance(source, (str, Path)):
        path = Path(source)
        origin = str(path)
        try:
            text = path.read_text(encoding="utf-8")
        except OSError as exc:
            raise ScriptError(
                f"stub model script {path} cannot be read ({exc.strerror or exc}); "
                "pass an existing YAML or JSON file with --script."
            ) from None
        try:
            data = yaml.safe_load(text)  # JSON is YAML too
        except yaml.YAMLError as exc:
            raise ScriptError(
                f"stub model script {path} is not valid YAML/JSON: {exc}. Fix the syntax."
            ) from None
    else:
        data = source
    if not isinstance(data, dict):
        raise ScriptError(
            f"stub model script {origin} must be a mapping with a `conversations` list "
            "(or `mode: ordered` and a `steps` list)."
        )
    try:
        script = Script.model_validate(data)
    except ValidationError as exc:
        first = exc.errors()[0]
        key = ".".join(str(p) for p in first["loc"]) or "<root>"
        raise ScriptError(
            f"stub model script {origin}: key `{key}`: {first['msg']}. "
            "See docs/agents.md (stub model server) for the script format."
        ) from None
    script.source = origin
    if script.mode == "ordered" and not script.steps:
        raise ScriptError(f"stub model script {origin}: key `steps`: `mode: ordered` needs a "
                          "non-empty top-level `steps` list.")
    if script.mode == "match" and not script.conversations:
        raise ScriptError(f"stub model script {origin}: key `conversations`: add at least one "
                          "conversation with `steps`.")
    return script
