"""Pull requests on GitHub through githubkit: open or update the PR for a branch, and read
what people said on it (reviews, review comments, comments, reactions, merge/close).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, TypeVar, cast

import httpx
from githubkit import AppAuthStrategy, GitHub
from githubkit.cache import MemCacheStrategy
from githubkit.exception import GitHubException, RequestFailed

from tack.forge.git import PublishError
from tack.store.feedback import FeedbackItem, mark_own
from tack.tracker.github import GitHubApp
from tack.tracker.http import HttpStats, ResilientTransport, RetryPolicy

T = TypeVar("T")
_THUMBS = {"+1": 1, "-1": -1}
_REVIEW_SENTIMENT = {"APPROVED": 1, "CHANGES_REQUESTED": -1}


@dataclass(frozen=True)
class OpenedPullRequest:
    number: int
    url: str
    created: bool
    state: str = "open"


def _v(obj: Any, name: str, default: Any = None) -> Any:
    value = getattr(obj, name, default)
    return default if type(value).__name__ == "Unset" else value


def _login(obj: Any) -> str | None:
    user = _v(obj, "user")
    return _v(user, "login") if user else None


def _iso(value: Any) -> str | None:
    return value.isoformat() if hasattr(value, "isoformat") else (str(value) if value else None)


async def installation_token(app: GitHubApp, endpoint: str = "https://api.github.com",
                             policy: RetryPolicy | None = None) -> str:
    """A fresh installation access token (valid an hour) of a GitHub App: `git push` over
    HTTPS needs a token, not the app's JWT. One is minted per handoff."""
    transport = ResilientTransport(policy)
    gh = GitHub(AppAuthStrategy(app.app_id, app.private_key),
                base_url=endpoint.rstrip("/") + "/", async_transport=transport,
                http_cache=False, auto_retry=False, user_agent="tack", cache_strategy=MemCacheStrategy())
    try:
        response = await gh.rest.apps.async_create_installation_access_token(
            app.installation_id)
        return response.parsed_data.token
    except RequestFailed as exc:
        raise PublishError(
            f"GitHub refused an installation token for app {app.app_id}, installation "
            f"{app.installation_id} ({exc.response.status_code}). Check app_id, "
            "installation_id and that the private key is the app's current one."
        ) from exc
    except (GitHubException, httpx.HTTPError, ValueError) as exc:
        raise PublishError(
            f"Could not get an installation token for GitHub App {app.app_id} "
            f"({type(exc).__name__}); check the endpoint and the network."
        ) from exc
    finally:
        await transport.shutdown()


class GitHubForge:
    kind = "github"

    def __init__(self, repo: str, token: str, endpoint: str = "https://api.github.com",
                 policy: RetryPolicy | None = None) -> None:
        if repo.count("/") != 1:
            raise PublishError(f"pull_requests.repo {repo!r} is not `owner/name`.")
        self.repo = repo
        self.owner, self.name = repo.split("/")
        self.transport = ResilientTransport(policy)
        self.gh = GitHub(token, base_url=endpoint.rstrip("/") + "/",
                         async_transport=self.transport, http_cache=False, auto_retry=False,
                         user_agent="tack")

    @property
    def stats(self) -> HttpStats:
        return self.transport.stats

    async def _call(self, what: str, fn: Callable[[], Awaitable[T]]) -> T:
        try:
            return await fn()
        except RequestFailed as exc:
            body = exc.response.raw_response.text[:300]
            raise PublishError(
                f"GitHub refused to {what} in {self.repo} ({exc.response.status_code}: {body}). "
                "Check pull_requests.repo and that the token may write pull requests "
                "(fine-grained: Pull requests read/write, Contents read/write)."
            ) from exc
        except (GitHubException, httpx.HTTPError) as exc:
            raise PublishError(
                f"GitHub is unreachable while trying to {what} ({type(exc).__name__})."
            ) from exc
        except ValueError as exc:  # pydantic: the payload does not match GitHub's schema
            raise PublishError(
                f"GitHub answered with a payload that does not match its schema while trying "
                f"to {what}: {str(exc)[:300]}"
            ) from exc

    async def default_branch(self) -> str:
        async def raw() -> Any:
            # One field is needed; reading it raw keeps this working on GitHub Enterprise
            # versions whose repository payload lacks newer required fields.
            response = await self.gh.rest.repos.async_get(self.owner, self.name)
            return response.raw_response.json()

        repo = await self._call("read the repository", raw)
        return str(repo.get("default_branch") or "main")

    async def open_or_update(self, *, branch: str, base: str, title: str, body: str,
                             draft: bool) -> OpenedPullRequest:
        existing = await self._call("list pull requests", lambda: self.gh.rest.pulls.async_list(
            self.owner, self.name, state="open", head=f"{self.owner}:{branch}", per_page=10))
        found: list[Any] = cast("list[Any]", existing.parsed_data)
        if found:
            pr = found[0]
            number = pr.number
            updated = await self._call("update the pull request",
                                       lambda: self.gh.rest.pulls.async_update(
                                           self.owner, self.name, number,
                                           data={"title": title, "body": body}))
            return OpenedPullRequest(number, updated.parsed_data.html_url, created=False)
        created = await self._call("open a pull request", lambda: self.gh.rest.pulls.async_create(
            self.owner, self.name,
            data={"title": title, "head": branch, "base": base, "body": body, "draft": draft}))
        return OpenedPullRequest(created.parsed_data.number, created.parsed_data.html_url,
                                 created=True)

    async def _all(self, what: str, fetch: Callable[[int], Awaitable[Any]]) -> list[Any]:
        out: list[Any] = []
        page = 1
        while True:
            response = await self._call(what, lambda: fetch(page))
            out.extend(response.parsed_data)
            if "next" not in response.raw_response.links:
                return out
            page += 1

    async def feedback(self, number: int) -> tuple[str, list[FeedbackItem]]:
        """(state: open|merged|closed, every piece of feedback on PR `number`)."""
        o, r, rest = self.owner, self.name, self.gh.rest
        pr = (await self._call("read the pull request",
                               lambda: rest.pulls.async_get(o, r, number))).parsed_data
        items: list[FeedbackItem] = []
        for review in await self._all("read reviews", lambda p: rest.pulls.async_list_reviews(
                o, r, number, per_page=100, page=p)):
            state = str(_v(review, "state", ""))
            if state == "PENDING":
                continue
            items.append(FeedbackItem(
                kind="review", external_id=str(review.id), author=_login(review),
                body=_v(review, "body") or None, state=state,
                sentiment=_REVIEW_SENTIMENT.get(state, 0),
                created_at=_iso(_v(review, "submitted_at"))))
        review_comments = await self._all(
            "read review comments",
            lambda p: rest.pulls.async_list_review_comments(o, r, number, per_page=100, page=p))
        for c in review_comments:
            items.append(FeedbackItem(
                kind="review_comment", external_id=str(c.id), author=_login(c), body=c.body,
                path=c.path, line=_v(c, "line") or _v(c, "original_line"),
                target_id=str(_v(c, "in_reply_to_id")) if _v(c, "in_reply_to_id") else None,
                created_at=_iso(c.created_at)))
            items += await self._reactions(
                f"review_comment:{c.id}",
                # Called before the loop moves on, so `c` is still this comment.
                lambda p: rest.reactions.async_list_for_pull_request_review_comment(
                    o, r, c.id, per_page=100, page=p))
        comments = await self._all("read comments", lambda p: rest.issues.async_list_comments(
            o, r, number, per_page=100, page=p))
        for c in comments:
            items.append(FeedbackItem(kind="comment", external_id=str(c.id), author=_login(c),
                                      body=_v(c, "body"), created_at=_iso(c.created_at)))
            items += await self._reactions(
                f"comment:{c.id}",
                lambda p: rest.reactions.async_list_for_issue_comment(
                    o, r, c.id, per_page=100, page=p))
        items += await self._reactions(
            f"pull_request:{number}",
            lambda p: rest.reactions.async_list_for_issue(o, r, number, per_page=100, page=p))
        state = "merged" if _v(pr, "merged") or _v(pr, "merged_at") else str(pr.state)
        if state != "open":
            at = _v(pr, "merged_at") or _v(pr, "closed_at")
            items.append(FeedbackItem(
                kind="outcome", external_id=state, author=_login(_v(pr, "merged_by")) if
                _v(pr, "merged_by") else None, state=state,
                sentiment=1 if state == "merged" else -1, created_at=_iso(at)))
        return state, items

    async def _reactions(self, target: str,
                         fetch: Callable[[int], Awaitable[Any]]) -> list[FeedbackItem]:
        out = []
        for reaction in await self._all(f"read reactions on {target}", fetch):
            content = str(reaction.content)
            out.append(FeedbackItem(
                kind="reaction", external_id=str(reaction.id), author=_login(reaction),
                state=content, sentiment=_THUMBS.get(content, 0), target_id=target,
                created_at=_iso(reaction.created_at)))
        return out

    async def post_review(self, number: int, *, body: str, comments: list[dict[str, Any]],
                          commit_id: str | None = None) -> str | None:
        """Post one review (event COMMENT) on PR `number`, with line comments
        `[{path, line, body}]`; returns the review's URL.

        GitHub refuses the whole review (422) when a comment's line is not in the diff, so
        the review is then posted again with those comments folded into its body.
        """
        async def create(data: dict[str, Any]) -> Any:
            response = await self.gh.rest.pulls.async_create_review(
                self.owner, self.name, number, data=data)  # type: ignore[call-overload]
            return response.raw_response.json()

        # Marked as Tack's own, so the next feedback sync does not read them back as a
        # person's review (the token's account may be a person's).
        data: dict[str, Any] = {"event": "COMMENT", "body": mark_own(body, "review")}
        if commit_id:
            data["commit_id"] = commit_id
        lines = [{"path": c["path"], "line": c["line"], "side": "RIGHT",
                  "body": mark_own(c["body"], "review")} for c in comments]
        try:
            review = await self._call("post a review",
                                      lambda: create({**data, "comments": lines} if lines else data))
        except PublishError as exc:
            failed = exc.__cause__
            if not lines or not (isinstance(failed, RequestFailed)
                                 and failed.response.status_code == 422):
                raise
            folded = "\n".join(f"- `{c['path']}:{c['line']}`: {c['body']}" for c in comments)
            review = await self._call("post a review",
                                      lambda: create({**data, "body": mark_own(
                                          f"{body}\n\n{folded}", "review")}))
        return str(review.get("html_url") or "") or None

    async def close(self) -> None:
        await self.transport.shutdown()
