"""Parsers from tool output to findings, and format auto-detection.

`FORMATS` is the one place a new format is added. `parse_output(text, fmt, ctx)` with
`fmt=None` detects the format from the text itself.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from tack.feedback.model import Finding
from tack.feedback.parsers.junit import looks_like_junit, parse_junit
from tack.feedback.parsers.lint_json import parse_eslint, parse_mypy_json, parse_pyright, parse_ruff
from tack.feedback.parsers.pytest_text import looks_like_pytest, parse_pytest_text
from tack.feedback.parsers.sarif import looks_like_sarif, parse_sarif
from tack.feedback.parsers.text_formats import MYPY, TSC, parse_generic, parse_mypy, parse_tsc
from tack.feedback.paths import ParseContext

Parsed = tuple[list[Finding], int | None]


def _json_parser(fn: Callable[[Any, ParseContext], list[Finding]]
                 ) -> Callable[[str, ParseContext], Parsed]:
    def parse(text: str, ctx: ParseContext) -> Parsed:
        data = load_json(text)
        return (fn(data, ctx) if data is not None else []), None
    return parse


def _text_parser(fn: Callable[[str, ParseContext], list[Finding]]
                 ) -> Callable[[str, ParseContext], Parsed]:
    return lambda text, ctx: (fn(text, ctx), None)


FORMATS: dict[str, Callable[[str, ParseContext], Parsed]] = {
    "junit": lambda text, ctx: parse_junit(text, ctx),
    "pytest": parse_pytest_text,
    "ruff": _json_parser(parse_ruff),
    "eslint": _json_parser(parse_eslint),
    "pyright": _json_parser(parse_pyright),
    "sarif": _json_parser(parse_sarif),
    "mypy": lambda text, ctx: ((parse_mypy_json(text, ctx) or parse_mypy(text, ctx)), None),
    "tsc": _text_parser(parse_tsc),
    "generic": _text_parser(parse_generic),
}


def load_json(text: str) -> Any:
    """The first JSON document in `text`, skipping any banner lines before it."""
    decoder = json.JSONDecoder()
    for index, char in enumerate(text):
        if char in "[{" and (index == 0 or text[index - 1] == "\n"):
            try:
                return decoder.raw_decode(text, index)[0]
            except json.JSONDecodeError:
                continue
    return None


def detect_format(text: str) -> str:
    """The format of a tool's output, judged from its shape; `generic` when unsure."""
    if looks_like_junit(text):
        return "junit"
    data = load_json(text)
    if looks_like_sarif(data):
        return "sarif"
    if isinstance(data, dict) and "generalDiagnostics" in data:
        return "pyright"
    if isinstance(data, list) and data and isinstance(data[0], dict):
        first = data[0]
        if "filePath" in first and "messages" in first:
            return "eslint"
        if "filename" in first and "location" in first:
            return "ruff"
    if isinstance(data, list) and not data:
        return "ruff"  # ruff and eslint both print [] when clean; nothing to parse either way
    if isinstance(data, dict) and {"file", "line", "severity"} <= data.keys():
        return "mypy"
    if looks_like_pytest(text):
        return "pytest"
    lines = text.splitlines()
    if any(TSC.match(line) for line in lines):
        return "tsc"
    if any(MYPY.match(line) for line in lines) and "Found " in text or "Success: no issues" in text:
        return "mypy"
    return "generic"


def parse_output(text: str, fmt: str | None, ctx: ParseContext) -> tuple[str, list[Finding],
                                                                         int | None]:
    """(format used, findings, number of tests when known)."""
    fmt = fmt or detect_format(text)
    parser = FORMATS.get(fmt)
    if parser is None:
        raise KeyError(fmt)
    findings, total = parser(text, ctx)
    return fmt, findings, total
