"""The `gitlab` tracker: issues of one GitLab project over REST v4 (httpx), states from
labels (scoped labels work: `status::doing`), priority from labels, blockers from
"blocked by #N" in the description, Link-header pagination, notes and state moves.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

import structlog

from tack.errors import TrackerError
from tack.tracker.base import BlockerRef, Comment, Issue, normalize_labels
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
from tack.tracker.http import ApiClient, HttpStats
from tack.workflow.config import TrackerConfig, normalize_state

log = structlog.get_logger(__name__)

PROVIDER_KEYS = ("project", "token", "labels", "state_labels", "open_state", "closed_state",
                 "priority_labels")
DEFAULT_ENDPOINT = "https://gitlab.com"
# Developer: the author could push to the project anyway (issue.trust, docs/sandbox.md).
TRUSTED_ACCESS_LEVEL = 30
AUTH_HINT = ("Set tracker.api_key: $GITLAB_TOKEN in WORKFLOW.md and export GITLAB_TOKEN with a "
             "token that has the `api` scope.")


class GitLabTracker:
    """`tracker.kind: gitlab` (profile: docs/trackers.md)."""

    kind = "gitlab"

    def __init__(self, config: TrackerConfig) -> None:
        provider = provider_settings(config, self.kind, PROVIDER_KEYS)
        self.project = require_text(provider, "project", self.kind, "group/project",
                                    fallback=config.project_slug)
        self.endpoint = endpoint(config, provider, DEFAULT_ENDPOINT)
        token = require_secret(config, provider, self.kind, "GITLAB_TOKEN")
        self.scope_labels = [str(x) for x in provider.get("labels") or []]
        self.states = LabelStates(config, provider, self.kind)
        self.priority_labels = provider.get("priority_labels")
        self.per_page = page_size(provider, 100)
        # author id -> issue.trust, asked once per author (membership rarely changes)
        self._author_trust: dict[int, str] = {}
        self.terminal_states = list(config.terminal_states)
        self.base = f"/api/v4/projects/{quote(self.project, safe='')}"
        self.api = ApiClient(provider="GitLab", base_url=self.endpoint,
                             headers={"PRIVATE-TOKEN": token}, auth_hint=AUTH_HINT,
                             policy=retry_policy(provider))

    @property
    def stats(self) -> HttpStats:
        return self.api.stats

    async def _list(self, state: str) -> list[dict[str, Any]]:
        params: dict[str, Any] = {"state": state, "per_page": self.per_page,
                                  "order_by": "created_at", "sort": "asc"}
        if self.scope_labels:
            params["labels"] = ",".join(self.scope_labels)
        out: list[dict[str, Any]] = []
        async for page in self.api.pages(f"{self.base}/issues", params):
            out.extend(x for x in page if isinstance(x, dict))
        return out

    async def _get(self, iid: int) -> dict[str, Any] | None:
        item = await self.api.json("GET", f"{self.base}/issues/{iid}", missing_ok=True)
        return item if isinstance(item, dict) else None

    def _state(self, item: dict[str, Any]) -> str:
        return self.states.state(item.get("labels") or [], closed=item.get("state") == "closed")

    async def fetch_issues_by_states(self, states: list[str]) -> list[Issue]:
        if not states:
            return []
        wanted, want_open, want_closed = self.states.wanted(states)
        raw = (await self._list("opened") if want_open else []) + (
            await self._list("closed") if want_closed else [])
        known = {x.get("iid"): self._state(x) for x in raw}
        if not want_closed:
            await self._resolve_blockers(raw, known)
        await self._learn_authors(raw)
        out = []
        for item in raw:
            try:
                issue = self._normalize(item, known)
            except TrackerError as exc:
                log.warning("tracker.gitlab.malformed_issue_omitted", error=exc.message)
                continue
            if normalize_state(issue.state) in wanted:
                out.append(issue)
        return out

    async def fetch_issues_by_ids(self, ids: list[str]) -> list[Issue]:
        if not ids:
            return []
        found = [x for n in sorted({self._iid(i) for i in ids}) if (x := await self._get(n))]
        known = {x.get("iid"): self._state(x) for x in found}
        await self._resolve_blockers(found, known)
        await self._learn_authors(found)
        out = []
        for item in found:
            notes = await self.api.json("GET", f"{self.base}/issues/{item['iid']}/notes",
                                        params={"sort": "asc", "per_page": 100})
            comments = tuple(
                Comment(author=(n.get("author") or {}).get("username") or "gitlab",
                        body=n.get("body") or "", created_at=at)
                for n in notes or [] if isinstance(n, dict) and not n.get("system")
                and (at := parse_time(n.get("created_at"))) is not None
            )
            out.append(self._normalize(item, known, comments))
        return out

    async def _learn_authors(self, items: list[dict[str, Any]]) -> None:
        """Each new author's access level in the project (GitLab's members API, inherited
        memberships included); a 404 means not a member."""
        for uid in sorted({a["id"] for x in items if isinstance(a := x.get("author"), dict)
                           and isinstance(a.get("id"), int)} - set(self._author_trust)):
            member = await self.api.json("GET", f"{self.base}/members/all/{uid}",
                                         missing_ok=True)
            level = member.get("access_level") if isinstance(member, dict) else None
            self._author_trust[uid] = ("trusted" if isinstance(level, int)
                                       and level >= TRUSTED_ACCESS_LEVEL else "untrusted")

    async def _resolve_blockers(self, items: list[dict[str, Any]], known: dict[Any, str]) -> None:
        missing = {n for x in items for n in blocker_numbers(x.get("description"))
                   if n not in known}
        for n in sorted(missing):
            item = await self._get(n)
            if item is not None:
                known[n] = self._state(item)

    def _iid(self, ref: str) -> int:
        text = str(ref).rsplit("#", 1)[-1].strip()
        if not text.isdigit():
            raise TrackerError(f"{ref!r} is not a GitLab issue iid of {self.project}; use the "
                               "number, e.g. `12`.", code="issue_not_found")
        return int(text)

    def _normalize(self, item: dict[str, Any], known: dict[Any, str],
                   comments: tuple[Comment, ...] = ()) -> Issue:
        iid, title = item.get("iid"), item.get("title")
        if not isinstance(iid, int) or not isinstance(title, str) or not title:
            raise TrackerError(f"GitLab issue {iid!r} has no iid or title.",
                               code="tracker_response")
        labels = [str(x) for x in item.get("labels") or [] if isinstance(x, str)]
        blockers = tuple(
            BlockerRef(id=str(n), identifier=f"{self._short()}#{n}", state=known[n])
            for n in blocker_numbers(item.get("description")) if n in known
        )
        assignee = item.get("assignee") or {}
        author = item.get("author") or {}
        return Issue(
            id=str(iid),
            identifier=f"{self._short()}#{iid}",
            title=title,
            state=self._state(item),
            description=item.get("description") if isinstance(item.get("description"), str)
            else None,
            priority=priority_from_labels(labels, self.priority_labels),
            url=item.get("web_url"),
            assignee_id=str(assignee["id"]) if isinstance(assignee, dict) and assignee.get("id")
            else None,
            labels=normalize_labels(labels),
            blocked_by=blockers,
            dispatchable=not is_blocked(blockers, self.terminal_states),
            created_at=parse_time(item.get("created_at")),
            updated_at=parse_time(item.get("updated_at")),
            native_ref={"project": self.project, "iid": iid, "gitlab_id": item.get("id")},
            comments=comments,
            trust=self._trust_of(author),
        )

    def _trust_of(self, author: object) -> str:
        """`trusted` unless the author is known not to be a developer (GitLab did not say)."""
        uid = author.get("id") if isinstance(author, dict) else None
        return self._author_trust.get(uid, "trusted") if isinstance(uid, int) else "trusted"

    def _short(self) -> str:
        return self.project.rsplit("/", 1)[-1]

    async def move(self, issue_id: str, state: str) -> Issue:
        iid = self._iid(issue_id)
        item = await self._get(iid)
        if item is None:
            raise TrackerError(f"GitLab issue #{iid} of {self.project} does not exist.",
                               code="issue_not_found")
        data: dict[str, Any] = {
            "labels": ",".join(self.states.labels_for(item.get("labels") or [], state)),
            "state_event": "close" if self.states.is_closed_state(state) else "reopen",
        }
        await self.api.json("PUT", f"{self.base}/issues/{iid}", json=data)
        return (await self.fetch_issues_by_ids([str(iid)]))[0]

    def has_state(self, state: str) -> bool:
        return self.states.has(state)

    async def set_label(self, issue_id: str, label: str, present: bool) -> Issue:
        iid = self._iid(issue_id)
        item = await self._get(iid)
        if item is None:
            raise TrackerError(f"GitLab issue #{iid} of {self.project} does not exist.",
                               code="issue_not_found")
        labels = self.states.with_label(item.get("labels") or [], label, present)
        await self.api.json("PUT", f"{self.base}/issues/{iid}", json={"labels": ",".join(labels)})
        return (await self.fetch_issues_by_ids([str(iid)]))[0]

    async def comment(self, issue_id: str, body: str, *, author: str = "agent") -> None:
        await self.api.json("POST", f"{self.base}/issues/{self._iid(issue_id)}/notes",
                            json={"body": body})

    async def close(self) -> None:
        await self.api.aclose()

    @classmethod
    def from_config(cls, config: TrackerConfig) -> GitLabTracker:
        return cls(config)
