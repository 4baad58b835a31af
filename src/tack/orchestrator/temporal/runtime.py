"""Running a Temporal process (`tack worker`, `tack up` with the Temporal executor) on a
runtime of its own that is shut down before the interpreter exits.

The SDK's Rust runtime has no shutdown call: its threads stop when the last Python object
that refers to it (the runtime, a client, a worker) is freed. The default runtime lives in a
module global, so its threads outlive `main` and race interpreter finalisation, which aborts
the process about one exit in three under load (`Fatal Python error: PyGILState_Release`,
exit 134; temporalio/sdk-python#300). Here the runtime is made inside the coroutine, every
reference to it is dropped when the coroutine ends, however it ends, and the threads are gone
before control returns to the caller.
"""

from __future__ import annotations

import asyncio
import gc
import traceback
import weakref
from collections.abc import Callable, Coroutine
from typing import TYPE_CHECKING, Any, TypeVar

import structlog

if TYPE_CHECKING:  # `tack up` with the local executor never loads the SDK
    from temporalio.runtime import Runtime

log = structlog.get_logger("tack.temporal.runtime")
T = TypeVar("T")


def new_runtime() -> Runtime:
    """A Temporal runtime of the caller's own: its threads stop once it and every client and
    worker made on it are freed (the SDK's default runtime never is)."""
    from temporalio.runtime import Runtime, TelemetryConfig

    return Runtime(telemetry=TelemetryConfig())


def run_and_release(main: Coroutine[Any, Any, T]) -> T:
    """`asyncio.run(main)`, then free what it made, so a Temporal runtime of its own (see
    `new_runtime`) has stopped its threads by the time this returns or raises."""
    try:
        return asyncio.run(main)
    except BaseException as exc:
        # The traceback's frames hold the client and runtime in their locals; clearing them
        # keeps the traceback printable and lets the runtime go below.
        _clear_frames(exc)
        raise
    finally:
        gc.collect()  # tracebacks and asyncio tasks refer to one another in cycles


def run_on_own_runtime(main: Callable[[Runtime], Coroutine[Any, Any, T]]) -> T:
    """`asyncio.run(main(runtime))` with a fresh Temporal runtime, whose threads have stopped
    by the time this returns or raises."""
    made: list[weakref.ref[Runtime]] = []

    async def start() -> T:
        runtime = new_runtime()
        made.append(weakref.ref(runtime))
        return await main(runtime)

    try:
        return run_and_release(start())
    finally:
        if made and made[0]() is not None:
            log.warning("temporal.runtime_still_referenced",
                        hint="its threads may abort the process at exit")


def _clear_frames(exc: BaseException) -> None:
    seen: set[int] = set()
    todo: list[BaseException | None] = [exc]
    while todo:
        current = todo.pop()
        if current is None or id(current) in seen:
            continue
        seen.add(id(current))
        traceback.clear_frames(current.__traceback__)
        todo += [current.__cause__, current.__context__]
