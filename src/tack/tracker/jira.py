"""The `jira` tracker: issues of one Jira project over REST v3 (httpx): JQL search with
`nextPageToken` pagination, workflow statuses, blockers from "Blocks" issue links, priority
from the priority field, comments (Atlassian Document Format) and transitions.
"""

from __future__ import annotations

import base64
from typing import Any

import structlog

from tack.errors import TrackerError
from tack.tracker.base import BlockerRef, Comment, Issue, normalize_labels
from tack.tracker.hosted import (
    endpoint,
    is_blocked,
    page_size,
    parse_time,
    provider_settings,
    require_secret,
    require_text,
    retry_policy,
)
from tack.tracker.http import ApiClient, HttpStats
from tack.workflow.config import TrackerConfig

log = structlog.get_logger(__name__)

PROVIDER_KEYS = ("project", "token", "email", "jql")
AUTH_HINT = ("Set tracker.api_key: $JIRA_API_TOKEN and tracker.provider.email in WORKFLOW.md "
             "and export JIRA_API_TOKEN (an Atlassian API token; Data Center: a personal access "
             "token without `email`).")
FIELDS = ["summary", "description", "status", "priority", "labels", "assignee", "created",
          "updated", "issuelinks"]
_PRIORITY_NAMES = {"highest": 1, "high": 2, "medium": 3, "low": 4}


def _quote(value: str) -> str:
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


def adf_text(doc: Any) -> str | None:
    """Plain text of an Atlassian Document Format value (v3 returns descriptions as ADF)."""
    if doc is None:
        return None
    if isinstance(doc, str):
        return doc
    parts: list[str] = []

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            if node.get("type") == "text" and isinstance(node.get("text"), str):
                parts.append(node["text"])
            for child in node.get("content") or []:
                walk(child)
            if node.get("type") in ("paragraph", "heading", "listItem", "codeBlock"):
                parts.append("\n")
        elif isinstance(node, list):
            for child in node:
                walk(child)

    walk(doc)
    return "".join(parts).strip() or None


def adf_doc(text: str) -> dict[str, Any]:
    return {"type": "doc", "version": 1, "content": [
        {"type": "paragraph", "content": [{"type": "text", "text": line}]}
        for line in text.splitlines() or [""] if line
    ] or [{"type": "paragraph", "content": []}]}


class JiraTracker:
    """`tracker.kind: jira` (profile: docs/trackers.md)."""

    kind = "jira"

    def __init__(self, config: TrackerConfig) -> None:
        provider = provider_settings(config, self.kind, PROVIDER_KEYS)
        self.project = require_text(provider, "project", self.kind, "ENG",
                                    fallback=config.project_slug)
        if not (provider.get("endpoint") or config.endpoint):
            raise TrackerError(
                "tracker.endpoint is required for tracker.kind jira. Add your site, for "
                "example `endpoint: https://your-team.atlassian.net`, under `tracker:`.",
                code="invalid_tracker_config",
            )
        self.endpoint = endpoint(config, provider, "")
        token = require_secret(config, provider, self.kind, "JIRA_API_TOKEN")
        email = provider.get("email")
        if email:
            basic = base64.b64encode(f"{email}:{token}".encode()).decode()
            auth = f"Basic {basic}"
        else:
            auth = f"Bearer {token}"
        self.extra_jql = provider.get("jql")
        self.page_size = page_size(provider, 100)
        self.terminal_states = list(config.terminal_states)
        self.api = ApiClient(provider="Jira", base_url=self.endpoint,
                             headers={"Authorization": auth, "Accept": "application/json"},
                             auth_hint=AUTH_HINT, policy=retry_policy(provider))

    @property
    def stats(self) -> HttpStats:
        return self.api.stats

    async def _search(self, jql: str) -> list[dict[str, Any]]:
        out: list[dict[str, Any]] = []
        token: str | None = None
        seen: set[str] = set()
        while True:
            body: dict[str, Any] = {"jql": jql, "fields": FIELDS, "maxResults": self.page_size}
            if token:
                body["nextPageToken"] = token
            page = await self.api.json("POST", "/rest/api/3/search/jql", json=body)
            if not isinstance(page, dict) or not isinstance(page.get("issues"), list):
                raise TrackerError("Jira search returned no `issues` list.",
                                   code="tracker_response")
            out.extend(x for x in page["issues"] if isinstance(x, dict))
            token = page.get("nextPageToken")
            if page.get("isLast", token is None) or not token:
                return out
            if token in seen:
                raise TrackerError("Jira repeated a page token; this poll is skipped.",
                                   code="tracker_pagination")
            seen.add(token)

    def _scope(self) -> str:
        jql = f"project = {_quote(self.project)}"
        return f"{jql} AND ({self.extra_jql})" if self.extra_jql else jql

    async def fetch_issues_by_states(self, states: list[str]) -> list[Issue]:
        if not states:
            return []
        names = ", ".join(_quote(s) for s in dict.fromkeys(states))
        raw = await self._search(f"{self._scope()} AND status in ({names}) ORDER BY created ASC")
        out = []
        for item in raw:
            try:
                out.append(self._normalize(item))
            except TrackerError as exc:
                log.warning("tracker.jira.malformed_issue_omitted", error=exc.message)
        return out

    async def fetch_issues_by_ids(self, ids: list[str]) -> list[Issue]:
        if not ids:
            return []
        unique = list(dict.fromkeys(str(i) for i in ids))
        out: list[Issue] = []
        for start in range(0, len(unique), 100):
            chunk = unique[start : start + 100]
            raw = await self._search(f"{self._scope()} AND id in ({', '.join(map(_quote, chunk))})")
            for item in raw:
                comments = await self._comments(str(item.get("id")))
                out.append(self._normalize(item, comments))
        return out

    async def _comments(self, issue_id: str) -> tuple[Comment, ...]:
        page = await self.api.json("GET", f"/rest/api/3/issue/{issue_id}/comment",
                                   params={"maxResults": 100})
        out = []
        for c in (page or {}).get("comments") or []:
            created = parse_time(c.get("created"))
            if created is not None:
                out.append(Comment(author=(c.get("author") or {}).get("displayName") or "jira",
                                   body=adf_text(c.get("body")) or "", created_at=created))
        return tuple(out)

    def _normalize(self, item: dict[str, Any], comments: tuple[Comment, ...] = ()) -> Issue:
        fields = item.get("fields") or {}
        state = (fields.get("status") or {}).get("name")
        key, title = item.get("key"), fields.get("summary")
        if not all(isinstance(v, str) and v for v in (item.get("id"), key, title, state)):
            raise TrackerError(f"Jira issue {key or item.get('id')!r} lacks id, key, summary or "
                               "status.", code="tracker_response")
        blockers = []
        for link in fields.get("issuelinks") or []:
            other = link.get("inwardIssue") if isinstance(link, dict) else None
            if (link.get("type") or {}).get("name") == "Blocks" and isinstance(other, dict):
                blockers.append(BlockerRef(
                    id=other.get("id"), identifier=other.get("key"),
                    state=((other.get("fields") or {}).get("status") or {}).get("name")))
        assignee = fields.get("assignee") or {}
        return Issue(
            id=str(item["id"]),
            identifier=str(key),
            title=str(title),
            state=str(state),
            description=adf_text(fields.get("description")),
            priority=_priority(fields.get("priority")),
            url=f"{self.endpoint}/browse/{key}",
            assignee_id=assignee.get("accountId") if isinstance(assignee, dict) else None,
            labels=normalize_labels([x for x in fields.get("labels") or [] if isinstance(x, str)]),
            blocked_by=tuple(blockers),
            dispatchable=not is_blocked(blockers, self.terminal_states),
            created_at=parse_time(fields.get("created")),
            updated_at=parse_time(fields.get("updated")),
            native_ref={"jira_id": str(item["id"]), "key": key},
            comments=comments,
        )

    async def move(self, issue_id: str, state: str) -> Issue:
        page = await self.api.json("GET", f"/rest/api/3/issue/{issue_id}/transitions")
        transitions = (page or {}).get("transitions") or []
        match = next((t for t in transitions if str((t.get("to") or {}).get("name", "")).lower()
                      == state.strip().lower() or str(t.get("name", "")).lower()
                      == state.strip().lower()), None)
        if match is None:
            names = ", ".join(str((t.get("to") or {}).get("name")) for t in transitions)
            raise TrackerError(f"Jira has no transition from this issue's status to {state!r}. "
                               f"Reachable: {names or 'none'}.", code="invalid_issue")
        await self.api.json("POST", f"/rest/api/3/issue/{issue_id}/transitions",
                            json={"transition": {"id": match["id"]}})
        return (await self.fetch_issues_by_ids([issue_id]))[0]

    async def comment(self, issue_id: str, body: str, *, author: str = "agent") -> None:
        await self.api.json("POST", f"/rest/api/3/issue/{issue_id}/comment",
                            json={"body": adf_doc(body)})

    async def close(self) -> None:
        await self.api.aclose()

    @classmethod
    def from_config(cls, config: TrackerConfig) -> JiraTracker:
        return cls(config)


def _priority(value: Any) -> int | None:
    if not isinstance(value, dict):
        return None
    name = str(value.get("name") or "").strip().lower()
    if name in _PRIORITY_NAMES:
        return _PRIORITY_NAMES[name]
    raw = value.get("id")
    return int(raw) if isinstance(raw, str) and raw.isdigit() and 1 <= int(raw) <= 4 else None
