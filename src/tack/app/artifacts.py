"""Evidence of a run: the screenshots and recordings its agent took, kept with the run.

At the end of a run the files in `<workspace>/.tack/app/artifacts/` are copied to
`<.tack beside WORKFLOW.md>/artifacts/run-<id>/`, served by the API at
`/api/v1/runs/<id>/artifacts/<name>` and listed in the hand-off comment and PR body.
"""

from __future__ import annotations

import mimetypes
import re
import shutil
from pathlib import Path

from tack.app.home import AppHome

_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*$")
KINDS = (".png", ".jpg", ".jpeg", ".webm", ".yml")


def run_dir(tack_dir: Path, run_id: int) -> Path:
    return tack_dir / "artifacts" / f"run-{int(run_id)}"


def collect(workspace: Path, tack_dir: Path, run_id: int) -> list[str]:
    """Copy the workspace's evidence to the run; returns the names now stored for the run."""
    source = AppHome(workspace).artifacts
    if not source.is_dir():
        return listing(tack_dir, run_id)
    dest = run_dir(tack_dir, run_id)
    for path in sorted(source.iterdir()):
        if path.is_file() and path.suffix.lower() in KINDS:
            dest.mkdir(parents=True, exist_ok=True)
            shutil.copy2(path, dest / path.name)
    return listing(tack_dir, run_id)


def listing(tack_dir: Path, run_id: int) -> list[str]:
    folder = run_dir(tack_dir, run_id)
    return sorted(p.name for p in folder.iterdir() if p.is_file()) if folder.is_dir() else []


def path_of(tack_dir: Path, run_id: int, name: str) -> Path | None:
    """The stored file, or None for a name that is not one (never a path outside the run)."""
    if not _NAME.match(name):
        return None
    path = run_dir(tack_dir, run_id) / name
    return path if path.is_file() else None


def media_type(name: str) -> str:
    return mimetypes.guess_type(name)[0] or "application/octet-stream"


def evidence_markdown(run_id: int, names: list[str], base_url: str | None = None) -> list[str]:
    """Markdown lines listing a run's evidence; links when the API's URL is known."""
    if not names:
        return []
    prefix = (base_url or "").rstrip("/") + f"/api/v1/runs/{run_id}/artifacts/"
    return ["## Evidence", "", *(f"- [{n}]({prefix}{n})" if base_url else
                                 f"- `{n}` (`GET /api/v1/runs/{run_id}/artifacts/{n}`)"
                                 for n in names), ""]
