"""`tack app record start|stop` yields a real WebM video plus a poster frame (issue 14 §6);
without ffmpeg the frames are kept and the answer says so."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tack.app.home import AppHome
from tests.app.conftest import MakeWorkspace, needs_chromium
from tests.conftest import run_tack

FFPROBE = shutil.which("ffprobe")
pytestmark = [pytest.mark.slow, needs_chromium]


def tack_app(ws: Path, *args: str, env: dict[str, str] | None = None) -> str:
    result = run_tack("app", *args, cwd=ws, env=env)
    assert result.returncode == 0, result.stderr
    return result.stdout


def probe(video: Path) -> tuple[int, float, str]:
    assert FFPROBE is not None
    out = subprocess.run([FFPROBE, "-v", "error", "-count_frames", "-select_streams", "v:0",
                          "-show_entries", "stream=nb_read_frames,codec_name:format=duration",
                          "-of", "json", str(video)], capture_output=True, text=True, timeout=60,
                         check=True).stdout
    data = json.loads(out)
    stream = data["streams"][0]
    return int(stream["nb_read_frames"]), float(data["format"]["duration"]), stream["codec_name"]


@pytest.mark.skipif(FFPROBE is None or shutil.which("ffmpeg") is None,
                    reason="ffmpeg is missing: apt-get install -y --no-install-recommends ffmpeg "
                           "(make test installs it)")
def test_a_recording_is_a_webm_video_with_a_poster(app_workspace: MakeWorkspace) -> None:
    ws = app_workspace()
    tack_app(ws, "open")
    began = time.monotonic()
    assert "recording started" in tack_app(ws, "record", "start")
    for text in ("a", "ab", "abc"):
        tack_app(ws, "fill", "#note", text)
    stopped = json.loads(tack_app(ws, "record", "stop", "--json"))
    wall = time.monotonic() - began

    video, poster = Path(stopped["video"]), Path(stopped["poster"])
    assert video.parent == poster.parent == AppHome(ws).artifacts
    assert video.suffix == ".webm" and poster.read_bytes()[:2] == b"\xff\xd8"
    frames, duration, codec = probe(video)
    assert codec == "vp8" and frames > 1
    assert 0.2 <= duration <= wall + 1, (duration, wall)
    assert f"recording: {video}" in stopped["text"]
    assert not (AppHome(ws).artifacts / video.stem).exists()  # the frames went into the video


def test_without_ffmpeg_the_frames_are_kept_and_the_answer_says_so(
        app_workspace: MakeWorkspace, tmp_path: Path) -> None:
    # A PATH with the app's python3 but no ffmpeg; the daemon inherits it from the first call.
    bare = tmp_path / "bin"
    bare.mkdir()
    (bare / "python3").symlink_to(os.path.realpath(sys.executable))
    env = {"PATH": str(bare)}
    ws = app_workspace()
    tack_app(ws, "open", env=env)
    tack_app(ws, "record", "start", env=env)
    tack_app(ws, "fill", "#note", "hello", env=env)
    stopped = tack_app(ws, "record", "stop", env=env)
    assert "no video (ffmpeg is missing" in stopped and "apt-get install" in stopped
    frames = Path(re.search(r"frames are kept as JPEGs in (\S+)", stopped).group(1))  # type: ignore[union-attr]
    assert sorted(os.listdir(frames)) and all(
        (frames / n).read_bytes()[:2] == b"\xff\xd8" for n in os.listdir(frames))
    poster = Path(re.search(r"poster: (\S+)", stopped).group(1))  # type: ignore[union-attr]
    assert poster.is_file() and not list(AppHome(ws).artifacts.glob("*.webm"))
