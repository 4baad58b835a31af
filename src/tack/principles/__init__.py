"""Golden principles: the PRINCIPLES.md document, its checks, and the scanner behind `tack scan`.

Extension point: a Python check is `f(file: SourceFile, args: Mapping) -> Iterable[Violation]`
registered under the entry-point group `tack.principles` (see docs/principles.md).
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
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

# Imported on first use: a scan worker (`python -m tack.principles.worker`) imports this
# package, and the scanner's own imports would be counted again in its memory.
_HOMES = {
    "Check": "document", "Example": "document", "Principle": "document",
    "PrinciplesDoc": "document", "PrinciplesError": "document", "Problem": "document",
    "load_document": "document", "parse_document": "document", "Finding": "findings",
    "ENTRY_POINT_GROUP": "rules", "SourceFile": "rules", "Violation": "rules",
    "ScanResult": "scanner", "scan": "scanner",
}


def __getattr__(name: str) -> Any:
    home = _HOMES.get(name)
    if home is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(import_module(f"{__name__}.{home}"), name)


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
