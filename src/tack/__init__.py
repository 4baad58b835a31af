"""Tack: harness engineering for autonomous coding agents.

A Symphony-compatible orchestrator that runs one coding agent per eligible issue, each in its
own git worktree, with durable state, legible feedback and a learning loop.
"""

from importlib.metadata import PackageNotFoundError, version as _dist_version

try:
    # The distribution is `tack-harness` on PyPI (`tack` is taken); the import name is `tack`.
    __version__ = _dist_version("tack-harness")
except PackageNotFoundError:  # running from a source tree that was never installed
    __version__ = "0.2.0"
