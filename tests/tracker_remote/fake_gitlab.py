"""A loopback GitLab REST v4 for merge requests: project, merge requests (list, create,
update, get), notes and award emoji, with payloads shaped like GitLab's documented responses
(docs.gitlab.com/api/merge_requests, /api/notes, /api/emoji_reactions) and 429 injection.
"""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import quote, urlencode

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

TS = "2024-05-01T12:00:00.000Z"


def gl_user(username: str, uid: int = 1) -> dict[str, Any]:
    return {"id": uid, "username": username, "name": username.title(), "state": "active",
            "locked": False, "avatar_url": None, "web_url": f"https://gitlab.example/{username}"}


def gl_project(path: str, pid: int = 42) -> dict[str, Any]:
    namespace, name = path.rsplit("/", 1)
    return {
        "id": pid, "description": None, "name": name, "name_with_namespace": f"{namespace} / {name}",
        "path": name, "path_with_namespace": path, "created_at": TS, "default_branch": "main",
        "tag_list": [], "topics": [], "ssh_url_to_repo": f"git@gitlab.example:{path}.git",
        "http_url_to_repo": f"https://gitlab.example/{path}.git",
        "web_url": f"https://gitlab.example/{path}", "readme_url": None,
        "forks_count": 0, "avatar_url": None, "star_count": 0, "last_activity_at": TS,
        "namespace": {"id": 7, "name": namespace, "path": namespace, "kind": "group",
                      "full_path": namespace, "parent_id": None, "avatar_url": None,
                      "web_url": f"https://gitlab.example/groups/{namespace}"},
    }


def gl_merge_request(path: str, iid: int, source: str, target: str, title: str,
                     description: str, *, state: str = "opened") -> dict[str, Any]:
    web = f"https://gitlab.example/{path}/-/merge_requests/{iid}"
    return {
        "id": 9000 + iid, "iid": iid, "project_id": 42, "title": title,
        "description": description, "state": state, "created_at": TS, "updated_at": TS,
        "merged_by": None, "merge_user": None, "merged_at": None, "closed_by": None,
        "closed_at": None, "target_branch": target, "source_branch": source,
        "user_notes_count": 0, "upvotes": 0, "downvotes": 0, "author": gl_user("tack-bot", 9),
        "assignees": [], "assignee": None, "reviewers": [], "source_project_id": 42,
        "target_project_id": 42, "labels": [], "draft": title.startswith("Draft:"),
        "work_in_progress": title.startswith("Draft:"), "milestone": None,
        "merge_when_pipeline_succeeds": False, "merge_status": "can_be_merged",
        "detailed_merge_status": "mergeable", "sha": "a" * 40, "merge_commit_sha": None,
        "squash_commit_sha": None, "discussion_locked": None,
        "should_remove_source_branch": None, "force_remove_source_branch": True,
        "reference": f"!{iid}", "references": {"short": f"!{iid}", "relative": f"!{iid}",
                                               "full": f"{path}!{iid}"},
        "web_url": web, "time_stats": {"time_estimate": 0, "total_time_spent": 0,
                                       "human_time_estimate": None,
                                       "human_total_time_spent": None},
        "squash": False, "task_completion_status": {"count": 0, "completed_count": 0},
        "has_conflicts": False, "blocking_discussions_resolved": True,
    }


def gl_note(nid: int, username: str, body: str, *, system: bool = False,
            diff: tuple[str, int] | None = None, iid: int = 1) -> dict[str, Any]:
    note: dict[str, Any] = {
        "id": nid, "type": "DiffNote" if diff else None, "body": body, "attachment": None,
        "author": gl_user(username, nid), "created_at": TS, "updated_at": TS,
        "system": system, "noteable_id": 9000 + iid, "noteable_type": "MergeRequest",
        "noteable_iid": iid, "resolvable": diff is not None, "confidential": False,
        "internal": False,
    }
    if diff:
        note["position"] = {"base_sha": "b" * 40, "start_sha": "b" * 40, "head_sha": "a" * 40,
                            "old_path": diff[0], "new_path": diff[0], "position_type": "text",
                            "old_line": None, "new_line": diff[1], "line_range": None}
        note["resolved"] = False
    return note


def gl_award(aid: int, username: str, name: str, iid: int = 1,
             note: int | None = None) -> dict[str, Any]:
    return {"id": aid, "name": name, "user": gl_user(username, aid), "created_at": TS,
            "updated_at": TS, "awardable_id": note if note is not None else 9000 + iid,
            "awardable_type": "Note" if note is not None else "MergeRequest"}


class FakeGitLab:
    """One GitLab project's merge requests; tests mutate the dicts and read `requests`."""

    url: str = ""

    def __init__(self, project: str, token: str) -> None:
        self.project = project
        self.token = token
        self.mrs: dict[int, dict[str, Any]] = {}
        self.notes: dict[int, list[dict[str, Any]]] = {}
        self.awards: dict[int, list[dict[str, Any]]] = {}
        self.note_awards: dict[int, list[dict[str, Any]]] = {}  # by note id
        self.deleted_notes: set[int] = set()  # listed, but gone by the time they are read
        self.requests: list[tuple[str, str, Any]] = []
        self.rate_limited = 0  # answer this many next requests with 429 + Retry-After

    def app(self) -> Starlette:
        # Most specific first: `{pid:path}` would swallow the rest of the path.
        base = "/api/v4/projects/{pid:path}"
        return Starlette(routes=[
            Route(base + "/merge_requests/{iid:int}/notes/{nid:int}/award_emoji",
                  self.note_awards_route),
            Route(base + "/merge_requests/{iid:int}/notes", self.notes_route),
            Route(base + "/merge_requests/{iid:int}/award_emoji", self.awards_route),
            Route(base + "/merge_requests/{iid:int}", self.mr_route, methods=["GET", "PUT"]),
            Route(base + "/merge_requests", self.mrs_route, methods=["GET", "POST"]),
            Route(base, self.project_route),
        ])

    async def _check(self, request: Request) -> Response | None:
        body = await request.body()
        # The raw path, as sent: project ids are URL-encoded in it.
        raw = bytes(request.scope.get("raw_path") or request.url.path.encode()).decode()
        self.requests.append((request.method, raw, json.loads(body) if body else None))
        if self.rate_limited > 0:
            self.rate_limited -= 1
            return JSONResponse({"message": "429 Too Many Requests"}, status_code=429,
                                headers={"Retry-After": "0", "RateLimit-Remaining": "0"})
        if request.headers.get("private-token") != self.token:
            return JSONResponse({"message": "401 Unauthorized"}, status_code=401)
        # A path id must arrive URL-encoded (`group%2Fproject`), as GitLab documents.
        if quote(self.project, safe="").lower() not in raw.lower():
            return JSONResponse({"message": "404 Project Not Found"}, status_code=404)
        return None

    async def project_route(self, request: Request) -> Response:
        return await self._check(request) or JSONResponse(gl_project(self.project))

    async def mrs_route(self, request: Request) -> Response:
        if (denied := await self._check(request)) is not None:
            return denied
        if request.method == "POST":
            data = await request.json()
            if any(m["source_branch"] == data["source_branch"] and m["state"] == "opened"
                   for m in self.mrs.values()):
                message = "Another open merge request already exists for this source branch"
                return JSONResponse({"message": [message]}, status_code=409)
            iid = len(self.mrs) + 1
            self.mrs[iid] = gl_merge_request(self.project, iid, data["source_branch"],
                                             data["target_branch"], data["title"],
                                             data.get("description") or "")
            return JSONResponse(self.mrs[iid], status_code=201)
        q = request.query_params
        found = [m for m in self.mrs.values()
                 if m["source_branch"] == q.get("source_branch", m["source_branch"])
                 and q.get("state", "all") in ("all", m["state"])]
        return JSONResponse(found)

    async def mr_route(self, request: Request) -> Response:
        if (denied := await self._check(request)) is not None:
            return denied
        mr = self.mrs.get(request.path_params["iid"])
        if mr is None:
            return JSONResponse({"message": "404 Not found"}, status_code=404)
        if request.method == "PUT":
            data = await request.json()
            mr.update({k: v for k, v in data.items() if k in ("title", "description")})
        return JSONResponse(mr)

    async def notes_route(self, request: Request) -> Response:
        return await self._check(request) or _page(
            request, self.notes.get(request.path_params["iid"], []))

    async def awards_route(self, request: Request) -> Response:
        return await self._check(request) or _page(
            request, self.awards.get(request.path_params["iid"], []))

    async def note_awards_route(self, request: Request) -> Response:
        if request.path_params["nid"] in self.deleted_notes:
            return await self._check(request) or JSONResponse(
                {"message": "404 Not found"}, status_code=404)
        return await self._check(request) or _page(
            request, self.note_awards.get(request.path_params["nid"], []))


def _page(request: Request, items: list[dict[str, Any]]) -> Response:
    """Offset pagination as GitLab documents it: `page`/`per_page` (default 20, at most 100),
    `Link: <...>; rel="next"` and `X-Next-Page` while more remain."""
    q = request.query_params
    per_page = min(int(q.get("per_page", 20)), 100)
    page = int(q.get("page", 1))
    chunk = items[(page - 1) * per_page: page * per_page]
    headers = {"X-Page": str(page), "X-Per-Page": str(per_page), "X-Total": str(len(items))}
    if page * per_page < len(items):
        # From the raw path: starlette's `request.url` decodes `acme%2Fwidgets`.
        raw = bytes(request.scope.get("raw_path") or request.url.path.encode()).decode()
        query = urlencode({**q, "page": page + 1, "per_page": per_page})
        nxt = f"{request.url.scheme}://{request.url.netloc}{raw}?{query}"
        headers["Link"] = f'<{nxt}>; rel="next"'
        headers["X-Next-Page"] = str(page + 1)
    return JSONResponse(chunk, headers=headers)
