"""Shared setup for tests that drive the real `codex` CLI against the stub model server:
where the pinned binary lives, an isolated CODEX_HOME, and a config pointing at the stub."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest

from tack.workflow.config import CodexConfig

ROOT = Path(__file__).resolve().parents[2]
CODEX_BIN = Path(os.environ.get("TACK_CODEX_BIN")
                 or ROOT / "tools" / "agents" / "node_modules" / ".bin" / "codex")
FIXTURES = ROOT / "tests" / "fixtures" / "codex"
STUB_KEY_ENV = "TACK_STUB_OPENAI_KEY"

requires_codex = pytest.mark.skipif(
    not CODEX_BIN.exists(),
    reason=f"the pinned codex CLI is not installed at {CODEX_BIN}; run `npm ci` in "
           "tools/agents (make test does) or set TACK_CODEX_BIN",
)


def codex_home(root: Path, base_url: str) -> Path:
    """A CODEX_HOME whose only model provider is the stub server (Responses API)."""
    home = root / "codex-home"
    home.mkdir(parents=True, exist_ok=True)
    (home / "config.toml").write_text(
        'model = "stub"\n'
        'model_provider = "stub"\n'
        "[model_providers.stub]\n"
        'name = "Tack stub model"\n'
        f'base_url = "{base_url}"\n'
        f'env_key = "{STUB_KEY_ENV}"\n'
        'wire_api = "responses"\n'
    )
    return home


def codex_env(home: Path) -> dict[str, str]:
    # HOME points at the temp dir too: `bash -lc` then skips the machine's login profile
    # (here pyenv's rehash, whose lock a killed login shell leaves behind for 60 s).
    # TMPDIR outside CODEX_HOME: codex refuses to create its `codex-linux-sandbox` helper
    # under the temp directory, and a system bwrap then cannot start any sandboxed command.
    tmp = home.parent / "tmp"
    tmp.mkdir(exist_ok=True)
    return {"CODEX_HOME": str(home), "HOME": str(home.parent), "TMPDIR": str(tmp),
            STUB_KEY_ENV: "sk-stub-test"}


def codex_config(**extra: Any) -> CodexConfig:
    values: dict[str, Any] = {"command": f"{CODEX_BIN} app-server", "read_timeout_ms": 20_000}
    values.update(extra)
    return CodexConfig(**values)
