"""Structured logging (structlog) to stderr: readable on a terminal, key=value elsewhere.

A failing log sink must never stop the orchestrator, so writes swallow I/O errors.
"""

from __future__ import annotations

import logging
import sys
from typing import Any, TextIO

import structlog


class _SafeStream:
    def __init__(self, stream: TextIO) -> None:
        self.stream = stream

    def write(self, text: str) -> int:
        try:
            return self.stream.write(text)
        except (OSError, ValueError):
            return 0

    def flush(self) -> None:
        try:
            self.stream.flush()
        except (OSError, ValueError):
            pass


def configure_logging(level: str = "info", stream: TextIO | None = None) -> None:
    out: Any = _SafeStream(stream or sys.stderr)
    tty = bool(getattr(stream or sys.stderr, "isatty", lambda: False)())
    renderer: Any = (
        structlog.dev.ConsoleRenderer(colors=True)
        if tty
        else structlog.processors.KeyValueRenderer(key_order=["timestamp", "level", "event"])
    )
    structlog.configure(
        processors=[
            structlog.contextvars.merge_contextvars,
            structlog.processors.add_log_level,
            structlog.processors.TimeStamper(fmt="iso", utc=True),
            structlog.processors.format_exc_info,
            renderer,
        ],
        wrapper_class=structlog.make_filtering_bound_logger(
            logging.getLevelNamesMapping().get(level.upper(), logging.INFO)
        ),
        logger_factory=structlog.PrintLoggerFactory(file=out),
        cache_logger_on_first_use=False,
    )
