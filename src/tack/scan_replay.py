"""A warm `tack scan --json` of an unchanged tree: the last report, replayed without the CLI.

Most of a warm scan is start-up (the CLI's imports) and rebuilding every finding from the
per-file cache. After a full `tack scan --json`, the report is kept in
`.tack/scan-replay.json` with the tree's signature taken *before* that scan: the listed
files with their size, mtime, ctime and inode, the principles and baseline files, and Tack
itself (its version, the mtimes of the scanner's and this command's sources).
`python -m tack scan --json` recomputes the signature first and, when it is the same,
prints the kept report (with the cache counters a warm scan would show) and exits;
anything else runs the scan as before. Only a repository without a WORKFLOW.md qualifies
(its config could move every path), and only principles that need no plug-in.

Outside `tack.principles` on purpose: importing that package (YAML, the rule engine) is
itself a good part of the start-up this module avoids.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from tack.principles.hashing import blake2b

REPLAY_FILE = ".tack/scan-replay.json"
REPLAY_VERSION = 1
REPLAYABLE_ARGS = (["--json"],)


def signature(root: Path, principles: Path, baseline: Path) -> str | None:
    """The tree as a scan sees it, or None when it cannot be told cheaply (not git, a
    WORKFLOW.md)."""
    if (root / "WORKFLOW.md").exists():
        return None
    digest = blake2b(digest_size=16)
    try:
        for args in (["--cached"], ["--others", "--exclude-standard"]):
            listed = subprocess.run(["git", "ls-files", "-z", *args], cwd=root,
                                    capture_output=True, check=True).stdout
            for name in listed.split(b"\0"):
                # `.tack/` is Tack's own state (the scan never reads it; this file is there).
                if name and not name.startswith(b".tack/"):
                    digest.update(name + b"\0" + _stat(root / os.fsdecode(name)))
            digest.update(b"\1")
    except (OSError, subprocess.CalledProcessError):
        return None
    digest.update(_read(principles))
    digest.update(_read(baseline))
    digest.update(_tack_itself().encode())
    return str(digest.hexdigest())


def _stat(path: Path) -> bytes:
    try:
        st = os.lstat(path)
    except OSError:
        return b"-"
    return f"{st.st_size}:{st.st_mtime_ns}:{st.st_ctime_ns}:{st.st_ino};".encode()


def _read(path: Path) -> bytes:
    try:
        return path.read_bytes() + b"\0"
    except OSError:
        return b"-\0"


def _tack_itself() -> str:
    # Its sources' mtimes, not its version: the version is read with importlib.metadata,
    # ~7 MB of a scanning process's memory, and an upgrade rewrites the sources anyway.
    package = Path(__file__).resolve().parent
    sources = [*(package / "principles").glob("*.py"), package / "cli" / "scan.py",
               package / "scan_replay.py", package / "scan_lean.py"]
    stamps = sorted(f"{p.name}:{p.stat().st_mtime_ns}" for p in sources)
    return f"{sys.version};{','.join(stamps)}"


def replay(args: list[str], root: Path | None = None) -> int | None:
    """Print the kept report of `tack scan ARGS` if the tree has not changed since; the exit
    code, or None to run the scan."""
    if args not in REPLAYABLE_ARGS:
        return None
    started = time.perf_counter()
    base = (root or Path.cwd()).resolve()
    try:
        raw = (base / REPLAY_FILE).read_bytes()
    except OSError:
        return None
    import orjson  # only now: a cold scan's workers run before it is needed (~4 MB)

    try:
        kept = orjson.loads(raw)
    except ValueError:
        return None
    if not isinstance(kept, dict) or kept.get("version") != REPLAY_VERSION or kept.get(
            "args") != args:
        return None
    sig = signature(base, Path(kept["principles"]), Path(kept["baseline"]))
    if sig is None or sig != kept.get("signature"):
        return None
    data: dict[str, Any] = kept["report"]
    cache = data["cache"]
    # What the per-file cache would have said: every result reused, none computed.
    data["cache"] = {"hits": cache["hits"] + cache["misses"], "misses": 0}
    data["elapsed_s"] = round(time.perf_counter() - started, 4)
    sys.stdout.buffer.write(orjson.dumps(data, option=orjson.OPT_INDENT_2) + b"\n")
    sys.stdout.flush()
    return int(kept["exit_code"])


def record(root: Path, args: list[str], sig: str | None, principles: Path, baseline: Path,
           report: dict[str, Any], exit_code: int) -> None:
    """Keep the report of a scan that started from the tree `sig` describes."""
    if sig is None or args not in REPLAYABLE_ARGS:
        return
    path = root / REPLAY_FILE
    body = {"version": REPLAY_VERSION, "args": args, "signature": sig,
            "principles": str(principles), "baseline": str(baseline),
            "exit_code": exit_code, "report": report}
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    import orjson

    tmp.write_bytes(orjson.dumps(body))
    os.replace(tmp, path)


def forget(root: Path) -> None:
    (root / REPLAY_FILE).unlink(missing_ok=True)
