"""The orchestrator: scheduling decisions (`scheduling`), the loop (`core`), one attempt (`worker`)."""

from __future__ import annotations

from tack.orchestrator.core import Orchestrator

__all__ = ["Orchestrator"]
