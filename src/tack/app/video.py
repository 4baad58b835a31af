"""`tack app record start|stop`: a recording of the page for reviewers, plus a poster frame.

Frames come from Playwright's screencast (CDP `Page.startScreencast`). Playwright's own
video encoder needs the ffmpeg that `playwright install` downloads, which Tack never runs;
so frames are kept as JPEGs, and encoded to WebM when an `ffmpeg` is on PATH.
"""

from __future__ import annotations

import asyncio
import shutil
import time
from pathlib import Path
from typing import Any

from playwright.async_api import Page

FPS = 5


class Recording:
    def __init__(self, page: Page, artifacts: Path) -> None:
        self.page = page
        stamp = time.strftime("%Y%m%d-%H%M%S")
        self.name = f"recording-{stamp}"
        self.frames_dir = artifacts / self.name
        self.frames: list[Path] = []

    async def start(self) -> None:
        self.frames_dir.mkdir(parents=True, exist_ok=True)

        def on_frame(frame: Any) -> None:
            path = self.frames_dir / f"frame-{len(self.frames):05d}.jpg"
            path.write_bytes(frame["data"])
            self.frames.append(path)

        await self.page.screencast.start(on_frame=on_frame, fps=FPS, quality=70)

    async def stop(self) -> tuple[Path, Path]:
        """Returns (video, poster): the WebM when ffmpeg exists, else the frames folder."""
        await self.page.screencast.stop()
        poster = self.frames_dir.parent / f"{self.name}-poster.jpg"
        if self.frames:
            poster.write_bytes(self.frames[-1].read_bytes())
        ffmpeg = shutil.which("ffmpeg")
        if ffmpeg is None or not self.frames:
            return self.frames_dir, poster
        video = self.frames_dir.parent / f"{self.name}.webm"
        proc = await asyncio.create_subprocess_exec(
            ffmpeg, "-y", "-loglevel", "error", "-framerate", str(FPS), "-i",
            str(self.frames_dir / "frame-%05d.jpg"), "-c:v", "libvpx", "-b:v", "1M", str(video),
            stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.DEVNULL)
        await proc.wait()
        return (video if proc.returncode == 0 and video.exists() else self.frames_dir), poster
