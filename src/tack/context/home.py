"""Where the sidecar keeps its state, and how every client (CLI, MCP server, built-in agent
tools, sessions) finds it: `<home>/config.json` names the org manifest, `<home>/service.json`
the running service."""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tack.context import ContextError
from tack.context.index import ContextIndex
from tack.context.manifest import ContextManifest, load_manifest

HOME_ENV = "TACK_CONTEXT_HOME"
# The MCP server name agents see the context tools under (`mcp__tack_context__search`).
CONTEXT_SERVER_NAME = "tack_context"
DEFAULT_INTERVAL_S = 300.0


@dataclass
class ContextHome:
    path: Path

    @classmethod
    def locate(cls, home: str | Path | None = None) -> ContextHome:
        """`home`, else $TACK_CONTEXT_HOME, else `.tack/context` of the current directory."""
        chosen = home or os.environ.get(HOME_ENV) or Path.cwd() / ".tack" / "context"
        return cls(Path(chosen).expanduser().resolve())

    @property
    def config_file(self) -> Path:
        return self.path / "config.json"

    @property
    def service_file(self) -> Path:
        return self.path / "service.json"

    def configure(self, manifest: Path, interval_s: float) -> None:
        self.path.mkdir(parents=True, exist_ok=True)
        self.config_file.write_text(json.dumps(
            {"manifest": str(manifest.resolve()), "interval_s": interval_s}))

    def settings(self) -> dict[str, Any]:
        if not self.config_file.is_file():
            raise ContextError(
                f"no context index at {self.path}; run `tack context sync --manifest "
                "context.yaml` (or `tack up` with `context:` in WORKFLOW.md) first, or set "
                f"{HOME_ENV} to the sidecar's home")
        data: dict[str, Any] = json.loads(self.config_file.read_text())
        return data

    def manifest(self) -> ContextManifest:
        return load_manifest(self.settings()["manifest"])

    def open_index(self) -> ContextIndex:
        interval = float(self.settings().get("interval_s") or DEFAULT_INTERVAL_S)
        # Results are stale once two fetch cycles were missed.
        return ContextIndex(self.path, max_age_s=max(2 * interval, 60.0))

    def service(self) -> dict[str, Any] | None:
        """The running service's pid and URL, when one is alive."""
        try:
            info: dict[str, Any] = json.loads(self.service_file.read_text())
            os.kill(int(info["pid"]), 0)
        except (OSError, ValueError, KeyError):
            return None
        return info
