"""Where a best-of-N race's scores are kept: `.tack/best-of/<ISSUE>.json`, read by the API
and the dashboard without importing the race machinery (which drives the orchestrator)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any


def best_of_record(tack_dir: Path, identifier: str) -> dict[str, Any] | None:
    """The stored scores of the issue's last best-of-N race (None when it had none)."""
    path = tack_dir / "best-of" / f"{identifier}.json"
    try:
        data = json.loads(path.read_text("utf-8"))
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None
