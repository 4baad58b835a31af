"""Golden principles: the PRINCIPLES.md document, its checks, and the scanner behind `tack scan`.

Extension point: a Python check is `f(file: SourceFile, args: Mapping) -> Iterable[Violation]`
registered under the entry-point group `tack.principles` (see docs/principles.md).
"""

from __future__ import annotations

from tack.principles.document import (
    Check,
    Example,
    Principle,
    PrinciplesDoc,
    PrinciplesError,
    Problem,
    load_document,
    parse_document,
)
from tack.principles.findings import Finding
from tack.principles.rules import ENTRY_POINT_GROUP, SourceFile, Violation
from tack.principles.scanner import ScanResult, scan

__all__ = [
    "ENTRY_POINT_GROUP",
    "Check",
    "Example",
    "Finding",
    "Principle",
    "PrinciplesDoc",
    "PrinciplesError",
    "Problem",
    "ScanResult",
    "SourceFile",
    "Violation",
    "load_document",
    "parse_document",
    "scan",
]
