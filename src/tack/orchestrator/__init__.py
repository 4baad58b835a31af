"""The orchestrator: scheduling decisions (`scheduling`), the loop (`core`), one attempt (`worker`).

`Orchestrator` is imported on first use, so importing one of the collaborators (`state`,
`handoff`, ...) does not load `core` and the package has no import circle.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from tack.orchestrator.core import Orchestrator

__all__ = ["Orchestrator"]


def __getattr__(name: str) -> Any:
    if name == "Orchestrator":
        from tack.orchestrator.core import Orchestrator

        return Orchestrator
    raise AttributeError(f"module 'tack.orchestrator' has no attribute {name!r}")
