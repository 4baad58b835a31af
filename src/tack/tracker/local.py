"""The built-in tracker: issues in a SQLite file under `.tack/`, so Tack runs with no account.

Several processes share the file (the orchestrator polls while `tack issue ...` writes), so it
uses WAL, a busy timeout and short transactions. Reads are set-based: one query per table,
never one per issue, so polling stays cheap with thousands of issues.
"""

from __future__ import annotations

import asyncio
import json
import re
import sqlite3
import threading
import uuid
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import structlog

from tack.errors import TrackerError
from tack.tracker.base import BlockerRef, Comment, Issue, normalize_labels
from tack.workflow.config import TrackerConfig, normalize_state

log = structlog.get_logger(__name__)

SCHEMA_VERSION = 1
PROVIDER_KEYS = ("prefix", "path")
DEFAULT_PREFIX = "TACK"
DEFAULT_STATE = "Todo"
_PREFIX_RE = re.compile(r"^[A-Za-z][A-Za-z0-9]{0,15}$")
# SQLite's default limit on host parameters is 999 on old builds; stay well below it.
_CHUNK = 400

_SCHEMA = """
CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS counters (name TEXT PRIMARY KEY, value INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS issues (
    number      INTEGER PRIMARY KEY,
    id          TEXT NOT NULL UNIQUE,
    identifier  TEXT NOT NULL UNIQUE COLLATE NOCASE,
    title       TEXT NOT NULL,
    description TEXT,
    priority    INTEGER,
    state       TEXT NOT NULL,
    state_norm  TEXT NOT NULL,
    branch_name TEXT,
    labels      TEXT NOT NULL DEFAULT '[]',
    created_at  TEXT NOT NULL,
    updated_at  TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS issues_state_norm ON issues (state_norm);
CREATE TABLE IF NOT EXISTS blockers (
    issue_number   INTEGER NOT NULL,
    position       INTEGER NOT NULL,
    blocker_number INTEGER NOT NULL,
    PRIMARY KEY (issue_number, blocker_number)
);
CREATE TABLE IF NOT EXISTS comments (
    seq        INTEGER PRIMARY KEY AUTOINCREMENT,
    issue_number INTEGER NOT NULL,
    author     TEXT NOT NULL,
    body       TEXT NOT NULL,
    created_at TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS comments_issue ON comments (issue_number, seq);
"""

_ISSUE_COLUMNS = (
    "i.id, i.number, i.identifier, i.title, i.description, i.priority, i.state, "
    "i.branch_name, i.labels, i.created_at, i.updated_at"
)


def _now() -> str:
    return datetime.now(timezone.utc).isoformat()


def _parse_time(value: Any) -> datetime | None:
    # Optional metadata: an unusable stored value normalizes to None (SPEC §11.3).
    if not isinstance(value, str) or not value:
        return None
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=timezone.utc)


def _parse_priority(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


@dataclass(frozen=True)
class NewIssue:
    """What `add_issues` needs to create one issue."""

    title: str
    description: str | None = None
    priority: int | None = None
    labels: tuple[str, ...] = ()
    blocked_by: tuple[str, ...] = ()
    state: str = DEFAULT_STATE
    branch_name: str | None = None


def _parse_labels(value: Any) -> tuple[str, ...]:
    try:
        items = json.loads(value) if isinstance(value, str) else []
    except ValueError:
        return ()
    if not isinstance(items, list):
        return ()
    return normalize_labels([x for x in items if isinstance(x, str)])


def _chunks(items: Sequence[str]) -> Iterator[Sequence[str]]:
    for start in range(0, len(items), _CHUNK):
        yield items[start : start + _CHUNK]


def _marks(n: int) -> str:
    return ",".join("?" * n)


class LocalTracker:
    """The `local` tracker adapter (profile: docs/trackers.md)."""

    kind = "local"

    def __init__(
        self,
        path: Path,
        *,
        prefix: str = DEFAULT_PREFIX,
        terminal_states: Iterable[str] | None = None,
        busy_timeout_ms: int = 5_000,
    ) -> None:
        if not _PREFIX_RE.match(prefix):
            raise TrackerError(
                f"tracker.provider.prefix {prefix!r} is not a valid identifier prefix. Use "
                "1-16 letters or digits starting with a letter (for example `TACK`) in "
                "WORKFLOW.md.",
                code="invalid_tracker_config",
            )
        self.path = Path(path)
        self.prefix = prefix
        self.terminal_states = list(
            terminal_states if terminal_states is not None else TrackerConfig().terminal_states
        )
        self._terminal = {normalize_state(s) for s in self.terminal_states}
        self.busy_timeout_ms = busy_timeout_ms
        # Transactions issued against the database; lets tests prove `[]` touches nothing.
        self.queries = 0
        self._cache: dict[str, tuple[Any, Issue]] = {}
        # Last state-list result per query, valid while no connection has written since.
        self._writes = 0
        self._polls: dict[tuple[str, ...], tuple[tuple[int, int], list[Issue]]] = {}
        self._lock = threading.Lock()
        self._conn = self._open()

    @classmethod
    def from_config(cls, config: TrackerConfig, *, tack_dir: Path) -> LocalTracker:
        """Build from the `tracker` section; `tracker.provider.path` is relative to WORKFLOW.md."""
        provider = dict(config.provider or {})
        unknown = sorted(set(provider) - set(PROVIDER_KEYS))
        if unknown:
            names = ", ".join(f"tracker.provider.{k}" for k in unknown)
            raise TrackerError(
                f"Unknown key {names} in WORKFLOW.md for tracker.kind local. Allowed keys: "
                f"{', '.join(f'tracker.provider.{k}' for k in PROVIDER_KEYS)}. Remove or "
                "rename it.",
                code="invalid_tracker_config",
            )
        prefix = provider.get("prefix", DEFAULT_PREFIX)
        if not isinstance(prefix, str):
            raise TrackerError(
                f"tracker.provider.prefix in WORKFLOW.md must be a string, got {prefix!r}. "
                "Use letters and digits, for example `prefix: TACK`.",
                code="invalid_tracker_config",
            )
        raw_path = provider.get("path")
        if raw_path is None:
            path = Path(tack_dir) / "issues.db"
        elif isinstance(raw_path, str) and raw_path.strip():
            path = Path(raw_path).expanduser()
            if not path.is_absolute():
                path = Path(tack_dir).parent / path
        else:
            raise TrackerError(
                f"tracker.provider.path in WORKFLOW.md must be a file path, got {raw_path!r}. "
                "Remove it to use .tack/issues.db, or give a path such as `.tack/issues.db`.",
                code="invalid_tracker_config",
            )
        return cls(path, prefix=prefix, terminal_states=config.terminal_states)

    # ----------------------------------------------------------------- storage

    def _open(self) -> sqlite3.Connection:
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            conn = sqlite3.connect(
                self.path,
                timeout=self.busy_timeout_ms / 1000,
                isolation_level=None,
                check_same_thread=False,
            )
        except (OSError, sqlite3.Error) as exc:
            raise TrackerError(
                f"Cannot open the local tracker database {self.path}: {exc}. Check that the "
                "directory is writable, or set tracker.provider.path in WORKFLOW.md.",
                code="tracker_request",
            ) from exc
        try:
            conn.execute(f"PRAGMA busy_timeout = {int(self.busy_timeout_ms)}")
            conn.execute("PRAGMA journal_mode = WAL")
            conn.execute("PRAGMA synchronous = NORMAL")
            conn.execute("PRAGMA foreign_keys = OFF")
            conn.execute("BEGIN IMMEDIATE")
            try:
                for statement in _SCHEMA.split(";"):
                    if statement.strip():
                        conn.execute(statement)
                row = conn.execute("SELECT MAX(version) FROM schema_version").fetchone()
                version = row[0] if row else None
                if version is None:
                    conn.execute(
                        "INSERT INTO schema_version (version) VALUES (?)", (SCHEMA_VERSION,)
                    )
                elif version > SCHEMA_VERSION:
                    raise TrackerError(
                        f"The local tracker database {self.path} has schema version {version}, "
                        f"newer than this Tack understands ({SCHEMA_VERSION}). Upgrade Tack.",
                        code="tracker_response",
                    )
                conn.execute("COMMIT")
            except BaseException:
                conn.execute("ROLLBACK")
                raise
        except sqlite3.Error as exc:
            conn.close()
            raise self._db_error(exc) from exc
        except BaseException:
            conn.close()
            raise
        return conn

    def _db_error(self, exc: sqlite3.Error) -> TrackerError:
        if isinstance(exc, sqlite3.OperationalError):
            return TrackerError(
                f"The local tracker database {self.path} could not be used: {exc}. Another "
                "process may hold it locked; retry, or check the file's permissions.",
                code="tracker_request",
            )
        return TrackerError(
            f"The local tracker database {self.path} is damaged or not a Tack database: "
            f"{exc}. Move it aside to start a fresh tracker.",
            code="tracker_response",
        )

    @contextmanager
    def _tx(self, *, write: bool = False) -> Iterator[sqlite3.Connection]:
        """One short transaction; reads see one consistent snapshot across their queries."""
        with self._lock:
            self.queries += 1
            self._writes += int(write)
            conn = self._conn
            try:
                conn.execute("BEGIN IMMEDIATE" if write else "BEGIN")
                try:
                    yield conn
                except BaseException:
                    conn.execute("ROLLBACK")
                    raise
                conn.execute("COMMIT")
            except sqlite3.Error as exc:
                if conn.in_transaction:
                    conn.execute("ROLLBACK")
                raise self._db_error(exc) from exc

    # ----------------------------------------------------------------- reading

    def _load(
        self,
        conn: sqlite3.Connection,
        where: str,
        params: Sequence[Any],
        *,
        with_comments: bool,
        strict: bool,
    ) -> list[Issue]:
        rows = conn.execute(
            f"SELECT {_ISSUE_COLUMNS} FROM issues i WHERE {where} ORDER BY i.number", params
        ).fetchall()
        if not rows:
            return []
        blockers: dict[int, list[BlockerRef]] = {}
        for issue_id, b_id, b_identifier, b_state in conn.execute(
            f"SELECT b.issue_number, bi.id, bi.identifier, bi.state FROM blockers b "
            f"JOIN issues i ON i.number = b.issue_number "
            f"JOIN issues bi ON bi.number = b.blocker_number "
            f"WHERE {where} ORDER BY b.issue_number, b.position",
            params,
        ):
            blockers.setdefault(issue_id, []).append(BlockerRef(b_id, b_identifier, b_state))
        comments: dict[int, list[Comment]] = {}
        if with_comments:
            for issue_id, author, body, created in conn.execute(
                f"SELECT c.issue_number, c.author, c.body, c.created_at FROM comments c "
                f"JOIN issues i ON i.number = c.issue_number WHERE {where} ORDER BY c.seq",
                params,
            ):
                when = _parse_time(created) or datetime.fromtimestamp(0, timezone.utc)
                comments.setdefault(issue_id, []).append(
                    Comment(author=str(author), body=str(body), created_at=when)
                )
        issues: list[Issue] = []
        for row in rows:
            issue = self._issue(row, tuple(blockers.get(row[1], ())),
                                tuple(comments.get(row[1], ())))
            if issue is not None:
                issues.append(issue)
                continue
            # A required field is unusable (hand-edited database): never safe to dispatch.
            if strict:
                raise TrackerError(
                    f"Local issue {row[2] or row[0]!r} in {self.path} has an empty id, "
                    "identifier, title or state, so it cannot be refreshed. Fix the record "
                    "with `tack issue move` or restore the database.",
                    code="tracker_response",
                )
            log.warning("tracker.local.malformed_issue_omitted", id=row[0], identifier=row[2])
        return issues

    def _issue(
        self, row: tuple[Any, ...], refs: tuple[BlockerRef, ...], comments: tuple[Comment, ...]
    ) -> Issue | None:
        # Building a frozen Issue costs microseconds; polls repeat mostly unchanged rows, so an
        # issue is rebuilt only when its row, its blockers or its comments changed.
        key = (row, refs, comments)
        cached = self._cache.get(row[0])
        if cached is not None and cached[0] == key:
            return cached[1]
        issue = self._build_issue(row, refs, comments)
        if issue is not None:
            self._cache[row[0]] = (key, issue)
        return issue

    def _build_issue(
        self, row: tuple[Any, ...], refs: tuple[BlockerRef, ...], comments: tuple[Comment, ...]
    ) -> Issue | None:
        issue_id, _number, identifier, title, description, priority, state = row[:7]
        branch_name, labels, created_at, updated_at = row[7:]
        required = (issue_id, identifier, title, state)
        if not all(isinstance(v, str) and v.strip() for v in required):
            return None
        return Issue(
            id=issue_id,
            identifier=identifier,
            title=title,
            state=state,
            description=description if isinstance(description, str) else None,
            priority=_parse_priority(priority),
            branch_name=branch_name if isinstance(branch_name, str) and branch_name else None,
            url=None,
            labels=_parse_labels(labels),
            blocked_by=refs,
            dispatchable=all(normalize_state(b.state) in self._terminal for b in refs),
            created_at=_parse_time(created_at),
            updated_at=_parse_time(updated_at),
            native_ref={"local_id": issue_id},
            comments=comments,
        )

    def _select_by_refs(
        self, conn: sqlite3.Connection, refs: Sequence[str], *, strict: bool
    ) -> list[Issue]:
        found: dict[str, Issue] = {}
        for chunk in _chunks(list(dict.fromkeys(refs))):
            where = f"(i.id IN ({_marks(len(chunk))}) OR i.identifier IN ({_marks(len(chunk))}))"
            params = [*chunk, *chunk]
            for issue in self._load(conn, where, params, with_comments=True, strict=strict):
                found.setdefault(issue.id, issue)
        return sorted(found.values(), key=lambda i: self._number(i))

    @staticmethod
    def _number(issue: Issue) -> int:
        tail = issue.identifier.rsplit("-", 1)[-1]
        return int(tail) if tail.isdigit() else 0

    def list_issues(
        self, states: list[str] | None = None, *, with_comments: bool = False
    ) -> list[Issue]:
        """Issues ordered by identifier number; all of them when `states` is None.

        Comments are loaded only when asked (`tack issue list --json`), to keep polling cheap;
        `get` and `fetch_issues_by_ids` always load them.
        """
        if states is None:
            with self._tx() as conn:
                return self._load(conn, "1 = 1", (), with_comments=with_comments, strict=False)
        wanted = sorted({normalize_state(s) for s in states if normalize_state(s)})
        if not wanted:
            return []
        where = f"i.state_norm IN ({_marks(len(wanted))})"
        with self._tx() as conn:
            if with_comments:
                return self._load(conn, where, wanted, with_comments=True, strict=False)
            # data_version changes when another connection commits; _writes covers ours.
            version = (conn.execute("PRAGMA data_version").fetchone()[0], self._writes)
            cached = self._polls.get(tuple(wanted))
            if cached is not None and cached[0] == version:
                return list(cached[1])
            issues = self._load(conn, where, wanted, with_comments=False, strict=False)
            if len(self._cache) > 2 * len(issues) + 1000:  # closed issues no poll lists
                self._cache = {i.id: self._cache[i.id] for i in issues}
            self._polls[tuple(wanted)] = (version, issues)
            return list(issues)

    def get(self, id_or_identifier: str) -> Issue:
        """One issue with its comments, by id or identifier (identifiers ignore case)."""
        ref = str(id_or_identifier).strip()
        with self._tx() as conn:
            found = self._select_by_refs(conn, [ref], strict=True)
        if not found:
            raise self._not_found(ref)
        return found[0]

    def _not_found(self, ref: str) -> TrackerError:
        return TrackerError(
            f"No issue {ref!r} in the local tracker ({self.path}). Run `tack issue list` to "
            "see the identifiers.",
            code="issue_not_found",
        )

    def _resolve(self, conn: sqlite3.Connection, ref: str) -> tuple[int, str, str] | None:
        """(number, id, identifier) of the issue with this id or identifier, if any."""
        ref = ref.strip()
        row = conn.execute(
            "SELECT number, id, identifier FROM issues WHERE id = ? OR identifier = ?", (ref, ref)
        ).fetchone()
        return (int(row[0]), str(row[1]), str(row[2])) if row else None

    def _resolve_existing(self, conn: sqlite3.Connection, ref: str) -> tuple[int, str, str]:
        found = self._resolve(conn, ref)
        if found is None:
            raise self._not_found(ref)
        return found

    # ----------------------------------------------------------------- writing

    def add_issue(
        self,
        title: str,
        *,
        description: str | None = None,
        priority: int | None = None,
        labels: Iterable[str] = (),
        blocked_by: Iterable[str] = (),
        state: str = DEFAULT_STATE,
        branch_name: str | None = None,
    ) -> Issue:
        """Create an issue; its identifier is `PREFIX-N` with N never reused."""
        spec = NewIssue(title, description, priority, tuple(labels), tuple(blocked_by), state,
                        branch_name)
        with self._tx(write=True) as conn:
            issue_id = self._insert(conn, spec)[0]
        return self.get(issue_id)

    def add_issues(self, specs: Iterable[NewIssue]) -> list[str]:
        """Create many issues in one transaction (imports, demos); returns their identifiers."""
        with self._tx(write=True) as conn:
            return [self._insert(conn, spec)[1] for spec in specs]

    def _insert(self, conn: sqlite3.Connection, spec: NewIssue) -> tuple[str, str]:
        """Insert one issue; returns (id, identifier)."""
        title = (spec.title or "").strip()
        state = (spec.state or "").strip()
        if not title:
            raise TrackerError("An issue needs a non-empty title.", code="invalid_issue")
        if not state:
            raise TrackerError("An issue needs a non-empty state, such as `Todo`.",
                               code="invalid_issue")
        priority = spec.priority
        if priority is not None and (isinstance(priority, bool) or not isinstance(priority, int)):
            raise TrackerError(f"Priority must be an integer, got {priority!r}.",
                               code="invalid_issue")
        issue_id = str(uuid.uuid4())
        now = _now()
        blocker_ids = [self._resolve_blocker(conn, ref) for ref in spec.blocked_by]
        conn.execute(
            "INSERT INTO counters (name, value) VALUES ('issue_number', 1) "
            "ON CONFLICT(name) DO UPDATE SET value = value + 1"
        )
        number = conn.execute(
            "SELECT value FROM counters WHERE name = 'issue_number'"
        ).fetchone()[0]
        identifier = f"{self.prefix}-{number}"
        conn.execute(
            "INSERT INTO issues (id, number, identifier, title, description, priority, "
            "state, state_norm, branch_name, labels, created_at, updated_at) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (issue_id, number, identifier, title, spec.description, priority,
             state, normalize_state(state), spec.branch_name or None,
             json.dumps(list(normalize_labels(spec.labels))), now, now),
        )
        conn.executemany(
            "INSERT OR IGNORE INTO blockers (issue_number, position, blocker_number) "
            "VALUES (?, ?, ?)",
            [(number, n, b) for n, b in enumerate(dict.fromkeys(blocker_ids))],
        )
        return issue_id, identifier

    def _resolve_blocker(self, conn: sqlite3.Connection, ref: str) -> int:
        found = self._resolve(conn, str(ref))
        if found is None:
            raise TrackerError(
                f"Blocker {ref!r} is not an issue in the local tracker ({self.path}). Run "
                "`tack issue list` to see the identifiers, then fix --blocked-by.",
                code="issue_not_found",
            )
        return found[0]

    def move_sync(self, id_or_identifier: str, state: str) -> Issue:
        """Set an issue's state, keeping the spelling given."""
        state = (state or "").strip()
        if not state:
            raise TrackerError("The new state must not be empty, for example `In Progress`.",
                               code="invalid_issue")
        with self._tx(write=True) as conn:
            number, issue_id, _ = self._resolve_existing(conn, str(id_or_identifier))
            conn.execute(
                "UPDATE issues SET state = ?, state_norm = ?, updated_at = ? WHERE number = ?",
                (state, normalize_state(state), _now(), number),
            )
        return self.get(issue_id)

    def comment_sync(self, id_or_identifier: str, body: str, *, author: str = "agent") -> Comment:
        """Append a comment; also bumps the issue's `updated_at`."""
        if not (body or "").strip():
            raise TrackerError("A comment needs a non-empty body.", code="invalid_issue")
        now = _now()
        with self._tx(write=True) as conn:
            number, _, _ = self._resolve_existing(conn, str(id_or_identifier))
            conn.execute(
                "INSERT INTO comments (issue_number, author, body, created_at) "
                "VALUES (?, ?, ?, ?)",
                (number, author or "agent", body, now),
            )
            conn.execute("UPDATE issues SET updated_at = ? WHERE number = ?", (now, number))
        return Comment(author=author or "agent", body=body, created_at=_parse_time(now) or
                       datetime.now(timezone.utc))

    # ------------------------------------------------------- Tracker protocol

    async def fetch_issues_by_states(self, states: list[str]) -> list[Issue]:
        """Issues in `states`, ordered by identifier number; comments are left empty."""
        if not states:
            return []
        return await asyncio.to_thread(self.list_issues, list(states))

    async def fetch_issues_by_ids(self, ids: list[str]) -> list[Issue]:
        """Full snapshots (with comments) for ids or identifiers; unknown ones are omitted."""
        refs = [str(i).strip() for i in ids if str(i).strip()]
        if not refs:
            return []

        def run() -> list[Issue]:
            with self._tx() as conn:
                return self._select_by_refs(conn, refs, strict=True)

        return await asyncio.to_thread(run)

    async def move(self, issue_id: str, state: str) -> Issue:
        return await asyncio.to_thread(self.move_sync, issue_id, state)

    async def comment(self, issue_id: str, body: str, *, author: str = "agent") -> None:
        await asyncio.to_thread(self.comment_sync, issue_id, body, author=author)

    async def close(self) -> None:
        self.close_sync()

    def close_sync(self) -> None:
        with self._lock:
            self._conn.close()

    def __enter__(self) -> LocalTracker:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close_sync()
