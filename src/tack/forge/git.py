"""Git for handoffs: push a branch to any remote (tokens travel in the environment, never in
argv or URLs) and describe the change (diff stat, commits) against its base.
"""

from __future__ import annotations

import asyncio
import base64
import os
import re
from pathlib import Path

from tack.errors import TackError

_GITHUB_URL = re.compile(r"github\.com[:/]([^/]+)/([^/]+?)(?:\.git)?/?$")


class PublishError(TackError):
    """A branch could not be pushed or a pull request could not be opened."""

    code = "publish_error"


async def git(workspace: Path, *args: str, env: dict[str, str] | None = None,
              check: bool = True) -> str:
    proc = await asyncio.create_subprocess_exec(
        "git", "-C", str(workspace), *args,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
        env={**os.environ, "GIT_TERMINAL_PROMPT": "0", **(env or {})},
    )
    out, err = await proc.communicate()
    if check and proc.returncode != 0:
        raise PublishError(
            f"`git {' '.join(args)}` failed in {workspace}: "
            f"{err.decode(errors='replace').strip()[:500]}"
        )
    return out.decode(errors="replace").strip()


def auth_env(token: str | None, remote_url: str) -> dict[str, str]:
    """An HTTPS remote gets the token as an extra header through GIT_CONFIG_* variables, so
    it never appears in a URL, a command line or git's own error messages."""
    if not token or not remote_url.startswith("https://"):
        return {}
    basic = base64.b64encode(f"x-access-token:{token}".encode()).decode()
    return {
        "GIT_CONFIG_COUNT": "1",
        "GIT_CONFIG_KEY_0": "http.extraHeader",
        "GIT_CONFIG_VALUE_0": f"Authorization: Basic {basic}",
    }


async def remote_url(workspace: Path, remote: str) -> str:
    url = await git(workspace, "remote", "get-url", remote, check=False)
    if not url:
        raise PublishError(
            f"The workspace {workspace} has no git remote named {remote!r}. Add it "
            f"(`git remote add {remote} <url>`) or set pull_requests.remote in WORKFLOW.md."
        )
    return url


def github_repo_from_url(url: str) -> str | None:
    match = _GITHUB_URL.search(url)
    return f"{match.group(1)}/{match.group(2)}" if match else None


async def push(workspace: Path, remote: str, branch: str, token: str | None) -> str:
    """Push `branch` to `remote`; returns the pushed commit. A rewritten branch (the agent
    rebased) replaces the remote one only if nobody else pushed to it meanwhile."""
    url = await remote_url(workspace, remote)
    head = await git(workspace, "rev-parse", "--verify", f"refs/heads/{branch}^{{commit}}")
    await git(workspace, "push", "--force-with-lease", "--porcelain", remote,
              f"refs/heads/{branch}:refs/heads/{branch}", env=auth_env(token, url))
    return head


async def base_ref(workspace: Path, remote: str, base: str) -> str | None:
    for ref in (f"refs/remotes/{remote}/{base}", f"refs/heads/{base}"):
        if await git(workspace, "rev-parse", "--verify", "--quiet", ref, check=False):
            return ref
    return None


async def describe(workspace: Path, remote: str, base: str, branch: str) -> tuple[str, list[str]]:
    """(`git diff --stat` against the merge base, one `sha subject` line per commit)."""
    ref = await base_ref(workspace, remote, base)
    if ref is None:
        return "", []
    stat = await git(workspace, "diff", "--stat", f"{ref}...refs/heads/{branch}", check=False)
    log = await git(workspace, "log", "--no-merges", "--format=%h %s",
                    f"{ref}..refs/heads/{branch}", check=False)
    return stat, [line for line in log.splitlines() if line.strip()]
