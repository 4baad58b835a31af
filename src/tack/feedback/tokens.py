"""Token counting for `--budget`: tiktoken's o200k_base when its encoding is on disk.

tiktoken downloads encodings on first use; `tack check` never goes to the network, so when
the encoding is not cached it counts ceil(chars / 4), OpenAI's rule of thumb for English
and code. `counter_name()` says which one is in use.
"""

from __future__ import annotations

import hashlib
import math
import os
import tempfile
from collections.abc import Callable
from functools import lru_cache
from pathlib import Path

ENCODING = "o200k_base"
_BLOB = f"https://openaipublic.blob.core.windows.net/encodings/{ENCODING}.tiktoken"


def _cache_file() -> Path:
    # tiktoken's own cache layout (tiktoken/load.py): sha1 of the blob URL in the cache dir.
    base = os.environ.get("TIKTOKEN_CACHE_DIR") or os.environ.get("DATA_GYM_CACHE_DIR") or (
        os.path.join(tempfile.gettempdir(), "data-gym-cache"))
    return Path(base) / hashlib.sha1(_BLOB.encode()).hexdigest()


@lru_cache(maxsize=1)
def _tiktoken() -> Callable[[str], int] | None:
    if os.environ.get("TACK_TOKENS") == "approx" or not _cache_file().is_file():
        return None
    try:
        import tiktoken

        encoding = tiktoken.get_encoding(ENCODING)
    except Exception:  # noqa: BLE001 — a corrupt cache or no wheel: estimate, never fail
        return None
    return lambda text: len(encoding.encode(text, disallowed_special=()))


def count_tokens(text: str) -> int:
    exact = _tiktoken()
    return exact(text) if exact else math.ceil(len(text) / 4)


def counter_name() -> str:
    return f"tiktoken {ENCODING}" if _tiktoken() else "approximate (characters / 4)"
