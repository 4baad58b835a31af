"""Sandbox tests need a working bubblewrap (`make test` installs it; see the Makefile)."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from tack.sandbox import close_proxies, sandbox_support


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    support = sandbox_support()
    if support.ok:
        return
    # A machine without bubblewrap cannot show the sandbox works; say so loudly, not silently.
    mark = pytest.mark.skip(reason=f"bubblewrap unusable here: {support.detail}")
    for item in items:
        if "tests/sandbox" in str(item.fspath):
            item.add_marker(mark)


@pytest.fixture(autouse=True)
async def _session_sandboxes_closed() -> AsyncIterator[None]:
    """Each test's sandboxes end with it (an agent session's end closes them in Tack)."""
    yield
    await close_proxies()
