"""One sync cycle: fetch every mirror, re-index what changed, drop what left the manifest,
refresh doc folders and catalogs. The sidecar runs it on a schedule and when Tack says
something moved; `tack context sync` runs it once."""

from __future__ import annotations

import fnmatch
from dataclasses import dataclass, field
from pathlib import Path

import structlog

from tack.context import ContextError
from tack.context.catalog import PARSERS
from tack.context.index import ContextIndex, IndexStats, SourceFile, blob_id
from tack.context.manifest import ContextManifest, DocSource
from tack.context.mirrors import Mirror

log = structlog.get_logger("tack.context")

DOC_PATTERNS = ("*.md", "*.markdown", "*.rst", "*.txt")


@dataclass
class SyncReport:
    indexed: dict[str, IndexStats] = field(default_factory=dict)
    errors: dict[str, str] = field(default_factory=dict)
    catalog_rows: dict[str, int] = field(default_factory=dict)


def mirror_of(home: Path, manifest: ContextManifest, name: str) -> Mirror:
    repo = manifest.repo(name)
    return Mirror(home / "mirrors", repo.name, manifest.repo_location(repo), repo.branch)


def sync(home: Path, manifest: ContextManifest, index: ContextIndex,
         only: set[str] | None = None) -> SyncReport:
    """Fetch and re-index the sources in `only` (all when None). Errors are kept per source
    so one unreachable repository does not hide the others."""
    report = SyncReport()
    wanted = {r.name for r in manifest.repos} | {d.name for d in manifest.docs}
    unknown = (only or set()) - wanted - {c.name for c in manifest.catalogs}
    if unknown:
        raise ContextError(f"no source named {', '.join(sorted(unknown))} in the org manifest; "
                           f"known: {', '.join(sorted(wanted))}")
    for gone in set(index.sources()) - wanted:
        index.forget(gone)
    for repo in manifest.repos:
        if only and repo.name not in only:
            continue
        mirror = mirror_of(home, manifest, repo.name)
        try:
            head = mirror.sync()
            index.mark_fetched(repo.name, "repo", head, repo.owner, repo.purpose)
            tree = [SourceFile(e.path, e.blob) for e in mirror.tree(head)]
            report.indexed[repo.name] = index.update(repo.name, head, tree, mirror.blobs)
        except ContextError as exc:
            report.errors[repo.name] = exc.message
            state = index.sources().get(repo.name)
            index.mark_fetched(repo.name, "repo", state.head if state else "", repo.owner,
                               repo.purpose, error=exc.message)
            log.warning("context sync failed", source=repo.name, error=exc.message)
    for doc in manifest.docs:
        if not only or doc.name in only:
            _sync_docs(manifest, index, doc, report)
    _sync_catalogs(home, manifest, index, report, only)
    return report


def _sync_docs(manifest: ContextManifest, index: ContextIndex, doc: DocSource,
               report: SyncReport) -> None:
    root = manifest.resolve(doc.path)
    if not root.is_dir():
        report.errors[doc.name] = (f"doc folder {root} (docs[{doc.name}].path) does not exist; "
                                   "fix the path in the org manifest")
        return
    contents: dict[str, bytes] = {}
    for path in sorted(root.rglob("*")):
        if path.is_file() and any(fnmatch.fnmatch(path.name, p) for p in DOC_PATTERNS):
            contents[path.relative_to(root).as_posix()] = path.read_bytes()
    files = [SourceFile(p, blob_id(d)) for p, d in contents.items()]
    by_blob = {f.blob: contents[f.path] for f in files}
    # A doc folder has no commit; the hash of its file list stands in for one.
    version = blob_id("\n".join(f"{f.path} {f.blob}" for f in files).encode())[:12]
    index.mark_fetched(doc.name, "docs", version, doc.owner, doc.purpose)
    report.indexed[doc.name] = index.update(
        doc.name, version, files, lambda blobs: ((b, by_blob[b]) for b in blobs))


def _sync_catalogs(home: Path, manifest: ContextManifest, index: ContextIndex,
                   report: SyncReport, only: set[str] | None) -> None:
    states = index.sources()
    for cat in manifest.catalogs:
        if only and cat.repo not in only and cat.name not in only:
            continue
        parse = PARSERS[cat.kind]
        rows: list[dict[str, str]] = []
        try:
            if cat.repo:
                mirror = mirror_of(home, manifest, cat.repo)
                commit = states[cat.repo].commit if cat.repo in states else mirror.head()
                prefix = cat.path.strip("/")
                for entry in mirror.tree(commit):
                    inside = entry.path == prefix or entry.path.startswith(prefix + "/")
                    if inside and (cat.kind != "ddl" or entry.path.endswith(".sql")):
                        data = mirror.show(commit, entry.path)
                        rows += parse(data, f"{cat.repo}:{entry.path}")
            else:
                target = manifest.resolve(cat.path)
                paths = sorted(target.rglob("*.sql")) if target.is_dir() else [target]
                if not target.exists():
                    raise ContextError(f"catalog {cat.name!r}: {target} does not exist; fix "
                                       f"catalogs[{cat.name}].path in the org manifest")
                commit = blob_id(b"".join(p.read_bytes() for p in paths))[:12]
                for p in paths:
                    rows += parse(p.read_bytes(), str(p))
            report.catalog_rows[cat.name] = index.set_catalog(cat.name, commit, rows)
        except ContextError as exc:
            report.errors[cat.name] = exc.message
