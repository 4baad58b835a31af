"""Fixtures: the fake hosted APIs on a loopback port, and WORKFLOW.md files that point at it."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tack.workflow import load_workflow
from tack.workflow.config import ServiceConfig
from tests.tracker_remote.fake_apis import FakeApis, ServerThread

TOKEN = "test-token-123456"


@pytest.fixture
def fake() -> Iterator[FakeApis]:
    apis = FakeApis(token=TOKEN)
    with ServerThread(apis.app()) as server:
        apis.url = server.url
        yield apis


def write_workflow(tmp_path: Path, front: str) -> ServiceConfig:
    path = tmp_path / "WORKFLOW.md"
    path.write_text(f"---\n{front.strip()}\n---\nWork on {{{{ issue.identifier }}}}.\n")
    return load_workflow(path).config
