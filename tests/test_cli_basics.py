from __future__ import annotations

import tack
from tests.conftest import run_tack


def test_version_prints_package_version() -> None:
    result = run_tack("version")
    assert result.returncode == 0
    assert result.stdout.strip() == tack.__version__


def test_unknown_command_is_a_usage_error_without_traceback() -> None:
    result = run_tack("no-such-command")
    assert result.returncode == 2
    assert "Traceback" not in result.stderr
    assert "No such command" in result.stderr
