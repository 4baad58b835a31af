"""Shared fixtures: real git repositories and the real `tack` command.

Feature-specific fixtures live beside their tests; keep this file small.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

TACK = [sys.executable, "-m", "tack"]

GIT_ENV = {
    "GIT_AUTHOR_NAME": "Tack Test",
    "GIT_AUTHOR_EMAIL": "test@tack.invalid",
    "GIT_COMMITTER_NAME": "Tack Test",
    "GIT_COMMITTER_EMAIL": "test@tack.invalid",
}


@pytest.fixture(autouse=True)
def _git_identity(monkeypatch: pytest.MonkeyPatch) -> None:
    for key, value in GIT_ENV.items():
        monkeypatch.setenv(key, value)


def git(cwd: Path, *args: str) -> str:
    env = {**os.environ, **GIT_ENV}
    return subprocess.run(
        ["git", *args], cwd=cwd, env=env, check=True, capture_output=True, text=True
    ).stdout


@pytest.fixture
def git_repo(tmp_path: Path) -> Path:
    """A real git repository with one commit on `main`."""
    repo = tmp_path / "repo"
    repo.mkdir()
    git(repo, "init", "-q", "-b", "main")
    (repo / "README.md").write_text("# demo repo\n")
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", "initial")
    return repo


def run_tack(*args: str, cwd: Path | None = None, env: dict[str, str] | None = None,
             timeout: float = 120) -> subprocess.CompletedProcess[str]:
    """Run the real `tack` CLI in a subprocess and capture its output."""
    full_env = {**os.environ, **GIT_ENV, **(env or {})}
    return subprocess.run(
        [*TACK, *args], cwd=cwd, env=full_env, capture_output=True, text=True, timeout=timeout
    )


@pytest.fixture
def cleanup() -> Iterator[list[Any]]:
    """Things to stop after the test, last first: stub model servers (`stop_thread`) and
    anything with `__exit__` (`tack up`, workers, fake APIs)."""
    from tack.testing import StubModelServer

    items: list[Any] = []
    yield items
    for item in reversed(items):
        if isinstance(item, StubModelServer):
            item.stop_thread()
        else:
            item.__exit__(None, None, None)
