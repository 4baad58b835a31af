"""`tack app record start|stop`: a WebM recording of the page for reviewers, plus a poster.

Frames come from Playwright's screencast (CDP `Page.startScreencast`) as JPEGs, each shown
until the next one arrived, and Debian's `ffmpeg` encodes them to VP8 WebM at a constant
frame rate. (Playwright's own video encoder needs the ffmpeg build `playwright install`
downloads, which Tack never runs.) Without an `ffmpeg` the frames are kept as JPEGs and the
answer says so.
"""

from __future__ import annotations

import asyncio
import shutil
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from playwright.async_api import Page

FPS = 5
FFMPEG_HINT = ("install Debian's ffmpeg (`apt-get install -y --no-install-recommends ffmpeg`); "
               "`tack doctor` checks it")


@dataclass
class Recorded:
    video: Path | None  # None: no ffmpeg, or it failed; `frames` holds the JPEGs then
    poster: Path
    frames: Path
    seconds: float
    problem: str | None = None

    def text(self) -> str:
        if self.video is not None:
            return f"recording: {self.video} ({self.seconds:.1f} s)\nposter: {self.poster}"
        return (f"recording: no video ({self.problem}); the frames are kept as JPEGs in "
                f"{self.frames}\nposter: {self.poster}")


class Recording:
    def __init__(self, page: Page, artifacts: Path) -> None:
        self.page = page
        self.name = time.strftime("recording-%Y%m%d-%H%M%S")
        self.folder = artifacts
        self.frames_dir = artifacts / self.name
        self.frames: list[tuple[Path, float]] = []  # each frame and when it arrived
        self.started = 0.0

    def _keep(self, data: bytes) -> None:
        path = self.frames_dir / f"frame-{len(self.frames):05d}.jpg"
        path.write_bytes(data)
        self.frames.append((path, time.monotonic()))

    async def start(self) -> None:
        self.frames_dir.mkdir(parents=True, exist_ok=True)
        self.started = time.monotonic()

        def on_frame(frame: Any) -> None:
            self._keep(frame["data"])

        await self.page.screencast.start(on_frame=on_frame, quality=70)

    async def stop(self) -> Recorded:
        await self.page.screencast.stop()
        ended = time.monotonic()
        if not self.frames:  # a page that never repainted sends no frame: show it as it is
            self._keep(await self.page.screenshot(type="jpeg", quality=70))
        poster = self.folder / f"{self.name}-poster.jpg"
        poster.write_bytes(self.frames[-1][0].read_bytes())
        seconds = max(ended - self.started, 1 / FPS)
        ffmpeg = shutil.which("ffmpeg")
        if ffmpeg is None:
            return Recorded(None, poster, self.frames_dir, seconds, "ffmpeg is missing: "
                            + FFMPEG_HINT)
        video = self.folder / f"{self.name}.webm"
        problem = await self._encode(ffmpeg, video, ended)
        if problem is not None:
            return Recorded(None, poster, self.frames_dir, seconds, problem)
        shutil.rmtree(self.frames_dir, ignore_errors=True)
        return Recorded(video, poster, self.frames_dir, seconds)

    async def _encode(self, ffmpeg: str, video: Path, ended: float) -> str | None:
        """Encode the frames, each lasting until the next arrived (the screencast sends a
        frame only when the page repaints); None when the video was written."""
        lines = ["ffconcat version 1.0"]
        for index, (path, at) in enumerate(self.frames):
            until = self.frames[index + 1][1] if index + 1 < len(self.frames) else ended
            shown = max(until - (self.started if index == 0 else at), 1 / FPS)
            lines += [f"file '{path.name}'", f"duration {shown:.3f}"]
        lines.append(f"file '{self.frames[-1][0].name}'")  # the concat demuxer's last duration
        listing = self.frames_dir / "frames.ffconcat"
        listing.write_text("\n".join(lines) + "\n")
        proc = await asyncio.create_subprocess_exec(
            ffmpeg, "-y", "-nostdin", "-loglevel", "error", "-f", "concat", "-safe", "0",
            "-i", str(listing), "-vf", f"fps={FPS},scale=trunc(iw/2)*2:trunc(ih/2)*2",
            "-pix_fmt", "yuv420p", "-c:v", "libvpx", "-b:v", "1M", "-deadline", "realtime",
            "-cpu-used", "8", str(video),
            stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.PIPE)
        _, err = await proc.communicate()
        if proc.returncode == 0 and video.is_file():
            return None
        last = err.decode(errors="replace").strip().splitlines()[-1:] or ["no output"]
        return f"ffmpeg failed with code {proc.returncode}: {last[0]}"
