"""The scan cache in `.tack/scan-cache.json`: results by (check key, file content hash).

A second table maps (path, size, mtime) to the content hash, so a re-scan of an unchanged
tree reads no file at all. Entries for contents no longer present are dropped on save.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from tack.principles.hashing import blake2b

CACHE_VERSION = 2


def content_hash(data: bytes) -> str:
    return str(blake2b(data, digest_size=16).hexdigest())


class ScanCache:
    def __init__(self, path: Path | None) -> None:
        self.path = path
        self.stats: dict[str, list[Any]] = {}  # path -> [size, mtime_ns, hash]
        self.results: dict[str, dict[str, Any]] = {}  # hash -> {check key -> result}
        self.hits = 0
        self.misses = 0
        self.changed = False  # a warm scan of an unchanged tree writes nothing
        if path is not None and path.exists():
            import orjson  # here: a cold scan's workers run before it is needed (~4 MB)

            try:
                data = orjson.loads(path.read_bytes())
            except (OSError, ValueError):
                data = {}  # a damaged cache is only slower, never wrong
            if isinstance(data, dict) and data.get("version") == CACHE_VERSION:
                self.stats = data.get("stats") or {}
                self.results = data.get("results") or {}

    def file_hash(self, root: Path, rel: str) -> tuple[str, bytes | None]:
        """Content hash of a file; reads it only when size or mtime changed."""
        full = root / rel
        st = os.stat(full)
        known = self.stats.get(rel)
        if known and known[0] == st.st_size and known[1] == st.st_mtime_ns:
            return str(known[2]), None
        data = full.read_bytes()
        digest = content_hash(data)
        self.stats[rel] = [st.st_size, st.st_mtime_ns, digest]
        self.changed = True
        return digest, data

    def get(self, digest: str, key: str) -> Any | None:
        found = self.results.get(digest, {}).get(key)
        if found is None:
            self.misses += 1
        else:
            self.hits += 1
        return found

    def put(self, digest: str, key: str, value: Any) -> None:
        self.results.setdefault(digest, {})[key] = value
        self.changed = True

    def save(self, live_paths: set[str] | None = None) -> None:
        if self.path is None:
            return
        if live_paths is not None:
            # Only a full scan knows every live path; a partial one keeps the rest.
            stats = {p: v for p, v in self.stats.items() if p in live_paths}
            live = {str(v[2]) for v in stats.values()}
            results = {h: v for h, v in self.results.items() if h in live}
            if len(stats) != len(self.stats) or len(results) != len(self.results):
                self.stats, self.results, self.changed = stats, results, True
        if not self.changed and self.path.exists():
            return
        self.path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.path.with_suffix(".tmp")
        body = {"version": CACHE_VERSION, "stats": self.stats, "results": self.results}
        import orjson

        tmp.write_bytes(orjson.dumps(body))
        os.replace(tmp, self.path)
        self.changed = False
