"""The index: BM25 full text in tantivy, symbols, imports and source state in SQLite.

Each source (a mirrored repository or a doc folder) is indexed at one commit. A file is
re-indexed only when its content hash (the git blob id) changed, and removed when it is gone,
so a 10-file commit costs 10 files of work however large the organisation is.
"""

from __future__ import annotations

import hashlib
import json
import re
import sqlite3
import time
from collections.abc import Iterable, Iterator
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import tantivy

from tack.context import ContextError
from tack.context.symbols import extract, language_of

CHUNK_LINES = 40
MAX_FILE_BYTES = 1_000_000
WRITER_HEAP = 128_000_000
SCHEMA_VERSION = 1
# What the identifier index holds (tack.context.symbols.IDENT): names of three characters or more.
IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_]{2,}")

SQL_SCHEMA = """
CREATE TABLE IF NOT EXISTS sources (
  name TEXT PRIMARY KEY, kind TEXT NOT NULL, commit_id TEXT NOT NULL, head TEXT NOT NULL,
  indexed_at REAL NOT NULL, fetched_at REAL NOT NULL, owner TEXT, purpose TEXT, error TEXT);
CREATE TABLE IF NOT EXISTS files (
  repo TEXT NOT NULL, path TEXT NOT NULL, blob TEXT NOT NULL, lang TEXT NOT NULL,
  lines INTEGER NOT NULL, identifiers TEXT NOT NULL, PRIMARY KEY (repo, path));
CREATE TABLE IF NOT EXISTS symbols (
  repo TEXT NOT NULL, path TEXT NOT NULL, name TEXT NOT NULL, kind TEXT NOT NULL,
  line INTEGER NOT NULL, end_line INTEGER NOT NULL, signature TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS symbols_name ON symbols (name COLLATE NOCASE);
CREATE INDEX IF NOT EXISTS symbols_file ON symbols (repo, path);
CREATE TABLE IF NOT EXISTS imports (repo TEXT NOT NULL, path TEXT NOT NULL, target TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS imports_file ON imports (repo, path);
CREATE TABLE IF NOT EXISTS catalog (
  source TEXT NOT NULL, kind TEXT NOT NULL, name TEXT NOT NULL, parent TEXT NOT NULL,
  description TEXT NOT NULL, data_type TEXT NOT NULL, location TEXT NOT NULL,
  commit_id TEXT NOT NULL, indexed_at REAL NOT NULL);
CREATE INDEX IF NOT EXISTS catalog_source ON catalog (source);
"""


@dataclass(frozen=True)
class SourceFile:
    path: str
    blob: str


@dataclass
class Hit:
    """One result; every tool's results carry where it came from and how fresh it is."""

    repo: str
    commit: str
    path: str
    line: int
    text: str
    indexed_at: float
    stale: bool
    score: float = 0.0
    kind: str = ""
    end_line: int = 0

    def as_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["indexed_at"] = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(self.indexed_at))
        return {k: v for k, v in data.items() if v not in ("", 0.0) or k in ("stale", "line")}


@dataclass(frozen=True)
class SourceState:
    name: str
    kind: str
    commit: str
    head: str
    indexed_at: float
    fetched_at: float
    owner: str
    purpose: str
    error: str

    def stale(self, max_age_s: float) -> bool:
        """Stale: the mirror moved past the indexed commit, the last fetch failed, or the last
        good fetch is too old."""
        return (self.head != self.commit or bool(self.error)
                or (time.time() - self.fetched_at) > max_age_s)


@dataclass
class IndexStats:
    added: int = 0
    removed: int = 0
    unchanged: int = 0


def blob_id(data: bytes) -> str:
    """Git's blob id, so a doc folder's files hash the same way a repository's do."""
    return hashlib.sha1(b"blob %d\0" % len(data) + data).hexdigest()


def _schema() -> Any:
    sb = tantivy.SchemaBuilder()
    sb.add_text_field("key", stored=False, tokenizer_name="raw")
    sb.add_text_field("repo", stored=True, tokenizer_name="raw")
    sb.add_text_field("lang", stored=True, tokenizer_name="raw")
    sb.add_text_field("path", stored=True)
    sb.add_integer_field("line", stored=True, indexed=False)
    sb.add_text_field("body", stored=True)
    return sb.build()


class ContextIndex:
    """The index under `<home>/index`. Many readers; one writer (the sidecar, or `sync`)."""

    def __init__(self, home: Path, *, max_age_s: float = 900.0) -> None:
        self.root = home / "index"
        self.root.mkdir(parents=True, exist_ok=True)
        (self.root / "text").mkdir(exist_ok=True)
        self.max_age_s = max_age_s
        self.db = sqlite3.connect(self.root / "meta.db", timeout=30, check_same_thread=False)
        self.db.execute("PRAGMA journal_mode=WAL")
        self.db.executescript(SQL_SCHEMA)
        self.text = tantivy.Index(_schema(), path=str(self.root / "text"))

    def close(self) -> None:
        self.db.close()

    # --- state -----------------------------------------------------------------------

    def sources(self) -> dict[str, SourceState]:
        rows = self.db.execute("SELECT name, kind, commit_id, head, indexed_at, fetched_at, "
                               "owner, purpose, error FROM sources ORDER BY name").fetchall()
        return {r[0]: SourceState(r[0], r[1], r[2], r[3], r[4], r[5], r[6] or "", r[7] or "",
                                  r[8] or "") for r in rows}

    def mark_fetched(self, name: str, kind: str, head: str, owner: str, purpose: str,
                     error: str = "") -> None:
        self.db.execute(
            "INSERT INTO sources VALUES (?, ?, '', ?, 0, ?, ?, ?, ?) ON CONFLICT(name) DO UPDATE "
            "SET head=excluded.head, owner=excluded.owner, purpose=excluded.purpose, "
            "error=excluded.error, kind=excluded.kind, fetched_at=CASE WHEN excluded.error = '' "
            "THEN excluded.fetched_at ELSE sources.fetched_at END",
            # A failed fetch keeps the last good fetch time, so results turn stale.
            (name, kind, head, time.time() if not error else 0.0, owner, purpose, error))
        self.db.commit()

    def forget(self, name: str) -> None:
        """Drop a source that left the manifest."""
        writer = self._writer()
        writer.delete_documents_by_term("repo", name)
        writer.commit()
        writer.wait_merging_threads()
        for table in ("files", "symbols", "imports"):
            self.db.execute(f"DELETE FROM {table} WHERE repo = ?", (name,))
        self.db.execute("DELETE FROM sources WHERE name = ?", (name,))
        self.db.execute("DELETE FROM catalog WHERE source = ?", (name,))
        self.db.commit()

    # --- writing ---------------------------------------------------------------------

    def update(self, repo: str, commit: str, files: list[SourceFile],
               read: Any) -> IndexStats:
        """Bring `repo` to `commit`: `files` is its whole tree, `read(blobs)` yields
        (blob, bytes) for the blobs that changed."""
        known = dict(self.db.execute("SELECT path, blob FROM files WHERE repo = ?", (repo,)))
        current = {f.path: f.blob for f in files}
        removed = [p for p in known if p not in current]
        changed = {p: b for p, b in current.items() if known.get(p) != b}
        stats = IndexStats(added=len(changed), removed=len(removed),
                           unchanged=len(current) - len(changed))
        if not (removed or changed):
            self._set_commit(repo, commit)
            self.db.commit()
            return stats
        writer = self._writer()
        try:
            for path in [*removed, *changed]:
                writer.delete_documents_by_term("key", f"{repo}\0{path}")
            self._delete_rows(repo, [*removed, *changed])
            by_blob: dict[str, list[str]] = {}
            for path, blob in changed.items():
                by_blob.setdefault(blob, []).append(path)
            for blob, data in read(list(by_blob)):
                for path in by_blob.get(blob, []):
                    self._add_file(writer, repo, path, blob, data)
            # SQLite first: a search that sees the new documents must also see their commit.
            self._set_commit(repo, commit)
            self.db.commit()
        except BaseException:
            writer.rollback()
            self.db.rollback()
            raise
        try:
            writer.commit()
            writer.wait_merging_threads()
        except BaseException:
            # The text index kept the old documents: forget the changed files so the next
            # sync indexes them again.
            self._delete_rows(repo, [*removed, *changed])
            self.db.execute("UPDATE sources SET commit_id = '' WHERE name = ?", (repo,))
            self.db.commit()
            raise
        return stats

    def _set_commit(self, repo: str, commit: str) -> None:
        self.db.execute("UPDATE sources SET commit_id = ?, indexed_at = ? WHERE name = ?",
                        (commit, time.time(), repo))

    def _writer(self) -> Any:
        try:
            return self.text.writer(WRITER_HEAP, 1)
        except ValueError as exc:  # tantivy's lock file: another process is indexing
            raise ContextError(f"the context index at {self.root} is being written by another "
                               f"process ({exc}); the running sidecar syncs it — use `tack "
                               "context sync` without --home override, or wait") from None

    def _delete_rows(self, repo: str, paths: list[str]) -> None:
        for table in ("files", "symbols", "imports"):
            self.db.executemany(f"DELETE FROM {table} WHERE repo = ? AND path = ?",
                                [(repo, p) for p in paths])

    def _add_file(self, writer: Any, repo: str, path: str, blob: str, data: bytes) -> None:
        if len(data) > MAX_FILE_BYTES or b"\0" in data[:8000]:
            # Binaries and huge generated files would drown the ranking; their row still
            # records the blob, so the next sync knows them unchanged.
            self.db.execute("INSERT OR REPLACE INTO files VALUES (?, ?, ?, 'binary', 0, '')",
                            (repo, path, blob))
            return
        text = data.decode("utf-8", errors="replace")
        lines = text.split("\n")
        lang = language_of(path)
        try:
            facts = extract(path, data)
        except Exception:  # noqa: BLE001 - a grammar failure must not stop the rest of the commit
            facts = None
        self.db.execute("INSERT OR REPLACE INTO files VALUES (?, ?, ?, ?, ?, ?)",
                        (repo, path, blob, lang, len(lines),
                         " ".join(sorted(facts.identifiers)) if facts else ""))
        if facts:
            self.db.executemany(
                "INSERT INTO symbols VALUES (?, ?, ?, ?, ?, ?, ?)",
                [(repo, path, s.name, s.kind, s.line, s.end_line, s.signature)
                 for s in facts.symbols])
            self.db.executemany("INSERT INTO imports VALUES (?, ?, ?)",
                                [(repo, path, t) for t in facts.imports])
        key = f"{repo}\0{path}"
        for start in range(0, len(lines), CHUNK_LINES):
            body = "\n".join(lines[start:start + CHUNK_LINES])
            if not body.strip():
                continue
            writer.add_document(tantivy.Document(key=key, repo=repo, lang=lang, path=path,
                                                 line=start + 1, body=body))

    def set_catalog(self, source: str, commit: str, rows: Iterable[dict[str, str]]) -> int:
        self.db.execute("DELETE FROM catalog WHERE source = ?", (source,))
        now = time.time()
        values = [(source, r["kind"], r["name"], r.get("parent", ""), r.get("description", ""),
                   r.get("data_type", ""), r.get("location", ""), commit, now) for r in rows]
        self.db.executemany("INSERT INTO catalog VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)", values)
        self.db.commit()
        return len(values)

    # --- reading ---------------------------------------------------------------------

    def _freshness(self) -> dict[str, SourceState]:
        return self.sources()

    def search(self, query: str, *, repo: str | None = None, lang: str | None = None,
               limit: int = 20) -> list[Hit]:
        if not query.strip():
            raise ContextError("the search query is empty; pass words or identifiers to find")
        self.text.reload()
        parsed, _errors = self.text.parse_query_lenient(query, ["body", "path"])
        clauses = [(tantivy.Occur.Must, parsed)]
        schema = self.text.schema
        if repo:
            clauses.append((tantivy.Occur.Must, tantivy.Query.term_query(schema, "repo", repo)))
        if lang:
            clauses.append((tantivy.Occur.Must, tantivy.Query.term_query(schema, "lang", lang)))
        searcher = self.text.searcher()
        found = searcher.search(tantivy.Query.boolean_query(clauses), limit, count=False)
        states = self._freshness()
        terms = [t.lower() for t in _words(query)]
        hits = []
        for score, address in found.hits:
            doc = searcher.doc(address)
            name = doc["repo"][0]
            state = states.get(name)
            offset, text = _best_line(doc["body"][0], terms)
            hits.append(Hit(repo=name, commit=state.commit if state else "",
                            path=doc["path"][0], line=int(doc["line"][0]) + offset,
                            text=text, indexed_at=state.indexed_at if state else 0.0,
                            stale=state.stale(self.max_age_s) if state else True,
                            score=round(float(score), 3)))
        return hits

    def symbol(self, name: str, *, repo: str | None = None, limit: int = 50) -> list[Hit]:
        if not name.strip():
            raise ContextError("the symbol name is empty; pass a function, class or table name")
        sql = ("SELECT repo, path, name, kind, line, end_line, signature FROM symbols "
               "WHERE name = ? COLLATE NOCASE")
        args: list[Any] = [name]
        if repo:
            sql += " AND repo = ?"
            args.append(repo)
        rows = self.db.execute(sql + " ORDER BY name != ?, repo, path, line LIMIT ?",
                               [*args, name, limit]).fetchall()
        if not rows:  # a prefix is the next best thing to an exact name
            rows = self.db.execute(sql.replace("name = ?", "name LIKE ?") + " ORDER BY "
                                   "length(name), repo, path LIMIT ?",
                                   [f"{name}%", *args[1:], limit]).fetchall()
        return [self._hit(r[0], r[1], r[4], r[6], kind=r[3], end_line=r[5]) for r in rows]

    def refs(self, name: str, *, repo: str | None = None, limit: int = 100) -> list[Hit]:
        """Every line that uses identifier `name` (case-sensitive, whole word) in the code of
        every repository: the identifier index picks the files, their indexed text gives the
        lines. `kind` says `definition` where the symbols table defines it there."""
        name = name.strip()
        if not IDENTIFIER.fullmatch(name):
            raise ContextError(f"cannot find references to {name!r}: give one identifier of at "
                               "least three characters (letters, digits, _), e.g. "
                               "InvoiceRenderer")
        sql = ("SELECT repo, path, lines FROM files "
               "WHERE instr(' ' || identifiers || ' ', ?) > 0")
        args: list[Any] = [f" {name} "]
        if repo:
            sql += " AND repo = ?"
            args.append(repo)
        files = self.db.execute(sql + " ORDER BY repo, path", args).fetchall()
        defined = set(self.db.execute(
            "SELECT repo, path, line FROM symbols WHERE name = ?", (name,)).fetchall())
        word = re.compile(rf"(?<![A-Za-z0-9_]){re.escape(name)}(?![A-Za-z0-9_])")
        states = self._freshness()
        self.text.reload()
        searcher = self.text.searcher()
        hits: list[Hit] = []
        for source, path, lines in files:
            state = states.get(source)
            query = tantivy.Query.term_query(self.text.schema, "key", f"{source}\0{path}")
            found = searcher.search(query, lines // CHUNK_LINES + 2, count=False)
            chunks = sorted((int(d["line"][0]), d["body"][0])
                            for d in (searcher.doc(a) for _, a in found.hits))
            for start, body in chunks:
                for offset, text in enumerate(body.split("\n")):
                    if not word.search(text):
                        continue
                    line = start + offset
                    hits.append(Hit(
                        repo=source, commit=state.commit if state else "", path=path,
                        line=line, text=text.strip()[:240],
                        indexed_at=state.indexed_at if state else 0.0,
                        stale=state.stale(self.max_age_s) if state else True,
                        kind="definition" if (source, path, line) in defined else "reference"))
                    if len(hits) >= limit:
                        return hits
        return hits

    def _hit(self, repo: str, path: str, line: int, text: str, **extra: Any) -> Hit:
        state = self._freshness().get(repo)
        return Hit(repo=repo, commit=state.commit if state else "", path=path, line=line,
                   text=text, indexed_at=state.indexed_at if state else 0.0,
                   stale=state.stale(self.max_age_s) if state else True, **extra)

    def files(self, repo: str) -> list[tuple[str, str, int, str]]:
        return self.db.execute("SELECT path, lang, lines, identifiers FROM files WHERE repo = ? "
                               "ORDER BY path", (repo,)).fetchall()

    def symbols_of(self, repo: str) -> Iterator[tuple[str, str, str, int, str]]:
        yield from self.db.execute("SELECT path, name, kind, line, signature FROM symbols "
                                   "WHERE repo = ? ORDER BY path, line", (repo,))

    def imports_of(self, repo: str) -> list[tuple[str, str]]:
        return self.db.execute("SELECT path, target FROM imports WHERE repo = ?",
                               (repo,)).fetchall()

    def catalog(self, query: str, limit: int = 30) -> list[dict[str, Any]]:
        words = [w.lower() for w in _words(query)]
        if not words:
            raise ContextError("the catalog query is empty; pass a table, column, metric or "
                               "endpoint name or words from its description")
        match = "lower(name) LIKE ? OR lower(parent) LIKE ? OR lower(description) LIKE ?"
        where = " OR ".join([match] * len(words))
        args = [a for w in words for a in (f"%{w}%",) * 3]
        rows = self.db.execute(
            "SELECT source, kind, name, parent, description, data_type, location, commit_id, "
            f"indexed_at FROM catalog WHERE {where}", args).fetchall()
        states = self._freshness()

        def score(row: tuple[Any, ...]) -> float:
            name, parent, desc = str(row[2]).lower(), str(row[3]).lower(), str(row[4]).lower()
            total = 0.0
            for w in words:
                total += 3.0 * (w == name) + 2.0 * (w in name) + (w in parent) + 0.5 * (w in desc)
            return total

        rows.sort(key=lambda r: (-score(r), r[0], r[3], r[2]))
        out = []
        for r in rows[:limit]:
            repo, _, where_in = r[6].partition(":") if ":" in r[6] else ("", "", r[6])
            # A catalog read from a repository is as fresh as that repository's index.
            state = states.get(repo) if repo else None
            path, _, line = where_in.rpartition("#")
            out.append({"source": r[0], "kind": r[1], "name": r[2], "parent": r[3],
                        "description": r[4], "data_type": r[5], "repo": repo or r[0],
                        "path": path or where_in, "line": int(line) if line.isdigit() else 0,
                        "commit": r[7],
                        "indexed_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(r[8])),
                        "stale": (state.stale(self.max_age_s) or state.commit != r[7])
                        if state else False})
        return out

    def size_bytes(self) -> int:
        return sum(f.stat().st_size for f in self.root.rglob("*") if f.is_file())

    def status(self) -> list[dict[str, Any]]:
        return [{**asdict(s), "stale": s.stale(self.max_age_s),
                 "files": self.db.execute("SELECT count(*) FROM files WHERE repo = ?",
                                          (s.name,)).fetchone()[0]}
                for s in self.sources().values()]


def _words(query: str) -> list[str]:
    return re.findall(r"[A-Za-z0-9_]+", query)


def _best_line(body: str, terms: list[str]) -> tuple[int, str]:
    """The line of a chunk that matches most query words, and its offset in the chunk."""
    best, best_score = 0, -1
    lines = body.split("\n")
    for i, line in enumerate(lines):
        low = line.lower()
        score = sum(t in low for t in terms)
        if score > best_score:
            best, best_score = i, score
    return best, lines[best].strip()[:240] if lines else ""


def dumps(rows: list[Hit]) -> str:
    return json.dumps([h.as_dict() for h in rows], indent=2)
