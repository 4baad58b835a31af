"""Legible feedback (`tack check`): run tests and linters, and say what failed as prose.

Parsers turn tool output into `Finding`s; compression groups them; runbooks and history
annotate them; rendering fits them into a token budget. Add a format in `parsers.FORMATS`.
"""

from __future__ import annotations

from tack.feedback.engine import CheckError, CheckReport, CheckSpec, run_check, run_checks
from tack.feedback.model import CheckRun, Finding, Frame
from tack.feedback.parsers import FORMATS, detect_format, parse_output
from tack.feedback.paths import ParseContext
from tack.feedback.render import render_json, render_prose, render_sarif
from tack.feedback.runbooks import Runbook, RunbookError, load_runbooks
from tack.feedback.settings import FeedbackSettings, resolve_settings
from tack.feedback.tokens import count_tokens, counter_name

__all__ = [
    "FORMATS", "CheckError", "CheckReport", "CheckRun", "CheckSpec", "FeedbackSettings",
    "Finding", "Frame", "ParseContext", "Runbook", "RunbookError", "count_tokens",
    "counter_name", "detect_format", "load_runbooks", "parse_output", "render_json",
    "render_prose", "render_sarif", "resolve_settings", "run_check", "run_checks",
]
