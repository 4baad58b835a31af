"""Giving free heap memory back to the system, so a scan process's memory is what it holds
now, not the most it ever held.

glibc keeps freed memory in the process: a parse tree is many small allocations, freed in
the middle of the heap, which only `malloc_trim` returns. Trimming costs page faults when
the memory is used again, so it is done after a large file, and after a chunk of files only
when megabytes lie free. Elsewhere than glibc, nothing is done.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import lru_cache
from typing import Any

# After a chunk, trim only when at least this much of the heap is free.
CHUNK_FREE_BYTES = 4 << 20


@lru_cache(maxsize=1)
def _glibc() -> tuple[Callable[[int], int], Callable[[], Any] | None] | None:
    import ctypes

    class MallInfo2(ctypes.Structure):
        _fields_ = [(name, ctypes.c_size_t) for name in (
            "arena", "ordblks", "smblks", "hblks", "hblkhd", "usmblks", "fsmblks", "uordblks",
            "fordblks", "keepcost")]

    try:
        libc = ctypes.CDLL(None)
        trim: Callable[[int], int] = libc.malloc_trim
    except (OSError, AttributeError):  # not glibc
        return None
    info = getattr(libc, "mallinfo2", None)  # glibc 2.33+
    if info is not None:
        info.restype = MallInfo2
    return trim, info


def give_back(min_free: int = 0) -> None:
    """Return the heap's free pages to the system, if at least `min_free` bytes are free."""
    found = _glibc()
    if found is None:
        return
    trim, info = found
    if min_free and info is not None and info().fordblks < min_free:
        return
    trim(0)
