"""A loopback server replaying GitHub REST, Linear GraphQL, GitLab REST v4 and Jira REST v3,
with payloads shaped like their published schemas (GitHub's are validated by githubkit's
models in the adapter itself), plus fault injection: 429 + Retry-After, 5xx, outages.
"""

from __future__ import annotations

import hashlib
import json
import re
import threading
from collections import Counter
from dataclasses import dataclass, field
from typing import Any, Self

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

TS = "2024-05-01T12:00:00Z"


def gh_user(login: str, uid: int = 1) -> dict[str, Any]:
    base = f"https://api.github.com/users/{login}"
    return {
        "login": login, "id": uid, "node_id": f"U_{uid}", "avatar_url": "", "gravatar_id": "",
        "url": base, "html_url": f"https://github.com/{login}", "followers_url": base,
        "following_url": base, "gists_url": base, "starred_url": base,
        "subscriptions_url": base, "organizations_url": base, "repos_url": base,
        "events_url": base, "received_events_url": base, "type": "User", "site_admin": False,
    }


def gh_issue(repo: str, number: int, title: str, *, body: str | None = None,
             labels: list[str] = (), state: str = "open", created: str = TS,
             pull_request: bool = False, state_reason: str | None = None) -> dict[str, Any]:
    api = f"https://api.github.com/repos/{repo}/issues/{number}"
    item = {
        "id": 1000 + number, "node_id": f"I_{number}", "url": api,
        "repository_url": f"https://api.github.com/repos/{repo}", "labels_url": api + "/labels",
        "comments_url": api + "/comments", "events_url": api + "/events",
        "html_url": f"https://github.com/{repo}/issues/{number}", "number": number,
        "state": state, "state_reason": state_reason, "title": title, "body": body,
        "user": gh_user("octocat"),
        "labels": [{"id": i, "node_id": f"L{i}", "url": "", "name": n, "color": "ededed",
                    "default": False, "description": None} for i, n in enumerate(labels)],
        "assignee": None, "assignees": [], "milestone": None, "locked": False, "comments": 0,
        "closed_at": None if state == "open" else TS, "created_at": created, "updated_at": TS,
        "author_association": "OWNER",
    }
    if pull_request:
        item["pull_request"] = {"url": api, "html_url": api, "diff_url": api, "patch_url": api}
    return item


_REPO_URL_KEYS = [
    "archive", "assignees", "blobs", "branches", "collaborators", "comments", "commits",
    "compare", "contents", "contributors", "deployments", "downloads", "events", "forks",
    "git_commits", "git_refs", "git_tags", "issue_comment", "issue_events", "issues",
    "keys", "labels", "languages", "merges", "milestones", "notifications", "pulls",
    "releases", "stargazers", "statuses", "subscribers", "subscription", "tags", "teams",
    "trees", "hooks",
]


def gh_repo(repo: str) -> dict[str, Any]:
    """A `repository` object as GitHub's OpenAPI schema requires it."""
    owner, name = repo.split("/")
    api = f"https://api.github.com/repos/{repo}"
    data: dict[str, Any] = {f"{k}_url": f"{api}/{k}" for k in _REPO_URL_KEYS}
    data.update({
        "id": 77, "node_id": "R_77", "name": name, "full_name": repo, "license": None,
        "forks": 0, "owner": gh_user(owner), "private": False,
        "html_url": f"https://github.com/{repo}", "description": None, "fork": False,
        "url": api, "git_url": f"git://github.com/{repo}.git",
        "ssh_url": f"git@github.com:{repo}.git", "clone_url": f"https://github.com/{repo}.git",
        "svn_url": f"https://github.com/{repo}", "mirror_url": None, "homepage": None,
        "language": "Python", "forks_count": 0, "stargazers_count": 0, "watchers_count": 0,
        "size": 1, "default_branch": "main", "open_issues_count": 0, "has_pages": False,
        "disabled": False, "pushed_at": TS, "created_at": TS, "updated_at": TS,
        "open_issues": 0, "watchers": 0,
    })
    return data


def _ref(repo: str, branch: str, sha: str) -> dict[str, Any]:
    owner = repo.split("/")[0]
    return {"label": f"{owner}:{branch}", "ref": branch, "sha": sha, "user": gh_user(owner),
            "repo": gh_repo(repo)}


def gh_pull(repo: str, number: int, head: str, base: str, title: str, body: str,
            draft: bool = False) -> dict[str, Any]:
    api = f"https://api.github.com/repos/{repo}/pulls/{number}"
    link = {"href": api}
    return {
        "url": api, "id": 5000 + number, "node_id": f"PR_{number}",
        "html_url": f"https://github.com/{repo}/pull/{number}", "diff_url": api,
        "patch_url": api, "issue_url": api, "commits_url": api, "review_comments_url": api,
        "review_comment_url": api, "comments_url": api, "statuses_url": api, "number": number,
        "state": "open", "locked": False, "title": title, "user": gh_user("tack-bot", 9),
        "body": body, "labels": [], "milestone": None, "created_at": TS, "updated_at": TS,
        "closed_at": None, "merged_at": None, "merge_commit_sha": None, "draft": draft,
        "head": _ref(repo, head, "a" * 40), "base": _ref(repo, base, "b" * 40),
        "_links": {k: link for k in ("self", "html", "issue", "comments", "review_comments",
                                     "review_comment", "commits", "statuses")},
        "author_association": "OWNER", "auto_merge": None, "merged": False, "mergeable": True,
        "mergeable_state": "clean", "merged_by": None, "comments": 0, "review_comments": 0,
        "maintainer_can_modify": True, "commits": 1, "additions": 1, "deletions": 0,
        "changed_files": 1, "assignee": None, "requested_reviewers": [], "requested_teams": [],
    }


def gh_review(repo: str, pr: int, rid: int, login: str, state: str, body: str) -> dict[str, Any]:
    api = f"https://api.github.com/repos/{repo}/pulls/{pr}"
    return {"id": rid, "node_id": f"R_{rid}", "user": gh_user(login, rid), "body": body,
            "state": state, "html_url": api, "pull_request_url": api,
            "_links": {"html": {"href": api}, "pull_request": {"href": api}},
            "submitted_at": TS, "commit_id": "a" * 40, "author_association": "MEMBER"}


def gh_review_comment(repo: str, pr: int, cid: int, login: str, body: str, path: str,
                      line: int) -> dict[str, Any]:
    api = f"https://api.github.com/repos/{repo}/pulls/comments/{cid}"
    return {"url": api, "pull_request_review_id": 1, "id": cid, "node_id": f"RC_{cid}",
            "diff_hunk": "@@ -1 +1 @@", "path": path, "commit_id": "a" * 40,
            "original_commit_id": "a" * 40, "user": gh_user(login, cid), "body": body,
            "created_at": TS, "updated_at": TS, "html_url": api, "pull_request_url": api,
            "author_association": "MEMBER", "line": line, "original_line": line, "side": "RIGHT",
            "_links": {"self": {"href": api}, "html": {"href": api},
                       "pull_request": {"href": api}}}


def gh_comment(repo: str, cid: int, login: str, body: str) -> dict[str, Any]:
    api = f"https://api.github.com/repos/{repo}/issues/comments/{cid}"
    return {"id": cid, "node_id": f"IC_{cid}", "url": api, "html_url": api, "body": body,
            "user": gh_user(login, cid), "created_at": TS, "updated_at": TS,
            "issue_url": api, "author_association": "MEMBER"}


def gh_reaction(rid: int, login: str, content: str) -> dict[str, Any]:
    return {"id": rid, "node_id": f"RE_{rid}", "user": gh_user(login, rid), "content": content,
            "created_at": TS}


@dataclass
class Fault:
    path_prefix: str
    status: int
    count: int
    headers: dict[str, str] = field(default_factory=dict)
    body: Any = None


class FakeApis:
    url: str = ""

    """Holds the fake providers' data; tests mutate it and read `hits`."""

    def __init__(self, token: str = "test-token-123456") -> None:
        self.token = token
        self.gh_issues: dict[int, dict[str, Any]] = {}
        self.gh_comments: dict[int, list[dict[str, Any]]] = {}
        self.gh_pulls: dict[int, dict[str, Any]] = {}
        self.gh_reviews: dict[int, list[dict[str, Any]]] = {}
        self.gh_review_comments: dict[int, list[dict[str, Any]]] = {}
        self.gh_reactions: dict[str, list[dict[str, Any]]] = {}
        self.linear_issues: list[dict[str, Any]] = []
        self.linear_states = [{"id": "s1", "name": "Todo"}, {"id": "s2", "name": "In Progress"},
                              {"id": "s3", "name": "Human Review"}, {"id": "s4", "name": "Done"}]
        self.gl_issues: dict[int, dict[str, Any]] = {}
        self.gl_notes: dict[int, list[dict[str, Any]]] = {}
        # user id -> access level (10 guest ... 50 owner) of the project's members
        self.gl_members: dict[int, int] = {}
        self.jira_issues: list[dict[str, Any]] = []
        self.jira_comments: dict[str, list[dict[str, Any]]] = {}
        self.faults: list[Fault] = []
        self.board: Any = None  # a fake_project.FakeBoard behind /graphql when set
        self.hits: Counter[str] = Counter()
        self.status_counts: Counter[int] = Counter()
        self.requests: list[tuple[str, str, dict[str, Any] | None]] = []
        self.hit_times: list[float] = []
        # (monotonic time, "METHOD path", injected status or 0 when served normally)
        self.hit_log: list[tuple[float, str, int]] = []
        self.auth_headers: set[str] = set()
        # GitHub App: the public key the app JWTs must verify with, the claims of every
        # token request, and the installation tokens handed out (token -> installation id).
        self.app_public_key: Any = None
        self.app_token_requests: list[dict[str, Any]] = []
        self.installation_tokens: dict[str, int] = {}
        self.lock = threading.Lock()

    def fail(self, path_prefix: str, status: int, count: int = 1, *,
             headers: dict[str, str] | None = None, body: Any = None) -> None:
        with self.lock:
            self.faults.append(Fault(path_prefix, status, count, headers or {}, body))

    def recover(self) -> None:
        """End every injected fault: the API answers normally from the next request on."""
        with self.lock:
            self.faults.clear()

    # -------------------------------------------------------------- plumbing
    def app(self) -> Starlette:
        routes = [
            Route("/repos/{owner}/{repo}/issues", self.gh_list_issues, methods=["GET"]),
            Route("/repos/{owner}/{repo}/issues/{n:int}", self.gh_issue,
                  methods=["GET", "PATCH"]),
            Route("/repos/{owner}/{repo}/issues/{n:int}/comments", self.gh_issue_comments,
                  methods=["GET", "POST"]),
            Route("/repos/{owner}/{repo}/issues/{n:int}/reactions", self.gh_pr_reactions),
            Route("/repos/{owner}/{repo}/issues/comments/{cid:int}/reactions",
                  self.gh_comment_reactions),
            Route("/repos/{owner}/{repo}/pulls/comments/{cid:int}/reactions",
                  self.gh_rc_reactions),
            Route("/repos/{owner}/{repo}/pulls", self.gh_pulls_route, methods=["GET", "POST"]),
            Route("/repos/{owner}/{repo}/pulls/{n:int}", self.gh_pull_route,
                  methods=["GET", "PATCH"]),
            Route("/repos/{owner}/{repo}/pulls/{n:int}/reviews", self.gh_reviews_route),
            Route("/repos/{owner}/{repo}/pulls/{n:int}/reviews", self.gh_create_review,
                  methods=["POST"]),
            Route("/repos/{owner}/{repo}/pulls/{n:int}/comments", self.gh_rcs_route),
            Route("/repos/{owner}/{repo}", self.gh_repo),
            Route("/app/installations/{iid:int}/access_tokens", self.gh_installation_token,
                  methods=["POST"]),
            Route("/graphql", self.linear, methods=["POST"]),
            Route("/api/v4/projects/{pid:path}/issues", self.gl_list, methods=["GET"]),
            Route("/api/v4/projects/{pid:path}/issues/{iid:int}", self.gl_issue,
                  methods=["GET", "PUT"]),
            Route("/api/v4/projects/{pid:path}/issues/{iid:int}/notes", self.gl_notes_route,
                  methods=["GET", "POST"]),
            Route("/api/v4/projects/{pid:path}/members/all/{uid:int}", self.gl_member),
            Route("/rest/api/3/search/jql", self.jira_search, methods=["POST"]),
            Route("/rest/api/3/issue/{key}/comment", self.jira_comment, methods=["GET", "POST"]),
            Route("/rest/api/3/issue/{key}/transitions", self.jira_transitions,
                  methods=["GET", "POST"]),
        ]
        app = Starlette(routes=routes)
        fake = self

        async def middleware(scope: Any, receive: Any, send: Any) -> None:
            if scope["type"] != "http":
                await app(scope, receive, send)
                return
            import time

            request = Request(scope, receive)
            path = scope["path"]
            auth = request.headers.get("authorization") or request.headers.get("private-token")
            with fake.lock:
                fake.hits[f"{scope['method']} {path}"] += 1
                fake.hit_times.append(time.monotonic())
                if auth:
                    fake.auth_headers.add(auth)
                fault = next((f for f in fake.faults if path.startswith(f.path_prefix)
                              and f.count > 0), None)
                if fault:
                    fault.count -= 1
                fake.hit_log.append((time.monotonic(), f"{scope['method']} {path}",
                                     fault.status if fault else 0))
            if fault is not None:
                fake.status_counts[fault.status] += 1
                body = json.dumps(fault.body if fault.body is not None else
                                  {"message": "injected"}).encode()
                resp = Response(body, status_code=fault.status, headers=fault.headers,
                                media_type="application/json")
                await resp(scope, receive, send)
                return
            await app(scope, receive, send)

        return middleware  # type: ignore[return-value]

    def _etag(self, request: Request, payload: Any, headers: dict[str, str] | None = None,
              ) -> Response:
        raw = json.dumps(payload).encode()
        etag = '"' + hashlib.sha1(raw).hexdigest() + '"'
        if request.headers.get("if-none-match") == etag:
            self.status_counts[304] += 1
            return Response(status_code=304, headers={"ETag": etag})
        self.status_counts[200] += 1
        return Response(raw, headers={"ETag": etag, **(headers or {})},
                        media_type="application/json")

    # ---------------------------------------------------------------- GitHub
    async def gh_installation_token(self, request: Request) -> Response:
        """POST /app/installations/{id}/access_tokens: only an RS256 JWT signed with the
        app's key is accepted (docs.github.com "Generating an installation access token")."""
        import jwt

        auth = request.headers.get("authorization", "")
        try:
            claims = jwt.decode(auth.removeprefix("Bearer "), self.app_public_key,
                                algorithms=["RS256"])
        except (jwt.InvalidTokenError, ValueError, TypeError):
            return JSONResponse({"message": "A JSON web token could not be decoded",
                                 "documentation_url": "https://docs.github.com/rest"},
                                status_code=401)
        iid = request.path_params["iid"]
        token = f"ghs_fake{iid}x{len(self.app_token_requests)}"
        with self.lock:
            self.app_token_requests.append({"installation_id": iid, **claims})
            self.installation_tokens[token] = iid
        return JSONResponse({"token": token, "expires_at": "2099-01-01T00:00:00Z",
                             "permissions": {"issues": "write", "contents": "write"},
                             "repository_selection": "selected"}, status_code=201)

    async def gh_list_issues(self, request: Request) -> Response:
        q = request.query_params
        state = q.get("state", "open")
        labels = {x for x in q.get("labels", "").split(",") if x}
        items = [i for i in sorted(self.gh_issues.values(), key=lambda x: x["number"])
                 if (state == "all" or i["state"] == state)
                 and labels <= {lab["name"] for lab in i["labels"]}]
        per_page, page = int(q.get("per_page", 30)), int(q.get("page", 1))
        chunk = items[(page - 1) * per_page : page * per_page]
        headers = {}
        if page * per_page < len(items):
            url = request.url.include_query_params(page=page + 1)
            headers["Link"] = f'<{url}>; rel="next"'
        return self._etag(request, chunk, headers)

    async def gh_issue(self, request: Request) -> Response:
        n = request.path_params["n"]
        if n in self.gh_pulls and n not in self.gh_issues:
            item = gh_issue("o/r", n, self.gh_pulls[n]["title"], pull_request=True)
            return JSONResponse(item)
        if n not in self.gh_issues:
            return JSONResponse({"message": "Not Found"}, status_code=404)
        issue = self.gh_issues[n]
        if request.method == "PATCH":
            data = await request.json()
            self.requests.append(("PATCH", request.url.path, data))
            if "labels" in data:
                issue["labels"] = [{"id": i, "node_id": f"L{i}", "url": "", "name": x,
                                    "color": "ededed", "default": False, "description": None}
                                   for i, x in enumerate(data["labels"])]
            if "state" in data:
                issue["state"] = data["state"]
                issue["state_reason"] = data.get("state_reason")
            return JSONResponse(issue)
        return self._etag(request, issue)

    async def gh_issue_comments(self, request: Request) -> Response:
        n = request.path_params["n"]
        if request.method == "POST":
            data = await request.json()
            comment = gh_comment("o/r", 900 + sum(map(len, self.gh_comments.values())), "tack-bot",
                                 data["body"])
            self.gh_comments.setdefault(n, []).append(comment)
            if n in self.gh_issues:
                self.gh_issues[n]["comments"] = len(self.gh_comments[n])
            return JSONResponse(comment, status_code=201)
        return JSONResponse(self.gh_comments.get(n, []))

    async def gh_repo(self, request: Request) -> Response:
        owner, name = request.path_params["owner"], request.path_params["repo"]
        return JSONResponse(gh_repo(f"{owner}/{name}"))

    async def gh_pulls_route(self, request: Request) -> Response:
        if request.method == "POST":
            data = await request.json()
            self.requests.append(("POST", request.url.path, data))
            number = 100 + len(self.gh_pulls)
            pr = gh_pull("o/r", number, data["head"], data["base"], data["title"],
                         data.get("body") or "", data.get("draft", False))
            self.gh_pulls[number] = pr
            return JSONResponse(pr, status_code=201)
        head = request.query_params.get("head")
        state = request.query_params.get("state", "open")
        found = [p for p in self.gh_pulls.values()
                 if p["state"] == state and (head is None or p["head"]["label"] == head)]
        return JSONResponse(found)

    async def gh_pull_route(self, request: Request) -> Response:
        pr = self.gh_pulls.get(request.path_params["n"])
        if pr is None:
            return JSONResponse({"message": "Not Found"}, status_code=404)
        if request.method == "PATCH":
            data = await request.json()
            self.requests.append(("PATCH", request.url.path, data))
            pr.update({k: v for k, v in data.items() if k in ("title", "body", "state")})
        return JSONResponse(pr)

    async def gh_reviews_route(self, request: Request) -> Response:
        return JSONResponse(self.gh_reviews.get(request.path_params["n"], []))

    async def gh_create_review(self, request: Request) -> Response:
        """pulls/create-review: a submitted review, its line comments listed with the PR's."""
        n = request.path_params["n"]
        if n not in self.gh_pulls:
            return JSONResponse({"message": "Not Found"}, status_code=404)
        data = await request.json()
        self.requests.append(("POST", request.url.path, data))
        states = {"COMMENT": "COMMENTED", "APPROVE": "APPROVED",
                  "REQUEST_CHANGES": "CHANGES_REQUESTED"}
        reviews = self.gh_reviews.setdefault(n, [])
        review = gh_review("o/r", n, 700 + len(reviews), "tack-bot",
                           states.get(data.get("event"), "PENDING"), data.get("body") or "")
        reviews.append(review)
        comments = self.gh_review_comments.setdefault(n, [])
        for c in data.get("comments") or []:
            comments.append(gh_review_comment("o/r", n, 800 + len(comments), "tack-bot",
                                              c["body"], c["path"], c["line"]))
        return JSONResponse(review)

    async def gh_rcs_route(self, request: Request) -> Response:
        return JSONResponse(self.gh_review_comments.get(request.path_params["n"], []))

    async def gh_pr_reactions(self, request: Request) -> Response:
        return JSONResponse(self.gh_reactions.get(f"issue:{request.path_params['n']}", []))

    async def gh_comment_reactions(self, request: Request) -> Response:
        return JSONResponse(self.gh_reactions.get(f"comment:{request.path_params['cid']}", []))

    async def gh_rc_reactions(self, request: Request) -> Response:
        return JSONResponse(self.gh_reactions.get(f"rc:{request.path_params['cid']}", []))

    # ---------------------------------------------------------------- Linear
    async def linear(self, request: Request) -> Response:
        if self.board is not None and "TackProject" in (await request.body()).decode():
            # GitHub's GraphQL shares the path; its token comes as a Bearer header.
            if request.headers.get("authorization") != f"Bearer {self.token}":
                return JSONResponse({"message": "Bad credentials"}, status_code=401)
            payload = await request.json()
            self.requests.append(("POST", "/graphql", payload))
            return JSONResponse(self.board.handle(payload["query"], payload["variables"]))
        if request.headers.get("authorization") != self.token:
            return JSONResponse({"errors": [{"message": "Authentication required",
                                             "extensions": {"code": "AUTHENTICATION_ERROR"}}]},
                                status_code=401)
        payload = await request.json()
        query, v = payload["query"], payload.get("variables") or {}
        self.requests.append(("POST", "/graphql", payload))
        if "TackIssuesByStates" in query:
            states = {s.lower() for s in v["states"]}
            items = [i for i in self.linear_issues if i["_project"] == v["projectSlug"]
                     and i["state"]["name"].lower() in states]
            start = int(v["after"]) if v.get("after") else 0
            chunk = items[start : start + v["first"]]
            more = start + v["first"] < len(items)
            nodes = [_linear_node(i, query, comments=False) for i in chunk]
            return JSONResponse({"data": {"issues": {"nodes": nodes, "pageInfo": {
                "hasNextPage": more, "endCursor": str(start + v["first"]) if more else None}}}})
        if "TackIssuesByIds" in query:
            nodes = [_linear_node(i, query, comments=True)
                     for i in self.linear_issues if i["id"] in v["ids"]][: v["first"]]
            return JSONResponse({"data": {"issues": {"nodes": nodes}}})
        rest = re.search(r"issue\(id: \$id\) \{ (labels|inverseRelations|comments)\(first: "
                         r"(\d+), after: \$after\)", query)
        if rest is not None:
            name, first = rest.group(1), int(rest.group(2))
            found = next(i for i in self.linear_issues if i["id"] == v["id"])
            return JSONResponse({"data": {"issue": {
                name: _linear_page(found[name]["nodes"], first, v.get("after"))}}})
        if "TackTeamStates" in query:
            found = next((i for i in self.linear_issues if i["id"] == v["id"]), None)
            issue = None if found is None else {"id": found["id"], "team": {
                "states": {"nodes": self.linear_states}}}
            return JSONResponse({"data": {"issue": issue}})
        if "TackMove" in query:
            issue = next(i for i in self.linear_issues if i["id"] == v["id"])
            issue["state"] = {"name": next(s["name"] for s in self.linear_states
                                           if s["id"] == v["stateId"])}
            return JSONResponse({"data": {"issueUpdate": {"success": True}}})
        if "TackComment" in query:
            issue = next(i for i in self.linear_issues if i["id"] == v["issueId"])
            issue["comments"]["nodes"].append({"body": v["body"], "createdAt": TS,
                                               "user": {"name": "Tack"}})
            return JSONResponse({"data": {"commentCreate": {"success": True}}})
        if "viewer" in query:
            return JSONResponse({"data": {"viewer": {"id": "u1", "name": "Tack Bot"}}})
        return JSONResponse({"errors": [{"message": "Cannot query field",
                                         "extensions": {"code": "GRAPHQL_VALIDATION_FAILED"}}]},
                            status_code=400)

    # ---------------------------------------------------------------- GitLab
    async def gl_list(self, request: Request) -> Response:
        q = request.query_params
        items = [i for _, i in sorted(self.gl_issues.items()) if i["state"] == q.get("state")]
        per_page, page = int(q.get("per_page", 20)), int(q.get("page", 1))
        chunk = items[(page - 1) * per_page : page * per_page]
        headers = {"X-Total": str(len(items))}
        if page * per_page < len(items):
            headers["Link"] = f'<{request.url.include_query_params(page=page + 1)}>; rel="next"'
            headers["X-Next-Page"] = str(page + 1)
        return self._etag(request, chunk, headers)

    async def gl_issue(self, request: Request) -> Response:
        issue = self.gl_issues.get(request.path_params["iid"])
        if issue is None:
            return JSONResponse({"message": "404 Not found"}, status_code=404)
        if request.method == "PUT":
            data = await request.json()
            issue["labels"] = [x for x in data.get("labels", "").split(",") if x]
            issue["state"] = {"close": "closed", "reopen": "opened"}.get(
                data.get("state_event"), issue["state"])
        return JSONResponse(issue)

    async def gl_member(self, request: Request) -> Response:
        uid = request.path_params["uid"]
        level = self.gl_members.get(uid)
        if level is None:
            return JSONResponse({"message": "404 Not found"}, status_code=404)
        return JSONResponse({"id": uid, "username": f"user{uid}", "name": f"User {uid}",
                             "state": "active", "access_level": level,
                             "membership_state": "active"})

    async def gl_notes_route(self, request: Request) -> Response:
        iid = request.path_params["iid"]
        if request.method == "POST":
            data = await request.json()
            note = {"id": 70 + len(self.gl_notes.get(iid, [])), "body": data["body"],
                    "author": {"username": "tack"}, "created_at": TS, "system": False}
            self.gl_notes.setdefault(iid, []).append(note)
            return JSONResponse(note, status_code=201)
        return JSONResponse(self.gl_notes.get(iid, []))

    # ------------------------------------------------------------------ Jira
    async def jira_search(self, request: Request) -> Response:
        body = await request.json()
        jql: str = body["jql"]
        items = self.jira_issues
        if "status in (" in jql:
            names = {x.strip().strip('"').lower()
                     for x in jql.split("status in (")[1].split(")")[0].split(",")}
            items = [i for i in items if i["fields"]["status"]["name"].lower() in names]
        if " id in (" in jql:
            ids = {x.strip().strip('"') for x in jql.split(" id in (")[1].split(")")[0].split(",")}
            items = [i for i in items if i["id"] in ids or i["key"] in ids]
        start = int(body.get("nextPageToken") or 0)
        size = body.get("maxResults", 50)
        chunk = items[start : start + size]
        last = start + size >= len(items)
        page: dict[str, Any] = {"issues": chunk, "isLast": last}
        if not last:
            page["nextPageToken"] = str(start + size)
        return JSONResponse(page)

    async def jira_comment(self, request: Request) -> Response:
        key = request.path_params["key"]
        issue = next((i for i in self.jira_issues if key in (i["id"], i["key"])), None)
        if issue is None:
            return JSONResponse({"errorMessages": ["Issue does not exist"]}, status_code=404)
        comments = self.jira_comments.setdefault(issue["id"], [])
        if request.method == "POST":
            data = await request.json()
            comments.append({"id": str(len(comments) + 1), "body": data["body"],
                             "author": {"displayName": "Tack"}, "created": TS})
            return JSONResponse(comments[-1], status_code=201)
        return JSONResponse({"comments": comments, "startAt": 0, "maxResults": 100,
                             "total": len(comments)})

    async def jira_transitions(self, request: Request) -> Response:
        key = request.path_params["key"]
        issue = next(i for i in self.jira_issues if key in (i["id"], i["key"]))
        transitions = [{"id": "11", "name": "Start", "to": {"name": "In Progress"}},
                       {"id": "31", "name": "Finish", "to": {"name": "Done"}}]
        if request.method == "POST":
            data = await request.json()
            target = next(t for t in transitions if t["id"] == data["transition"]["id"])
            issue["fields"]["status"] = {"name": target["to"]["name"]}
            return Response(status_code=204)
        return JSONResponse({"transitions": transitions})


def _linear_page(items: list[Any], first: int, after: str | None) -> dict[str, Any]:
    """One page of a Linear connection: `first` items after the opaque cursor `after`."""
    start = int(after) if after else 0
    more = start + first < len(items)
    return {"nodes": items[start : start + first],
            "pageInfo": {"hasNextPage": more, "endCursor": str(start + first) if more else None}}


def _linear_node(issue: dict[str, Any], query: str, *, comments: bool) -> dict[str, Any]:
    """An issue as Linear returns it for `query`: each nested connection cut to its `first:`
    (50, Linear's default, when the query gives none)."""
    node = {k: x for k, x in issue.items() if not k.startswith("_")
            and (comments or k != "comments")}
    for name in ("labels", "inverseRelations", "comments"):
        if name in node:
            bound = re.search(rf"\b{name}\(first: (\d+)\)", query)
            node[name] = _linear_page(node[name]["nodes"], int(bound.group(1)) if bound else 50,
                                      None)
    return node


class ServerThread:
    """uvicorn on 127.0.0.1:<free port> in a thread; `url` once started."""

    def __init__(self, app: Any, port: int = 0) -> None:
        # A fixed `port` restarts a stopped fake where clients expect it (outage tests).
        self.server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port,
                                                    log_level="warning", lifespan="off"))
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    def __enter__(self) -> Self:
        from tests.e2e.harness import wait_for

        self.thread.start()

        def started() -> bool:
            if not self.thread.is_alive():
                raise RuntimeError("fake API server did not start")
            return bool(self.server.started)

        wait_for(started, 20, "the fake API server to start")
        port = self.server.servers[0].sockets[0].getsockname()[1]
        self.url = f"http://127.0.0.1:{port}"
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=20)
