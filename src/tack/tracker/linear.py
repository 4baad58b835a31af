"""The `linear` tracker (Symphony's default): GraphQL over httpx, one project, workflow
states by name, blockers from "blocks" relations, cursor pagination, comments, state moves,
and the `linear_graphql` tool Symphony gives agents.
"""

from __future__ import annotations

import json
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
    retry_policy,
)
from tack.tracker.http import ApiClient, HttpStats
from tack.workflow.config import TrackerConfig

log = structlog.get_logger(__name__)

PROVIDER_KEYS = ("project_slug", "api_key")
DEFAULT_ENDPOINT = "https://api.linear.app/graphql"
AUTH_HINT = ("Set tracker.api_key: $LINEAR_API_KEY in WORKFLOW.md and export LINEAR_API_KEY "
             "(Linear → Settings → Security & access → Personal API keys).")

# Linear refuses a query scoring over 10,000 complexity points, and an unbounded connection
# counts as 50 items per issue. Every connection is bounded: at the largest page size a poll
# scores about 7,500 (tests/tracker_remote/test_linear_tracker.py scores each query), and an
# issue with more labels, blockers or comments than the first page has them fetched after.
MAX_PAGE_SIZE = 100
ISSUE_CHUNK = 25  # ids per refresh query; each issue carries up to 50 comments
LABELS_FIRST = 10
RELATIONS_FIRST = 10
COMMENTS_FIRST = 50
REST_FIRST = 100
_PAGE_INFO = "pageInfo { hasNextPage endCursor }"
# connection -> the fields of its nodes
_CONNECTIONS = {
    "labels": "name",
    "inverseRelations": "type issue { id identifier state { name } }",
    "comments": "body createdAt user { name }",
}
_ISSUE_FIELDS = f"""
  id identifier title description priority branchName url createdAt updatedAt
  state {{ name }}
  assignee {{ id }}
  creator {{ guest }}
  externalUserCreator {{ id }}
  labels(first: {LABELS_FIRST}) {{ nodes {{ {_CONNECTIONS["labels"]} }} {_PAGE_INFO} }}
  inverseRelations(first: {RELATIONS_FIRST}) {{
    nodes {{ {_CONNECTIONS["inverseRelations"]} }} {_PAGE_INFO} }}
"""
ISSUES_BY_STATES = f"""
query TackIssuesByStates($projectSlug: String!, $states: [String!]!, $first: Int!, $after: String) {{
  issues(filter: {{project: {{slugId: {{eq: $projectSlug}}}}, state: {{name: {{in: $states}}}}}},
         first: $first, after: $after) {{
    nodes {{ {_ISSUE_FIELDS} }}
    {_PAGE_INFO}
  }}
}}"""
ISSUES_BY_IDS = f"""
query TackIssuesByIds($ids: [ID!]!, $first: Int!) {{
  issues(filter: {{id: {{in: $ids}}}}, first: $first) {{
    nodes {{ {_ISSUE_FIELDS}
      comments(first: {COMMENTS_FIRST}) {{ nodes {{ {_CONNECTIONS["comments"]} }} {_PAGE_INFO} }} }}
  }}
}}"""
# The rest of one issue's connection after the page the issue query carried.
ISSUE_CONNECTION_REST = {
    name: f"""
query TackIssue{name[0].upper()}{name[1:]}($id: String!, $after: String) {{
  issue(id: $id) {{ {name}(first: {REST_FIRST}, after: $after) {{ nodes {{ {fields} }} {_PAGE_INFO} }} }}
}}"""
    for name, fields in _CONNECTIONS.items()
}
TEAM_STATES = """
query TackTeamStates($id: String!) {
  issue(id: $id) { id team { states(first: 250) { nodes { id name } } } }
}"""
UPDATE_STATE = """
mutation TackMove($id: String!, $stateId: String!) {
  issueUpdate(id: $id, input: {stateId: $stateId}) { success }
}"""
CREATE_COMMENT = """
mutation TackComment($issueId: String!, $body: String!) {
  commentCreate(input: {issueId: $issueId, body: $body}) { success }
}"""

LINEAR_GRAPHQL_TOOL = {
    "name": "linear_graphql",
    "description": (
        "Run one GraphQL query or mutation against Linear with Tack's configured credentials. "
        "Use it to read or update the current issue (comments, state, links)."
    ),
    "input_schema": {
        "type": "object",
        "properties": {
            "query": {"type": "string", "description": "A single GraphQL operation."},
            "variables": {"type": "object", "description": "Variables for the operation."},
        },
        "required": ["query"],
        "additionalProperties": False,
    },
}


class LinearTracker:
    """`tracker.kind: linear` (profile: docs/trackers.md)."""

    kind = "linear"

    def __init__(self, config: TrackerConfig) -> None:
        provider = provider_settings(config, self.kind, PROVIDER_KEYS)
        slug = provider.get("project_slug") or config.project_slug
        if not isinstance(slug, str) or not slug.strip():
            raise TrackerError(
                "tracker.project_slug is required for tracker.kind linear. Add "
                "`project_slug: <slug>` under `tracker:` in WORKFLOW.md (the slug is the last "
                "part of the project's URL, e.g. `tack-3f9a1c2b7d4e`).",
                code="invalid_tracker_config",
            )
        self.project_slug = slug.strip()
        self.endpoint = endpoint(config, provider, DEFAULT_ENDPOINT)
        token = require_secret(config, provider, self.kind, "LINEAR_API_KEY", key="api_key")
        self.page_size = page_size(provider, MAX_PAGE_SIZE)
        self.terminal_states = list(config.terminal_states)
        self.api = ApiClient(
            provider="Linear",
            base_url=self.endpoint,
            headers={"Authorization": token, "Content-Type": "application/json"},
            auth_hint=AUTH_HINT,
            policy=retry_policy(provider),
        )

    @property
    def stats(self) -> HttpStats:
        return self.api.stats

    async def _query(self, query: str, variables: dict[str, Any]) -> dict[str, Any]:
        data = await self.api.graphql(self.endpoint, query, variables)
        return data  # type: ignore[no-any-return]

    async def fetch_issues_by_states(self, states: list[str]) -> list[Issue]:
        if not states:
            return []
        out: list[Issue] = []
        after: str | None = None
        seen_cursors: set[str] = set()
        while True:
            data = await self._query(ISSUES_BY_STATES, {
                "projectSlug": self.project_slug, "states": list(dict.fromkeys(states)),
                "first": self.page_size, "after": after,
            })
            conn = _connection(data, "issues")
            for node in conn["nodes"]:
                node = await self._complete(node)
                try:
                    out.append(self._normalize(node))
                except TrackerError as exc:
                    log.warning("tracker.linear.malformed_issue_omitted", error=exc.message)
            info = conn.get("pageInfo") or {}
            if not info.get("hasNextPage"):
                return out
            after = info.get("endCursor")
            if not isinstance(after, str) or after in seen_cursors:
                raise TrackerError(
                    "Linear said there is another page but gave no new cursor; the result "
                    "would be incomplete, so this poll is skipped.",
                    code="tracker_pagination",
                )
            seen_cursors.add(after)

    async def fetch_issues_by_ids(self, ids: list[str]) -> list[Issue]:
        if not ids:
            return []
        unique = list(dict.fromkeys(ids))
        out: list[Issue] = []
        for start in range(0, len(unique), ISSUE_CHUNK):
            chunk = unique[start : start + ISSUE_CHUNK]
            data = await self._query(ISSUES_BY_IDS, {"ids": chunk, "first": len(chunk)})
            for node in _connection(data, "issues")["nodes"]:
                out.append(self._normalize(await self._complete(node)))
        return out

    async def _complete(self, node: Any) -> Any:
        """`node` with every connection whose first page was not all of it filled in."""
        if not isinstance(node, dict) or not isinstance(node.get("id"), str):
            return node
        for name, rest_query in ISSUE_CONNECTION_REST.items():
            conn = node.get(name)
            if not isinstance(conn, dict) or not isinstance(conn.get("nodes"), list):
                continue
            seen: set[str] = set()
            info = conn.get("pageInfo") or {}
            while info.get("hasNextPage"):
                after = info.get("endCursor")
                if not isinstance(after, str) or after in seen:
                    raise TrackerError(
                        f"Linear said issue {node.get('identifier')!r} has more {name} but "
                        "gave no new cursor; the issue would be incomplete, so this request "
                        "is skipped.",
                        code="tracker_pagination",
                    )
                seen.add(after)
                data = await self._query(rest_query, {"id": node["id"], "after": after})
                page = _connection(data.get("issue") or {}, name)
                conn["nodes"].extend(page["nodes"])
                info = page.get("pageInfo") or {}
        return node

    def _normalize(self, node: Any) -> Issue:
        if not isinstance(node, dict):
            raise TrackerError("Linear returned an issue that is not an object.",
                               code="tracker_response")
        state = (node.get("state") or {}).get("name")
        required = {"id": node.get("id"), "identifier": node.get("identifier"),
                    "title": node.get("title"), "state": state}
        empty = [k for k, v in required.items() if not isinstance(v, str) or not v]
        if empty:
            raise TrackerError(
                f"Linear issue {node.get('identifier') or node.get('id')!r} has no "
                f"{', '.join(empty)}.",
                code="tracker_response",
            )
        priority = node.get("priority")
        # Linear: 0 = no priority, 1 urgent … 4 low; SPEC ranks 1..4.
        if isinstance(priority, float) and priority.is_integer():
            priority = int(priority)
        if not isinstance(priority, int) or isinstance(priority, bool) or priority == 0:
            priority = None
        blockers = []
        for rel in _nodes(node.get("inverseRelations")):
            other = rel.get("issue") if isinstance(rel, dict) else None
            if rel.get("type") == "blocks" and isinstance(other, dict):
                blockers.append(BlockerRef(
                    id=other.get("id"), identifier=other.get("identifier"),
                    state=(other.get("state") or {}).get("name"),
                ))
        comments = tuple(
            Comment(author=((c.get("user") or {}).get("name") or "linear"),
                    body=c.get("body") or "", created_at=at)
            for c in _nodes(node.get("comments"))
            if isinstance(c, dict) and (at := parse_time(c.get("createdAt"))) is not None
        )
        assignee = node.get("assignee") or {}
        return Issue(
            id=node["id"],
            identifier=node["identifier"],
            title=node["title"],
            state=str(state),
            description=node.get("description") if isinstance(node.get("description"), str)
            else None,
            priority=priority,
            branch_name=node.get("branchName") or None,
            url=node.get("url") or None,
            assignee_id=assignee.get("id") if isinstance(assignee, dict) else None,
            labels=normalize_labels([str(x.get("name")) for x in _nodes(node.get("labels"))
                                     if isinstance(x, dict) and x.get("name")]),
            blocked_by=tuple(blockers),
            dispatchable=not is_blocked(blockers, self.terminal_states),
            created_at=parse_time(node.get("createdAt")),
            updated_at=parse_time(node.get("updatedAt")),
            native_ref={"linear_id": node["id"], "identifier": node["identifier"]},
            comments=comments,
            trust=_trust(node),
        )

    async def move(self, issue_id: str, state: str) -> Issue:
        data = await self._query(TEAM_STATES, {"id": issue_id})
        issue = data.get("issue")
        if not isinstance(issue, dict):
            raise TrackerError(f"Linear issue {issue_id!r} does not exist or is not visible.",
                               code="issue_not_found")
        states = _nodes((issue.get("team") or {}).get("states"))
        match = next((s for s in states if str(s.get("name", "")).strip().lower()
                      == state.strip().lower()), None)
        if match is None:
            names = ", ".join(str(s.get("name")) for s in states)
            raise TrackerError(
                f"Linear has no workflow state {state!r} for this issue's team. States: {names}.",
                code="invalid_issue",
            )
        await self._query(UPDATE_STATE, {"id": issue["id"], "stateId": match["id"]})
        return (await self.fetch_issues_by_ids([issue["id"]]))[0]

    async def comment(self, issue_id: str, body: str, *, author: str = "agent") -> None:
        await self._query(CREATE_COMMENT, {"issueId": issue_id, "body": body})

    # --------------------------------------------------- agent tool (SPEC §10.5)

    def agent_tool_specs(self) -> list[dict[str, Any]]:
        return [LINEAR_GRAPHQL_TOOL]

    def secret_environment_names(self) -> list[str]:
        return ["LINEAR_API_KEY"]

    async def execute_agent_tool(self, name: str, arguments: dict[str, Any],
                                 context: dict[str, Any] | None = None) -> dict[str, Any]:
        """`{"success": bool, "output": ...}`; the credential never reaches the agent."""
        if name != "linear_graphql":
            return {"success": False, "error": f"unsupported tool {name!r}"}
        query = arguments.get("query")
        variables = arguments.get("variables") or {}
        if isinstance(variables, str):
            try:
                variables = json.loads(variables)
            except ValueError:
                return {"success": False, "error": "`variables` must be a JSON object"}
        if not isinstance(query, str) or not query.strip() or not isinstance(variables, dict):
            return {"success": False,
                    "error": "`query` must be a non-empty GraphQL string and `variables` an object"}
        try:
            data = await self._query(query, variables)
        except TrackerError as exc:
            return {"success": False, "error": exc.message, "category": exc.code}
        return {"success": True, "output": data}

    async def close(self) -> None:
        await self.api.aclose()

    @classmethod
    def from_config(cls, config: TrackerConfig) -> LinearTracker:
        return cls(config)


def _nodes(conn: Any) -> list[Any]:
    if isinstance(conn, dict) and isinstance(conn.get("nodes"), list):
        return list(conn["nodes"])
    return []


def _connection(data: dict[str, Any], key: str) -> dict[str, Any]:
    conn = data.get(key)
    if not isinstance(conn, dict) or not isinstance(conn.get("nodes"), list):
        raise TrackerError(f"Linear response has no `{key}.nodes` list.", code="tracker_response")
    return conn


def _trust(node: dict[str, Any]) -> str:
    """`untrusted` for an issue filed from outside the workspace (an external user through
    Slack, Intercom, a customer form) or by a guest; `trusted` for the workspace's members."""
    creator = node.get("creator")
    outside = isinstance(node.get("externalUserCreator"), dict)
    guest = isinstance(creator, dict) and creator.get("guest") is True
    return "untrusted" if outside or guest else "trusted"
