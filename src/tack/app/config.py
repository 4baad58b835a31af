"""`app:` in WORKFLOW.md: how Tack starts, waits for and opens the app an agent is building.

Values may name `$TACK_APP_PORT` and `$TACK_CDP_PORT`; they are expanded per workspace when
the app starts (app/ports.py), so fifteen workspaces run fifteen copies side by side.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

DEFAULT_URL = "http://127.0.0.1:$TACK_APP_PORT/"
CHROMIUM = "/usr/bin/chromium"


class AppConfig(BaseModel):
    model_config = ConfigDict(extra="forbid", validate_default=True)

    # A shell command run in the workspace, e.g. `npm run dev -- --port $TACK_APP_PORT`.
    start: str | None = None
    # A URL polled until it answers (any HTTP status below 500), or `log:REGEX` matched
    # against the app's output. Default: the app's `url`.
    ready: str | None = None
    url: str = DEFAULT_URL
    env: dict[str, str] = Field(default_factory=dict)
    start_timeout_ms: int = Field(default=60_000, gt=0)
    # The app's own DevTools endpoint (Electron: `electron . --remote-debugging-port=$TACK_CDP_PORT`);
    # Tack then attaches to it instead of launching Chromium. `true` means
    # `http://127.0.0.1:$TACK_CDP_PORT`.
    cdp: str | bool | None = None
    # Tokens a snapshot digest may take; `--full` prints everything.
    snapshot_budget: int = Field(default=1_500, ge=100)
    chromium: str = CHROMIUM
    # Milliseconds an action (click, fill, ...) waits for its element.
    action_timeout_ms: int = Field(default=5_000, gt=0)

    def cdp_endpoint(self) -> str | None:
        if self.cdp is None or self.cdp is False:
            return None
        return "http://127.0.0.1:$TACK_CDP_PORT" if self.cdp is True else self.cdp
