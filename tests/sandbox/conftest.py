"""Sandbox tests need a working bubblewrap (`make test` installs it; see the Makefile)."""

from __future__ import annotations

import pytest

from tack.sandbox import sandbox_support


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    support = sandbox_support()
    if support.ok:
        return
    # A machine without bubblewrap cannot show the sandbox works; say so loudly, not silently.
    mark = pytest.mark.skip(reason=f"bubblewrap unusable here: {support.detail}")
    for item in items:
        if "tests/sandbox" in str(item.fspath):
            item.add_marker(mark)
