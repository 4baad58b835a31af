"""Strict Liquid rendering of the WORKFLOW.md prompt body (Symphony SPEC §5.4, §12).

An unknown variable or filter is an error, never an empty string; errors name the file, the
line and the variables a template can use.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Mapping
from functools import lru_cache
from pathlib import Path
from typing import Any

from liquid import Environment, StrictUndefined
from liquid.exceptions import LiquidError
from liquid.template import BoundTemplate

from tack.errors import WorkflowError
from tack.tracker.base import Issue

DEFAULT_PROMPT = "You are working on an issue from the configured tracker."

TEMPLATE_GLOBALS = ("issue", "attempt", "lessons", "principles")
ISSUE_FIELDS: tuple[str, ...] = tuple(Issue(id="", identifier="", title="", state="").to_dict())

_ENV = Environment(undefined=StrictUndefined, strict_filters=True)


def available_variables() -> str:
    return ", ".join([*(f"issue.{name}" for name in ISSUE_FIELDS), "attempt",
                      "lessons (id, title, body)", "principles (id, title, why, runbook)"])


def _where(source: Path | None, line: int | None) -> str:
    name = str(source) if source is not None else "prompt template"
    return f"{name}:{line}" if line is not None else name


def _error_line(exc: LiquidError, text: str, line_offset: int) -> int | None:
    token = getattr(exc, "token", None)
    index = getattr(token, "start_index", -1)
    if not isinstance(index, int) or index < 0:
        # An unclosed block is reported at end of input; point at the block's opening tag.
        unclosed = re.search(r"expected tag end(\w+)", _message(exc))
        openings = (
            list(re.finditer(r"\{%-?\s*" + re.escape(unclosed.group(1)) + r"\b", text))
            if unclosed
            else []
        )
        if not openings:
            return None
        index = openings[-1].start()
    return text.count("\n", 0, index) + 1 + line_offset


def _message(exc: LiquidError) -> str:
    message = getattr(exc, "message", None) or (exc.args[0] if exc.args else exc)
    return str(message)


@lru_cache(maxsize=64)
def _parse_cached(text: str) -> BoundTemplate:
    return _ENV.from_string(text)


def parse_template(
    template: str, *, source: Path | None = None, line_offset: int = 0
) -> BoundTemplate:
    """Parse a prompt template, raising `template_parse_error` with file and line."""
    text = template if template.strip() else DEFAULT_PROMPT
    try:
        return _parse_cached(text)
    except LiquidError as exc:
        line = _error_line(exc, text, line_offset)
        raise WorkflowError(
            f"{_where(source, line)}: prompt template does not parse: {_message(exc)}. "
            "Fix the Liquid syntax in the body of WORKFLOW.md (every `{% if %}` needs an "
            "`{% endif %}`, every `{{` a `}}`).",
            code="template_parse_error",
        ) from exc


def template_warnings(
    template: str, *, source: Path | None = None, line_offset: int = 0
) -> list[str]:
    """Names a template uses that will fail every render: unknown variables and filters."""
    text = template if template.strip() else DEFAULT_PROMPT
    analysis = parse_template(text, source=source, line_offset=line_offset).analyze()
    found: list[str] = []

    def line_of(index: int) -> int:
        return text.count("\n", 0, max(index, 0)) + 1 + line_offset

    for name, uses in analysis.globals.items():
        for use in uses:
            segments = [str(s) for s in use.segments]
            if name not in TEMPLATE_GLOBALS:
                hint = difflib.get_close_matches(name, TEMPLATE_GLOBALS, n=1)
                found.append(
                    f"{_where(source, line_of(use.span.index))}: prompt template uses unknown "
                    f"variable `{'.'.join(segments)}`"
                    + (f"; did you mean `{hint[0]}`?" if hint else ".")
                    + f" Available: {available_variables()}."
                )
            elif name == "issue" and len(segments) > 1 and segments[1] not in ISSUE_FIELDS:
                hint = difflib.get_close_matches(segments[1], ISSUE_FIELDS, n=1)
                found.append(
                    f"{_where(source, line_of(use.span.index))}: prompt template uses unknown "
                    f"field `issue.{segments[1]}`"
                    + (f"; did you mean `issue.{hint[0]}`?" if hint else ".")
                    + f" Available: {available_variables()}."
                )
    for name, spans in analysis.filters.items():
        if name not in _ENV.filters:
            hint = difflib.get_close_matches(name, list(_ENV.filters), n=1)
            for span in spans:
                found.append(
                    f"{_where(source, line_of(span.index))}: prompt template uses unknown "
                    f"filter `{name}`" + (f"; did you mean `{hint[0]}`?" if hint else "")
                )
    return found


def _stringify_keys(value: Any) -> Any:
    # SPEC §12.2: keys become strings; nested lists and maps stay iterable.
    if isinstance(value, dict):
        return {str(k): _stringify_keys(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_stringify_keys(v) for v in value]
    return value


def issue_context(issue: Issue | dict[str, Any]) -> dict[str, Any]:
    """The template's `issue`: every normalized field present, missing ones null or empty."""
    if isinstance(issue, Issue):
        data = issue.to_dict()
    else:
        blank = Issue(id="", identifier="", title="", state="").to_dict()
        defaults: dict[str, Any] = {k: ([] if isinstance(v, list) else None) for k, v in blank.items()}
        data = {**defaults, **issue}
    result: dict[str, Any] = _stringify_keys(data)
    return result


def render_prompt(
    template: str,
    issue: Issue | dict[str, Any],
    attempt: int | None,
    *,
    source: Path | None = None,
    line_offset: int = 0,
    lessons: list[dict[str, Any]] | None = None,
    principles: list[dict[str, Any]] | None = None,
    extra: Mapping[str, Any] | None = None,
) -> str:
    """Render the prompt for one issue; `attempt` is None on the first run. `lessons` and
    `principles` are the guidance Tack selected for this issue (empty lists by default);
    `extra` holds the variables plug-ins add (`prompt_context`), and may set those two.

    `line_offset` is the number of file lines before the template body, so errors point at
    the right line of WORKFLOW.md.
    """
    text = template if template.strip() else DEFAULT_PROMPT
    bound = parse_template(text, source=source, line_offset=line_offset)
    try:
        variables: dict[str, Any] = {"lessons": lessons or [], "principles": principles or [],
                                     **(extra or {})}
        return bound.render(**variables, issue=issue_context(issue), attempt=attempt)
    except LiquidError as exc:
        line = _error_line(exc, text, line_offset)
        raise WorkflowError(
            f"{_where(source, line)}: prompt template failed to render: {_message(exc)}. "
            f"Available variables: {available_variables()}. Fix the template in the body of "
            "WORKFLOW.md.",
            code="template_render_error",
        ) from exc
