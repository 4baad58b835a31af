"""A workspace holding the fixture counter app (tests/fixtures/app) and a WORKFLOW.md `app:`
section; every test stops the workspace's app session, whatever happened."""

from __future__ import annotations

import shutil
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import yaml

FIXTURE_APP = Path(__file__).parent.parent / "fixtures" / "app"
CHROMIUM = "/usr/bin/chromium"

needs_chromium = pytest.mark.skipif(
    not Path(CHROMIUM).exists(),
    reason=f"{CHROMIUM} is missing: apt-get install -y --no-install-recommends chromium")

MakeWorkspace = Callable[..., Path]


@pytest.fixture
def app_workspace(tmp_path: Path) -> Iterator[MakeWorkspace]:
    made: list[Path] = []

    def make(name: str = "TACK-1", **app: object) -> Path:
        ws = tmp_path / "workspaces" / name
        shutil.copytree(FIXTURE_APP, ws)
        section = {"start": "python3 server.py $TACK_APP_PORT", "ready": "log:listening on",
                   "start_timeout_ms": 30_000, **app}
        (ws / "WORKFLOW.md").write_text("---\n" + yaml.safe_dump({"app": section}) +
                                        "---\nFix {{ issue.title }}\n")
        made.append(ws)
        return ws

    yield make
    from tack.app.client import stop

    for ws in made:
        stop(ws)
