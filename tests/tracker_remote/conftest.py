"""Fixtures: the fake hosted APIs on a loopback port, and WORKFLOW.md files that point at it."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tack.workflow import load_workflow
from tack.workflow.config import ServiceConfig
from tests.conftest import git
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


def branch_with_remote(repo: Path, tmp_path: Path, branch: str, path: str, text: str,
                       message: str) -> Path:
    """Give `repo` a bare `origin` with its `main`, then commit `path` on a new `branch`
    (not pushed): the state a run leaves its workspace in at hand-off. Returns the remote."""
    remote = tmp_path / "remote.git"
    git(tmp_path, "init", "-q", "--bare", "-b", "main", str(remote))
    git(repo, "remote", "add", "origin", str(remote))
    git(repo, "push", "-q", "origin", "main")
    git(repo, "fetch", "-q", "origin")
    git(repo, "checkout", "-q", "-b", branch)
    (repo / path).write_text(text)
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", message)
    return remote
