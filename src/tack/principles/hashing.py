"""sha256 and blake2b from CPython's own modules, not OpenSSL's.

`hashlib` loads OpenSSL's libcrypto, ~4 MB of a scanning process's memory, for digests
CPython also implements itself; the results are the same bytes. `hashlib` is the fallback
for a Python built without them.
"""

from __future__ import annotations

from collections.abc import Callable
from importlib import import_module
from typing import Any


def _builtin(modules: tuple[str, ...], name: str) -> Callable[..., Any]:
    for module in modules:
        try:
            found: Callable[..., Any] = getattr(import_module(module), name)
        except (ImportError, AttributeError):
            continue
        return found
    fallback: Callable[..., Any] = getattr(import_module("hashlib"), name)
    return fallback


sha256 = _builtin(("_sha2", "_sha256"), "sha256")  # `_sha2` from Python 3.12
blake2b = _builtin(("_blake2",), "blake2b")
