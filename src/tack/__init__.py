"""Tack: harness engineering for autonomous coding agents.

A Symphony-compatible orchestrator that runs one coding agent per eligible issue, each in its
own git worktree, with durable state, legible feedback and a learning loop.
"""

__version__ = "0.1.0"
