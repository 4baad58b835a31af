"""The app under construction, seen and driven by agents (`tack app`, docs/app.md).

One daemon per workspace holds the app's process group and one Chromium; the CLI and the
built-in agent's `app` tool talk to it over a Unix socket in `<workspace>/.tack/app/`.
"""

from __future__ import annotations
