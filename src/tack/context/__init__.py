"""The context sidecar: one long-lived service per host that keeps every agent's view of the
organisation fresh — mirrors of the repositories in `context.yaml`, a BM25 full-text index,
a symbols table, data catalogs, Mermaid maps and per-run session notes (docs/context.md)."""

from __future__ import annotations

from tack.errors import TackError


class ContextError(TackError):
    """The org manifest, a mirror or the index cannot be used; the message says how to fix it."""

    code = "context_error"


__all__ = ["ContextError"]
