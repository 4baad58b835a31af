"""The daemon's second way in, for callers whose sandbox forbids `connect()`: named pipes.

Codex's `workspace-write` sandbox refuses `connect()` on every socket, Unix ones included,
while the network is off; it lets a command make and open FIFOs in the workspace. So the
daemon also reads requests from `<workspace>/.tack/app/door.fifo`: a caller writes its request
to a file, makes a reply FIFO beside it, and sends one short line naming both (shorter than
PIPE_BUF, so lines of callers writing at once never interleave). The answer is the same JSON
line the socket gives.
"""

from __future__ import annotations

import asyncio
import errno
import json
import os
import select
import time
import uuid
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from tack.app.home import AppHome

Handler = Callable[[dict[str, Any]], Awaitable[dict[str, Any]]]


def door(home: AppHome) -> Path:
    return home.dir / "door.fifo"


def _mailbox(home: AppHome) -> Path:
    folder = home.dir / "mailbox"
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def request(home: AppHome, payload: dict[str, Any], timeout: float) -> dict[str, Any]:
    """One request through the door; ConnectionRefusedError when no daemon reads it."""
    name = uuid.uuid4().hex
    box = _mailbox(home)
    asked, reply = box / f"{name}.json", box / f"{name}.fifo"
    asked.write_text(json.dumps(payload))
    os.mkfifo(reply, 0o600)
    # Read-write, so the open never waits for the daemon and no read sees a false end.
    answer_fd = os.open(reply, os.O_RDWR)
    try:
        try:  # non-blocking: ENXIO at once when nobody holds the door open
            door_fd = os.open(door(home), os.O_WRONLY | os.O_NONBLOCK)
        except OSError as exc:
            if exc.errno not in (errno.ENXIO, errno.ENOENT):
                raise
            raise ConnectionRefusedError(errno.ECONNREFUSED, "no app daemon reads "
                                         f"{door(home)}") from exc
        try:
            os.write(door_fd, json.dumps({"request": str(asked), "reply": str(reply)}).encode()
                     + b"\n")
        finally:
            os.close(door_fd)
        return json.loads(_read_line(answer_fd, timeout) or b"{}")  # type: ignore[no-any-return]
    finally:
        os.close(answer_fd)
        reply.unlink(missing_ok=True)
        asked.unlink(missing_ok=True)


def _read_line(fd: int, timeout: float) -> bytes:
    chunks: list[bytes] = []
    deadline = time.monotonic() + timeout
    while True:
        left = deadline - time.monotonic()
        if left <= 0 or not select.select([fd], [], [], left)[0]:
            raise TimeoutError(f"the app daemon gave no answer within {timeout:.0f} s")
        chunk = os.read(fd, 65536)
        chunks.append(chunk)
        if chunk.endswith(b"\n"):
            return b"".join(chunks)


async def serve(home: AppHome, handle: Handler) -> asyncio.Task[None]:
    """Answer requests arriving at the door until the returned task is cancelled."""
    path = door(home)
    path.unlink(missing_ok=True)
    os.mkfifo(path, 0o600)
    # Read-write: the daemon is always a writer too, so the door never reads end-of-file.
    fd = os.open(path, os.O_RDWR | os.O_NONBLOCK)
    reader = asyncio.StreamReader()
    loop = asyncio.get_running_loop()
    await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader),
                                 os.fdopen(fd, "rb", buffering=0))

    async def answer(line: bytes) -> None:
        try:
            note = json.loads(line)
            asked, reply = Path(note["request"]), Path(note["reply"])
            if asked.parent != _mailbox(home) or reply.parent != asked.parent:
                return  # only the workspace's own mailbox
            payload = json.loads(asked.read_text())
        except (OSError, ValueError, KeyError, TypeError):
            return
        text = json.dumps(await handle(payload), default=str).encode() + b"\n"
        await asyncio.to_thread(_write_reply, reply, text)

    async def loop_forever() -> None:
        tasks: set[asyncio.Task[None]] = set()
        try:
            while True:
                line = await reader.readline()
                task = asyncio.create_task(answer(line))
                tasks.add(task)
                task.add_done_callback(tasks.discard)
        finally:
            path.unlink(missing_ok=True)

    return asyncio.create_task(loop_forever())


def _write_reply(reply: Path, text: bytes) -> None:
    try:  # non-blocking open: a caller that gave up has no reader, so ENXIO, not a hang
        fd = os.open(reply, os.O_WRONLY | os.O_NONBLOCK)
    except OSError:
        return
    try:
        os.set_blocking(fd, True)
        view = memoryview(text)
        while view:
            view = view[os.write(fd, view):]
    except OSError:
        pass
    finally:
        os.close(fd)
