"""The HTTP surface: the JSON API (SPEC §13.7.2) and the dashboard, served by Starlette."""

from __future__ import annotations

from tack.server.app import create_app, serve

__all__ = ["create_app", "serve"]
