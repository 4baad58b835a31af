"""The `github` tracker: issues of one repository through githubkit (GitHub's own OpenAPI
models), states from labels, priority from labels, blockers from "blocked by #N" and task
lists. Requests go through the resilient transport: retries, rate limits, ETags. Auth is a
token or a GitHub App installation (`provider.app`), whose tokens githubkit mints and renews.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar, cast

import httpx
import structlog
from githubkit import AppAuthStrategy, AppInstallationAuthStrategy, GitHub
from githubkit.cache import MemCacheStrategy
from githubkit.exception import GitHubException, RequestError, RequestFailed

from tack.errors import TackError, TrackerError
from tack.tracker.base import BlockerRef, Comment, Issue, normalize_labels
from tack.tracker.github_project import ProjectBoard, parse_project
from tack.tracker.hosted import (
    LabelStates,
    blocker_numbers,
    endpoint,
    is_blocked,
    page_size,
    parse_time,
    priority_from_labels,
    provider_settings,
    require_secret,
    require_text,
    retry_policy,
)
from tack.tracker.http import HttpStats, ResilientTransport, resolve_secret, status_error
from tack.workflow.config import TrackerConfig, normalize_state

log = structlog.get_logger(__name__)

PROVIDER_KEYS = ("repo", "token", "labels", "state_labels", "open_state", "closed_state",
                 "priority_labels", "project", "status_field", "app")
APP_KEYS = ("app_id", "private_key", "private_key_path", "installation_id")
DEFAULT_ENDPOINT = "https://api.github.com"
AUTH_HINT = ("Set tracker.api_key: $GITHUB_TOKEN in WORKFLOW.md and export GITHUB_TOKEN with a "
             "token that has Issues read/write (fine-grained) or `repo` scope (classic).")
APP_HINT = ("Check tracker.provider.app: app_id and installation_id as shown in the app's "
            "settings, the app's current private key, and that the app is installed on the "
            "repository with Issues read/write.")
T = TypeVar("T")


@dataclass(frozen=True, repr=False)
class GitHubApp:
    """A GitHub App installation: githubkit signs a JWT with the key and trades it for
    installation tokens (valid an hour), renewing them before they expire."""

    app_id: str
    private_key: str
    installation_id: int

    def auth(self) -> AppInstallationAuthStrategy:
        return AppAuthStrategy(self.app_id, self.private_key).as_installation(
            self.installation_id)

    def __repr__(self) -> str:  # never show the key
        return f"GitHubApp(app_id={self.app_id!r}, installation_id={self.installation_id})"


def github_app(value: Any, where: str, error: type[TackError] = TrackerError) -> GitHubApp:
    """Parse `<where>: {app_id, private_key | private_key_path, installation_id}`; values may
    be `$VAR`s. Raises `error` naming the key to fix."""
    example = (f"`{where}: {{app_id: 123456, installation_id: 7890123, "
               "private_key: $GITHUB_APP_PRIVATE_KEY}`")

    def fail(problem: str) -> TackError:
        return error(f"{where} in WORKFLOW.md: {problem}. Example: {example}.",
                     code="invalid_tracker_config")

    if not isinstance(value, dict):
        raise fail("must be a mapping")
    unknown = sorted(set(value) - set(APP_KEYS))
    if unknown:
        raise fail(f"unknown key {', '.join(unknown)} (allowed: {', '.join(APP_KEYS)})")

    def number(key: str) -> str:
        raw = value.get(key)
        text = resolve_secret(raw) if isinstance(raw, str) else (
            str(raw) if isinstance(raw, int) and not isinstance(raw, bool) else None)
        if not text or not text.isdigit():
            hint = " (the $VAR is unset or empty)" if isinstance(raw, str) and \
                raw.strip().startswith("$") else ""
            raise fail(f"{where}.{key} must be the app's numeric {key.replace('_', ' ')}, got "
                       f"{raw!r}{hint}")
        return text

    app_id, installation_id = number("app_id"), int(number("installation_id"))
    if value.get("private_key") is not None and value.get("private_key_path") is not None:
        raise fail(f"set {where}.private_key or {where}.private_key_path, not both")
    if value.get("private_key_path") is not None:
        raw_path = resolve_secret(value.get("private_key_path"))
        path = Path(raw_path).expanduser() if raw_path else None
        if path is None or not path.is_file():
            raise fail(f"{where}.private_key_path {value.get('private_key_path')!r} is not a "
                       "readable file (download the .pem from the app's settings page)")
        key = path.read_text(errors="replace")
    else:
        raw_key = value.get("private_key")
        key = resolve_secret(raw_key) or ""
        if not key:
            raise fail(f"{where}.private_key is missing or its $VAR is unset; set it to "
                       "$GITHUB_APP_PRIVATE_KEY (the PEM text) or use private_key_path")
    key = key.strip().replace("\\n", "\n")  # a PEM squeezed into one env line
    if "-----BEGIN" not in key or "PRIVATE KEY-----" not in key:
        raise fail(f"{where}: the private key is not PEM text (it should start with "
                   "`-----BEGIN RSA PRIVATE KEY-----`)")
    return GitHubApp(app_id=app_id, private_key=key + "\n", installation_id=installation_id)


def _field(obj: Any, name: str, default: Any = None) -> Any:
    # githubkit models mark absent optional fields with an UNSET sentinel, not None.
    value = getattr(obj, name, default)
    return default if type(value).__name__ == "Unset" else value


class GitHubTracker:
    """`tracker.kind: github` (profile: docs/trackers.md)."""

    kind = "github"

    def __init__(self, config: TrackerConfig) -> None:
        provider = provider_settings(config, self.kind, PROVIDER_KEYS)
        self.repo = require_text(provider, "repo", self.kind, "owner/name")
        if self.repo.count("/") != 1 or not all(self.repo.split("/")):
            raise TrackerError(
                f"tracker.provider.repo {self.repo!r} is not `owner/name`. Write the repository "
                "as it appears in its URL, for example `repo: octo-org/widgets`.",
                code="invalid_tracker_config",
            )
        self.owner, self.name = self.repo.split("/")
        self.endpoint = endpoint(config, provider, DEFAULT_ENDPOINT)
        self.app = (github_app(provider["app"], "tracker.provider.app")
                    if provider.get("app") is not None else None)
        token = (None if self.app is not None
                 else require_secret(config, provider, self.kind, "GITHUB_TOKEN"))
        self.scope_labels = [str(x) for x in provider.get("labels") or []]
        self.states = LabelStates(config, provider, self.kind)
        self.priority_labels = provider.get("priority_labels")
        self.per_page = page_size(provider, 100)
        self.terminal_states = list(config.terminal_states)
        # Every PATCH Tack sends GitHub (a move, a reopen, a PR's title and body) sets fields
        # to given values, so one whose reply was lost is sent again: a move lost to a dropped
        # connection left the issue active, and its agent's work was dispatched a second time.
        self.transport = ResilientTransport(retry_policy(provider),
                                            repeatable=frozenset({"PATCH"}))
        # With a Projects v2 board, states come from its Status field instead of labels.
        self.board: ProjectBoard | None = None
        self._board_status: dict[int, str | None] = {}
        if provider.get("project") is not None:
            if token is None:
                raise TrackerError(
                    "tracker.provider.project (a Projects v2 board) needs a token: the board "
                    "is not read with tracker.provider.app yet. Set tracker.api_key: "
                    "$GITHUB_TOKEN instead of tracker.provider.app.",
                    code="invalid_tracker_config")
            owner, number = parse_project(provider["project"])
            self.board = ProjectBoard(
                owner=owner, number=number, repo=self.repo, token=token,
                endpoint=self.endpoint, field=str(provider.get("status_field") or "Status"),
                policy=retry_policy(provider), page_size=self.per_page)
        self.gh = GitHub(
            self.app.auth() if self.app is not None else token,
            base_url=self.endpoint + "/",
            async_transport=self.transport,
            http_cache=False,
            auto_retry=False,
            user_agent="tack",
            # Its own token cache: githubkit's default is process-wide, and a reloaded
            # WORKFLOW.md with another key must not reuse the old installation token.
            cache_strategy=MemCacheStrategy(),
        )

    @property
    def stats(self) -> HttpStats:
        return self.transport.stats

    async def _call(self, what: str, fn: Callable[[], Awaitable[T]]) -> T:
        try:
            return await fn()
        except RequestFailed as exc:
            hint = APP_HINT if self.app is not None else AUTH_HINT
            raise status_error("GitHub", exc.response.raw_response, auth_hint=hint) from exc
        except (GitHubException, httpx.HTTPError) as exc:
            # githubkit wraps a refused installation-token request (App auth) in RequestError.
            if isinstance(exc, RequestError) and isinstance(exc.__cause__, RequestFailed):
                raise status_error("GitHub", exc.__cause__.response.raw_response,
                                   auth_hint=APP_HINT) from exc
            raise TrackerError(
                f"GitHub is unreachable while trying to {what} ({type(exc).__name__}). Check "
                "tracker.endpoint and the network; Tack tries again on the next poll.",
                code="tracker_request",
            ) from exc
        except ValueError as exc:  # pydantic: the payload does not match GitHub's schema
            raise TrackerError(
                f"GitHub returned a response that does not match its schema while trying to "
                f"{what}: {str(exc)[:300]}",
                code="tracker_response",
            ) from exc

    # ------------------------------------------------------------------ reads

    async def _list(self, state: str) -> list[Any]:
        out: list[Any] = []
        page = 1
        labels = ",".join(self.scope_labels) if self.scope_labels else None
        while True:
            kwargs: dict[str, Any] = {"state": state, "per_page": self.per_page, "page": page,
                                      "direction": "asc", "sort": "created"}
            if labels:
                kwargs["labels"] = labels
            response = await self._call(
                f"list {state} issues of {self.repo}",
                lambda: self.gh.rest.issues.async_list_for_repo(self.owner, self.name, **kwargs),
            )
            listed: list[Any] = cast("list[Any]", response.parsed_data)
            out.extend(x for x in listed if _field(x, "pull_request") is None)
            if "next" not in response.raw_response.links:
                return out
            page += 1
            if page > 10_000:
                raise TrackerError(f"GitHub pagination of {self.repo} did not end.",
                                   code="tracker_pagination")

    async def _get(self, number: int) -> Any | None:
        async def fetch() -> Any:
            try:
                return await self.gh.rest.issues.async_get(self.owner, self.name, number)
            except RequestFailed as exc:
                if exc.response.status_code in (404, 410):
                    return None
                raise

        response = await self._call(f"read issue #{number}", fetch)
        data = None if response is None else response.parsed_data
        return None if data is None or _field(data, "pull_request") is not None else data

    async def _read_board(self) -> list[int]:
        """Refresh every issue's board Status; returns the numbers on the board."""
        assert self.board is not None
        board = await self.board.read()
        self._board_status = {n: status for n, (_, status) in board.items.items()}
        return list(board.items)

    async def _get_many(self, numbers: list[int]) -> list[Any]:
        sem = asyncio.Semaphore(8)

        async def one(n: int) -> Any | None:
            async with sem:
                return await self._get(n)

        return [x for x in await asyncio.gather(*(one(n) for n in numbers)) if x is not None]

    async def fetch_issues_by_states(self, states: list[str]) -> list[Issue]:
        if not states:
            return []
        wanted, want_open, want_closed = self.states.wanted(states)
        if self.board is not None:
            await self._read_board()
            numbers = sorted(n for n, status in self._board_status.items()
                             if status is not None and normalize_state(status) in wanted)
            on_board = await self._get_many(numbers)
            known = {x.number: self._state(x) for x in on_board}
            await self._resolve_blockers(on_board, known)
            return [i for i in (self._normalize(x, known) for x in on_board)
                    if normalize_state(i.state) in wanted]
        raw: list[Any] = []
        if want_open:
            raw += await self._list("open")
        if want_closed:
            raw += await self._list("closed")
        known = {x.number: self._state(x) for x in raw}
        if not want_closed:
            # Every open issue is listed, so a blocker missing from the list is closed or gone.
            await self._resolve_blockers(raw, known)
        issues = []
        for item in raw:
            try:
                issue = self._normalize(item, known)
            except TrackerError as exc:
                log.warning("tracker.github.malformed_issue_omitted", number=item.number,
                            error=exc.message)
                continue
            if normalize_state(issue.state) in wanted:
                issues.append(issue)
        return issues

    async def fetch_issues_by_ids(self, ids: list[str]) -> list[Issue]:
        if not ids:
            return []
        numbers = sorted({self._number(x) for x in ids})
        if self.board is not None:
            await self._read_board()
        found = await self._get_many(numbers)
        known = {x.number: self._state(x) for x in found}
        await self._resolve_blockers(found, known)
        out = []
        for item in found:
            comments = await self._comments(item.number) if (_field(item, "comments") or 0) else ()
            out.append(self._normalize(item, known, comments=comments))
        return out

    async def _resolve_blockers(self, items: list[Any], known: dict[int, str]) -> None:
        missing = {n for x in items for n in blocker_numbers(_field(x, "body")) if n not in known}
        for n in sorted(missing):
            item = await self._get(n)
            if item is not None:
                known[n] = self._state(item)

    async def _comments(self, number: int) -> tuple[Comment, ...]:
        response = await self._call(
            f"read comments of #{number}",
            lambda: self.gh.rest.issues.async_list_comments(self.owner, self.name, number,
                                                            per_page=100),
        )
        return tuple(
            Comment(author=_field(c.user, "login", "") if c.user else "",
                    body=_field(c, "body") or "", created_at=c.created_at)
            for c in cast("list[Any]", response.parsed_data)
        )

    def _number(self, ref: str) -> int:
        text = str(ref).rsplit("#", 1)[-1].strip()
        if not text.isdigit():
            raise TrackerError(
                f"{ref!r} is not a GitHub issue id of {self.repo}; use the number (`12`) or "
                f"the identifier (`{self.name}#12`).",
                code="issue_not_found",
            )
        return int(text)

    def _labels(self, item: Any) -> list[str]:
        out = []
        for label in _field(item, "labels") or []:
            name = label if isinstance(label, str) else _field(label, "name")
            if isinstance(name, str):
                out.append(name)
        return out

    def _state(self, item: Any) -> str:
        # On a board, an open issue's Status wins; a closed issue is closed whatever it says.
        status = self._board_status.get(item.number)
        if self.board is not None and status and item.state != "closed":
            return status
        return self.states.state(self._labels(item), closed=item.state == "closed",
                                 reason=_field(item, "state_reason"))

    def _normalize(self, item: Any, known: dict[int, str],
                   comments: tuple[Comment, ...] = ()) -> Issue:
        if not item.title or not item.number:
            raise TrackerError(f"GitHub issue {item.number} has no title.",
                               code="tracker_response")
        labels = self._labels(item)
        blockers = tuple(
            BlockerRef(id=str(n), identifier=f"{self.name}#{n}", state=known[n])
            for n in blocker_numbers(_field(item, "body")) if n in known
        )
        assignee = _field(item, "assignee")
        return Issue(
            id=str(item.number),
            identifier=f"{self.name}#{item.number}",
            title=item.title,
            state=self._state(item),
            description=_field(item, "body"),
            priority=priority_from_labels(labels, self.priority_labels),
            url=item.html_url,
            assignee_id=_field(assignee, "login") if assignee else None,
            labels=normalize_labels(labels),
            blocked_by=blockers,
            dispatchable=not is_blocked(blockers, self.terminal_states),
            created_at=parse_time(item.created_at),
            updated_at=parse_time(item.updated_at),
            native_ref={"repo": self.repo, "number": item.number, "node_id": item.node_id},
            comments=comments,
            trust=trust_of(_field(item, "author_association")),
        )

    # ------------------------------------------------------------------ writes

    async def move(self, issue_id: str, state: str) -> Issue:
        number = self._number(issue_id)
        item = await self._get(number)
        if item is None:
            raise TrackerError(f"GitHub issue #{number} of {self.repo} does not exist.",
                               code="issue_not_found")
        if self.board is not None:
            await self.board.move(number, item.node_id, state)
            return await self._reopen_or_close(number, item, state)
        data: dict[str, Any] = {"labels": self.states.labels_for(self._labels(item), state)}
        if self.states.is_closed_state(state):
            data["state"] = "closed"
            data["state_reason"] = ("not_planned" if normalize_state(state) in
                                    ("cancelled", "canceled") else "completed")
        else:
            data["state"] = "open"
        await self._call(f"move #{number}", lambda: self.gh.rest.issues.async_update(
            self.owner, self.name, number, data=data))  # type: ignore[call-overload]
        moved = await self.fetch_issues_by_ids([str(number)])
        return moved[0]

    def has_state(self, state: str) -> bool:
        return self.board is not None or self.states.has(state)

    async def set_label(self, issue_id: str, label: str, present: bool) -> Issue:
        number = self._number(issue_id)
        item = await self._get(number)
        if item is None:
            raise TrackerError(f"GitHub issue #{number} of {self.repo} does not exist.",
                               code="issue_not_found")
        data = {"labels": self.states.with_label(self._labels(item), label, present)}
        await self._call(f"label #{number}", lambda: self.gh.rest.issues.async_update(
            self.owner, self.name, number, data=data))  # type: ignore[call-overload]
        return (await self.fetch_issues_by_ids([str(number)]))[0]

    async def _reopen_or_close(self, number: int, item: Any, state: str) -> Issue:
        """After a board move: close the issue for a closed state, reopen it for another."""
        closing = self.states.is_closed_state(state)
        if closing != (item.state == "closed"):
            data: dict[str, Any] = {"state": "closed" if closing else "open"}
            if closing:
                data["state_reason"] = ("not_planned" if normalize_state(state) in
                                        ("cancelled", "canceled") else "completed")
            await self._call(f"{'close' if closing else 'reopen'} #{number}",
                             lambda: self.gh.rest.issues.async_update(
                                 self.owner, self.name, number, data=data))  # type: ignore[call-overload]
        return (await self.fetch_issues_by_ids([str(number)]))[0]

    async def comment(self, issue_id: str, body: str, *, author: str = "agent") -> None:
        number = self._number(issue_id)

        async def post() -> None:
            await self._call(f"comment on #{number}",
                             lambda: self.gh.rest.issues.async_create_comment(
                                 self.owner, self.name, number, data={"body": body}))

        try:
            await post()
        except TrackerError as exc:
            # A POST whose reply was lost may or may not have been made, and is never resent
            # blindly: the issue's newest comment says whether it was.
            if exc.code != "tracker_request":
                raise
            comments = await self._comments(number)
            if len(comments) >= 100:  # the newest is not on the first page: cannot tell
                raise
            if not comments or comments[-1].body != body:
                await post()

    async def close(self) -> None:
        if self.board is not None:
            await self.board.aclose()
        await self.transport.shutdown()

    @classmethod
    def from_config(cls, config: TrackerConfig) -> GitHubTracker:
        return cls(config)


# GitHub's author_association values for people with a say in the repository.
TRUSTED_ASSOCIATIONS = frozenset({"OWNER", "MEMBER", "COLLABORATOR"})


def trust_of(association: object) -> str:
    """`trusted` for the repository's owners, members and collaborators; `untrusted` for
    anyone else (an issue from the public); `trusted` when GitHub does not say."""
    if not isinstance(association, str) or not association:
        return "trusted"
    return "trusted" if association.upper() in TRUSTED_ASSOCIATIONS else "untrusted"
