"""The built-in agent's `app` tool: the verbs of `tack app`, answered by the same daemon."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

from tack.app.client import call
from tack.app.home import AppError, AppHome

VERBS = ("start", "stop", "status", "logs", "open", "snapshot", "click", "fill", "press",
         "select", "hover", "wait", "screenshot", "console", "network", "eval", "record")


def app_configured(workspace: Path) -> bool:
    """Offer the tool when the run wrote an `app:` section that starts or attaches to an app."""
    home = AppHome(workspace)
    if not home.config_file.is_file():
        return False
    config = home.read_config()
    return bool(config.start or config.cdp)


def _request(verb: str, args: dict[str, Any]) -> dict[str, Any]:
    target, value = args.get("target"), args.get("value")
    flag = bool(args.get("flag"))
    if verb in ("click", "hover", "fill", "select") and not target:
        raise AppError(f"`{verb}` needs `target`: a ref from the latest snapshot, like e12.")
    if verb in ("fill", "select", "press", "eval") and value is None:
        raise AppError(f"`{verb}` needs `value`.")
    requests: dict[str, dict[str, Any]] = {
        "logs": {"lines": 50}, "open": {"url": value}, "snapshot": {"scope": target, "full": flag},
        "click": {"target": target}, "hover": {"target": target},
        "fill": {"target": target, "value": value}, "select": {"target": target, "value": value},
        "press": {"key": value}, "eval": {"script": value},
        "wait": {"gone": target} if target else ({"url": value} if flag else {"text": value}),
        "screenshot": {"path": value, "ref": target}, "console": {"errors": flag},
        "network": {"failed": flag}, "record": {"action": value or "start"},
    }
    return requests.get(verb, {})


async def run_app_tool(args: dict[str, Any], workspace: Path, env: dict[str, str] | None) -> str:
    verb = str(args.get("command", ""))
    if verb not in VERBS:
        raise AppError(f"unknown app command {verb!r}; one of: {', '.join(VERBS)}")
    request = {k: v for k, v in _request(verb, args).items() if v is not None}
    reply = await asyncio.to_thread(call, workspace, verb, env=env, **request)
    return reply.text
