"""Tack: harness engineering for autonomous coding agents.

A Symphony-compatible orchestrator that runs one coding agent per eligible issue, each in its
own git worktree, with durable state, legible feedback and a learning loop.
"""

from typing import Any


def __getattr__(name: str) -> Any:
    # Computed on first use: importlib.metadata is a noticeable part of a warm `tack scan`.
    if name != "__version__":
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    from importlib.metadata import PackageNotFoundError, version

    try:
        # The distribution is `tack-harness` on PyPI (`tack` is taken); the import name is `tack`.
        found = version("tack-harness")
    except PackageNotFoundError:  # running from a source tree that was never installed
        found = "0.2.0"
    globals()["__version__"] = found
    return found
