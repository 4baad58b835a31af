"""Merge requests on GitLab over REST v4: open or update the MR for a branch, and read its
notes, award emoji (thumbs up/down) on the MR and on each note, and merge/close outcome.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

from tack.errors import TrackerError
from tack.forge.git import PublishError
from tack.forge.github import OpenedPullRequest
from tack.store.feedback import FeedbackItem
from tack.tracker.http import ApiClient, HttpStats, RetryPolicy

_THUMBS = {"thumbsup": 1, "thumbsdown": -1}


class GitLabForge:
    kind = "gitlab"

    def __init__(self, repo: str, token: str, endpoint: str = "https://gitlab.com",
                 policy: RetryPolicy | None = None) -> None:
        self.repo = repo
        self.base = f"/api/v4/projects/{quote(repo, safe='')}"
        self.api = ApiClient(provider="GitLab", base_url=endpoint.rstrip("/"),
                             headers={"PRIVATE-TOKEN": token}, policy=policy,
                             auth_hint="Export GITLAB_TOKEN with the `api` scope.")

    @property
    def stats(self) -> HttpStats:
        return self.api.stats

    async def _json(self, what: str, method: str, url: str, **kwargs: Any) -> Any:
        try:
            return await self.api.json(method, url, **kwargs)
        except TrackerError as exc:
            raise PublishError(f"GitLab could not {what} in {self.repo}: {exc.message}") from exc

    async def _all(self, what: str, url: str, *, missing_ok: bool = False) -> list[Any]:
        """Every page of a list endpoint (GitLab sends RFC 8288 `Link: rel="next"`)."""
        out: list[Any] = []
        try:
            async for page in self.api.pages(url, {"per_page": 100}, missing_ok=missing_ok):
                out += page
        except TrackerError as exc:
            raise PublishError(f"GitLab could not {what} in {self.repo}: {exc.message}") from exc
        return out

    def _awards(self, awards: list[Any], target: str) -> list[FeedbackItem]:
        return [FeedbackItem(
            kind="reaction", external_id=str(award["id"]),
            author=(award.get("user") or {}).get("username"), state=str(award.get("name")),
            sentiment=_THUMBS.get(str(award.get("name")), 0), target_id=target,
            created_at=award.get("created_at")) for award in awards]

    async def default_branch(self) -> str:
        project = await self._json("read the project", "GET", self.base)
        return str((project or {}).get("default_branch") or "main")

    async def open_or_update(self, *, branch: str, base: str, title: str, body: str,
                             draft: bool) -> OpenedPullRequest:
        found = await self._json("list merge requests", "GET", f"{self.base}/merge_requests",
                                 params={"source_branch": branch, "state": "opened"})
        if found:
            iid = found[0]["iid"]
            mr = await self._json("update the merge request", "PUT",
                                  f"{self.base}/merge_requests/{iid}",
                                  json={"title": title, "description": body})
            return OpenedPullRequest(int(iid), str(mr.get("web_url")), created=False)
        mr = await self._json("open a merge request", "POST", f"{self.base}/merge_requests",
                              json={"source_branch": branch, "target_branch": base,
                                    "title": ("Draft: " + title) if draft else title,
                                    "description": body, "remove_source_branch": True})
        return OpenedPullRequest(int(mr["iid"]), str(mr.get("web_url")), created=True)

    async def feedback(self, number: int) -> tuple[str, list[FeedbackItem]]:
        mr_path = f"{self.base}/merge_requests/{number}"
        mr = await self._json("read the merge request", "GET", mr_path)
        items: list[FeedbackItem] = []
        for note in await self._all("read notes", f"{mr_path}/notes?sort=asc"):
            if note.get("system"):
                continue
            position = note.get("position") or {}
            items.append(FeedbackItem(
                kind="review_comment" if note.get("type") == "DiffNote" else "comment",
                external_id=str(note["id"]), author=(note.get("author") or {}).get("username"),
                body=note.get("body"), path=position.get("new_path"),
                line=position.get("new_line"), created_at=note.get("created_at")))
            items += self._awards(await self._all(
                f"read award emoji on note {note['id']}",
                # A note deleted since the list was read has no award emoji, not an error.
                f"{mr_path}/notes/{note['id']}/award_emoji", missing_ok=True),
                f"note:{note['id']}")
        items += self._awards(await self._all("read award emoji", f"{mr_path}/award_emoji"),
                              f"merge_request:{number}")
        state = {"opened": "open", "merged": "merged", "closed": "closed"}.get(
            str(mr.get("state")), "open")
        if state != "open":
            items.append(FeedbackItem(kind="outcome", external_id=state, author=None,
                                      state=state, sentiment=1 if state == "merged" else -1,
                                      created_at=mr.get("merged_at") or mr.get("closed_at")))
        return state, items

    async def close(self) -> None:
        await self.api.aclose()
