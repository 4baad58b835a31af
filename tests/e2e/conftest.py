"""Fixtures shared by the end-to-end tests."""

from __future__ import annotations

from typing import Any, Iterator

import pytest

from tack.testing import StubModelServer


@pytest.fixture
def cleanup() -> Iterator[list[Any]]:
    items: list[Any] = []
    yield items
    for item in reversed(items):
        if isinstance(item, StubModelServer):
            item.stop_thread()
        else:
            item.__exit__(None, None, None)
