"""Where a path points: inside the repository (first party) or not, and how to show it.

Parsers see absolute paths, paths relative to where the tool ran, and library paths;
every finding shows a path relative to the repository root when it has one.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

THIRD_PARTY_MARKERS = ("site-packages/", "dist-packages/", "node_modules/", "/.venv/",
                       "/venv/", "<frozen ", "/rustc/", "/go/pkg/mod/", "/.cargo/registry/")


@dataclass(frozen=True)
class ParseContext:
    """The repository root and the directory the tool ran in."""

    root: Path
    cwd: Path

    @classmethod
    def here(cls, root: Path | None = None, cwd: Path | None = None) -> ParseContext:
        cwd = (cwd or Path.cwd()).resolve()
        return cls(root=(root or cwd).resolve(), cwd=cwd)

    def display(self, path: str) -> str:
        """`path` relative to the repository root when it is inside it, else unchanged."""
        path = path.removeprefix("file://")
        p = Path(path)
        absolute = p if p.is_absolute() else self.cwd / p
        try:
            rel = Path(os.path.normpath(absolute)).relative_to(self.root)
        except ValueError:
            return path
        return rel.as_posix()

    def is_first_party(self, path: str) -> bool:
        shown = self.display(path)
        probe = "/" + shown
        if any(marker in probe for marker in THIRD_PARTY_MARKERS):
            return False
        return not Path(shown).is_absolute() and not shown.startswith("<")
