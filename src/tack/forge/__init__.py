"""Handoffs to code review: push a run's branch to the git remote, open or update the pull
request (GitHub) or merge request (GitLab) linked to the issue, and bring reviewers' feedback
back into the state db. `publish_handoff` and `sync_feedback` are the entry points.
"""

from __future__ import annotations

import os
import sqlite3
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Protocol

import structlog

from tack.forge import body as pr_body
from tack.forge.git import PublishError, describe, github_repo_from_url, push, remote_url
from tack.forge.github import GitHubForge, OpenedPullRequest, installation_token
from tack.store.feedback import FeedbackItem, FeedbackStore, PullRequestRecord
from tack.tracker.base import Issue
from tack.tracker.github import GitHubApp, github_app
from tack.tracker.http import resolve_secret
from tack.workflow.config import ServiceConfig

log = structlog.get_logger(__name__)

__all__ = ["Handoff", "PublishError", "SyncReport", "github_credentials", "publish_handoff",
           "sync_feedback"]

_DEFAULT_ENDPOINTS = {"github": "https://api.github.com", "gitlab": "https://gitlab.com"}
_TOKEN_ENV = {"github": "GITHUB_TOKEN", "gitlab": "GITLAB_TOKEN"}


class Forge(Protocol):
    kind: str
    repo: str

    async def default_branch(self) -> str: ...

    async def open_or_update(self, *, branch: str, base: str, title: str, body: str,
                             draft: bool) -> OpenedPullRequest: ...

    async def feedback(self, number: int) -> tuple[str, list[FeedbackItem]]: ...

    async def close(self) -> None: ...


@dataclass(frozen=True)
class Handoff:
    """What `publish_handoff` did. `number`/`url` are None when only the push happened."""

    published: bool
    branch: str
    remote: str
    commit: str | None = None
    forge: str | None = None
    repo: str | None = None
    number: int | None = None
    url: str | None = None
    created: bool = False
    reason: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class SyncReport:
    pull_requests: int
    new_items: int
    states: dict[str, str]
    # One line per PR that could not be read (`o/r#12: GitHub refused ...`); the others were.
    errors: tuple[str, ...] = ()
    # The PRs this sync found merged that were not recorded as merged before.
    merged: tuple[PullRequestRecord, ...] = ()


def _forge_settings(config: ServiceConfig, url: str) -> tuple[str, str | None, str | None, str]:
    """(forge kind, repo, token, endpoint): `pull_requests:` first, then the tracker when it is
    the same forge, then the remote URL and `$GITHUB_TOKEN`/`$GITLAB_TOKEN`."""
    prc, tracker = config.pull_requests, config.tracker
    provider = tracker.provider or {}
    kind = prc.forge or (tracker.kind if tracker.kind in ("github", "gitlab") else None)
    if kind is None:
        kind = "github" if github_repo_from_url(url) else "none"
    same = tracker.kind == kind
    repo = prc.repo or (provider.get("repo") if same and kind == "github" else None) or (
        provider.get("project") or tracker.project_slug if same and kind == "gitlab" else None)
    if repo is None and kind == "github":
        repo = github_repo_from_url(url)
    token = resolve_secret(prc.api_key)
    if token is None and same:
        token = resolve_secret(provider.get("token")) or resolve_secret(tracker.api_key)
    if token is None and _forge_app(config, kind) is not None:
        pass  # a GitHub App: `_resolve_token` mints an installation token
    elif token is None and kind in _TOKEN_ENV:
        token = os.environ.get(_TOKEN_ENV[kind]) or None
    endpoint = prc.endpoint or (
        (provider.get("endpoint") or tracker.endpoint) if same else None
    ) or _DEFAULT_ENDPOINTS.get(kind, "")
    return kind, repo, token, str(resolve_secret(endpoint) or endpoint)


def _forge_app(config: ServiceConfig, kind: str) -> GitHubApp | None:
    """`pull_requests.app`, else the GitHub tracker's `provider.app`."""
    if kind != "github":
        return None
    if config.pull_requests.app is not None:
        return github_app(config.pull_requests.app, "pull_requests.app", PublishError)
    provider = config.tracker.provider or {}
    if config.tracker.kind == "github" and provider.get("app") is not None:
        return github_app(provider["app"], "tracker.provider.app", PublishError)
    return None


async def _resolve_token(config: ServiceConfig, kind: str, token: str | None,
                         endpoint: str) -> str | None:
    app = None if token else _forge_app(config, kind)
    return token if app is None else await installation_token(app, endpoint)


async def github_credentials(config: ServiceConfig, repo: str) -> tuple[str, str | None, str]:
    """(repo, token, endpoint) for calls on `repo`'s pull requests, as a hand-off makes them
    (a GitHub App installation token included)."""
    prc = config.pull_requests.model_copy(update={"forge": "github", "repo": repo})
    settings = config.model_copy(update={"pull_requests": prc})
    _, found, token, endpoint = _forge_settings(settings, "")
    token = await _resolve_token(settings, "github", token, endpoint)
    return found or repo, token, endpoint


def _build_forge(kind: str, repo: str | None, token: str | None, endpoint: str) -> Forge:
    if not repo:
        raise PublishError(
            f"pull_requests.repo is not set and cannot be derived for forge {kind}. Add "
            "`pull_requests: {repo: owner/name}` to WORKFLOW.md."
        )
    if not token:
        env = _TOKEN_ENV[kind]
        raise PublishError(
            f"No token to open pull requests on {kind}: set pull_requests.api_key: ${env} in "
            f"WORKFLOW.md and export {env}."
        )
    if kind == "gitlab":
        from tack.forge.gitlab import GitLabForge

        return GitLabForge(repo, token, endpoint)
    return GitHubForge(repo, token, endpoint)


def _open_db(db: sqlite3.Connection | Path | str | None) -> FeedbackStore | None:
    return None if db is None else FeedbackStore(db)


async def publish_handoff(
    config: ServiceConfig,
    workspace: Path,
    branch: str,
    issue: Issue,
    summary: dict[str, Any],
    *,
    db: sqlite3.Connection | Path | str | None = None,
) -> Handoff:
    """Push `branch` from `workspace` and open or update its PR, linked to `issue`.

    `summary` (all keys optional): run_id, message, checks [{name, status, summary}],
    tokens {input, output, total}, turns. With `db` (the state db connection or path) the PR
    is recorded so `sync_feedback` can collect its reviews. Raises PublishError.
    """
    prc = config.pull_requests
    if prc.publish != "tack":
        return Handoff(False, branch, prc.remote, reason=f"pull_requests.publish is {prc.publish}")
    workspace = Path(workspace)
    url = await remote_url(workspace, prc.remote)
    kind, repo, token, endpoint = _forge_settings(config, url)
    token = await _resolve_token(config, kind, token, endpoint)
    commit = await push(workspace, prc.remote, branch, token)
    log.info("forge.pushed", branch=branch, remote=prc.remote, commit=commit[:12])
    if kind == "none":
        return Handoff(True, branch, prc.remote, commit=commit, reason="pushed; no forge")
    forge = _build_forge(kind, repo, token, endpoint)
    try:
        base = prc.base or await forge.default_branch()
        stat, commits = await describe(workspace, prc.remote, base, branch)
        same_repo = config.tracker.kind == kind
        text = pr_body.render(issue, summary,
                              link=pr_body.issue_link(issue, config.tracker.kind or "", same_repo),
                              diff_stat=stat, commits=commits)
        opened = await forge.open_or_update(branch=branch, base=base, title=pr_body.title(issue),
                                            body=text, draft=prc.draft)
    finally:
        await forge.close()
    store = _open_db(db)
    if store is not None:
        run_id = summary.get("run_id")
        store.record_pull_request(PullRequestRecord(
            forge=kind, repo=forge.repo, number=opened.number, url=opened.url,
            run_id=int(run_id) if isinstance(run_id, int) else None, issue_id=issue.id,
            identifier=issue.identifier, branch=branch, base=base, head_sha=commit))
        if not isinstance(db, sqlite3.Connection):
            store.close()
    log.info("forge.pull_request", forge=kind, repo=forge.repo, number=opened.number,
             created=opened.created)
    return Handoff(True, branch, prc.remote, commit=commit, forge=kind, repo=forge.repo,
                   number=opened.number, url=opened.url, created=opened.created)


async def sync_feedback(config: ServiceConfig, db: sqlite3.Connection | Path | str,
                        *, include_closed: bool = False) -> SyncReport:
    """Read reviews, comments, reactions and outcomes of every recorded open PR into the
    `review_feedback` table. Idempotent: seen items are updated, never duplicated.

    Only GitHub PRs and GitLab MRs are visited (not the records Tack keeps for feedback given
    on runs and plans). A PR that cannot be read is reported in `errors` and tried again next
    time; the others are still read.
    """
    store = FeedbackStore(db)
    new = 0
    states: dict[str, str] = {}
    errors: list[str] = []
    merged: list[PullRequestRecord] = []
    prs = [pr for pr in store.pull_requests(open_only=not include_closed)
           if pr.forge in _TOKEN_ENV]
    forges: dict[tuple[str, str], Forge] = {}
    try:
        for pr in prs:
            try:
                forge = await _forge_for(config, pr, forges)
                state, items = await forge.feedback(pr.number)
            except PublishError as exc:
                errors.append(f"{pr.repo}#{pr.number}: {exc.message}")
                continue
            new += store.record(pr, items)
            store.set_state(pr, state)
            states[f"{pr.repo}#{pr.number}"] = state
            if state == "merged" and pr.state != "merged":
                merged.append(pr)
    finally:
        for forge in forges.values():
            await forge.close()
        if not isinstance(db, sqlite3.Connection):
            store.close()
    return SyncReport(pull_requests=len(prs), new_items=new, states=states,
                      errors=tuple(errors), merged=tuple(merged))


async def _forge_for(config: ServiceConfig, pr: PullRequestRecord,
                     forges: dict[tuple[str, str], Forge]) -> Forge:
    key = (pr.forge, pr.repo)
    if key not in forges:
        scoped = config.model_copy(update={"pull_requests": config.pull_requests.model_copy(
            update={"forge": pr.forge, "repo": pr.repo})})
        _, _, token, endpoint = _forge_settings(scoped, "")
        token = await _resolve_token(scoped, pr.forge, token, endpoint)
        forges[key] = _build_forge(pr.forge, pr.repo, token, endpoint)
    return forges[key]
