"""Bare mirrors of the org's repositories: `git clone --mirror` once, `git fetch` after.

Files are read straight from the mirror's objects (`git ls-tree`, `git cat-file --batch`), so
no work tree is checked out and a blob's id doubles as the content hash that decides what to
re-index.
"""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

from tack.context import ContextError

GIT_TIMEOUT_S = 600
# Git must never stop to ask for a password in a service.
GIT_ENV = {"GIT_TERMINAL_PROMPT": "0", "GIT_ASKPASS": "/bin/true", "LC_ALL": "C"}


@dataclass(frozen=True)
class TreeEntry:
    path: str
    blob: str
    size: int


def _git(*args: str, cwd: Path | None = None, input_: bytes | None = None) -> bytes:
    try:
        done = subprocess.run(["git", *args], cwd=cwd, input=input_, capture_output=True,
                              check=False, timeout=GIT_TIMEOUT_S, env={**os.environ, **GIT_ENV})
    except subprocess.TimeoutExpired:
        raise ContextError(f"`git {' '.join(args)}` took over {GIT_TIMEOUT_S} s; check the "
                           "network and the repository URL") from None
    if done.returncode != 0:
        err = done.stderr.decode(errors="replace").strip()[-800:]
        raise ContextError(f"`git {' '.join(args)}` failed: {err}")
    return done.stdout


class Mirror:
    """One repository's bare mirror under `<home>/mirrors/<name>.git`."""

    def __init__(self, root: Path, name: str, location: str, branch: str) -> None:
        self.path = root / f"{name}.git"
        self.name = name
        self.location = location
        self.branch = branch

    def sync(self) -> str:
        """Clone or fetch; the head commit of the branch afterwards."""
        if not (self.path / "HEAD").exists():
            self.path.parent.mkdir(parents=True, exist_ok=True)
            _git("clone", "--quiet", "--mirror", self.location, str(self.path))
        else:
            _git("fetch", "--quiet", "--prune", "origin", cwd=self.path)
        return self.head()

    def head(self) -> str:
        try:
            return _git("rev-parse", "--verify", f"refs/heads/{self.branch}^{{commit}}",
                        cwd=self.path).decode().strip()
        except ContextError:
            raise ContextError(f"repository {self.name!r} ({self.location}) has no branch "
                               f"{self.branch!r}; set `branch:` for it in the org manifest"
                               ) from None

    def tree(self, commit: str) -> list[TreeEntry]:
        out = _git("ls-tree", "-r", "-z", "--long", "--full-tree", commit, cwd=self.path)
        entries = []
        for record in out.split(b"\0"):
            if not record:
                continue
            meta, path = record.split(b"\t", 1)
            mode, kind, blob, size = meta.split()
            if kind != b"blob" or mode == b"120000":  # skip submodules and symlinks
                continue
            entries.append(TreeEntry(path.decode(errors="replace"), blob.decode(),
                                     int(size) if size != b"-" else 0))
        return entries

    def blobs(self, ids: Iterable[str]) -> Iterator[tuple[str, bytes]]:
        """Contents of many blobs through one `git cat-file --batch` process."""
        wanted = list(ids)
        if not wanted:
            return
        proc = subprocess.Popen(["git", "cat-file", "--batch"], cwd=self.path,
                                stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                env={**os.environ, **GIT_ENV})
        assert proc.stdin and proc.stdout
        try:
            for blob in wanted:
                proc.stdin.write(blob.encode() + b"\n")
                proc.stdin.flush()
                header = proc.stdout.readline().split()
                if len(header) < 3:
                    continue
                data = proc.stdout.read(int(header[2]))
                proc.stdout.read(1)
                yield blob, data
        finally:
            proc.stdin.close()
            proc.wait(timeout=GIT_TIMEOUT_S)

    def show(self, commit: str, path: str) -> bytes:
        return _git("show", f"{commit}:{path}", cwd=self.path)
