"""Reviewer findings onto the run's GitHub pull request: one review (event COMMENT), a line
comment for each finding that names its file and line, the others in the review's body.
"""

from __future__ import annotations

from typing import Any

from tack.forge import Handoff
from tack.forge.github import GitHubForge
from tack.review.reviewer import ReviewFinding
from tack.workflow.config import ServiceConfig


def review_text(findings: list[ReviewFinding]) -> tuple[str, list[dict[str, Any]]]:
    """(review body, line comments `[{path, line, body}]`) for `findings`."""
    located = [f for f in findings if f.path and f.line]
    loose = [f for f in findings if not (f.path and f.line)]
    lines = [f"Tack's reviewer agent: {len(findings)} finding(s) on this change."]
    lines += [f"- **{f.severity}**" + (f" `{f.path}`" if f.path else "") + f": {f.body}"
              for f in loose]
    comments = [{"path": f.path, "line": f.line, "body": f"**{f.severity}**: {f.body}"}
                for f in located]
    return "\n".join(lines), comments


async def post_findings(config: ServiceConfig, handoff: Handoff,
                        findings: list[ReviewFinding]) -> str | None:
    """Post `findings` as one review on the PR `handoff` opened; returns the review's URL.

    Nothing is posted (None) unless the hand-off opened a GitHub PR and there are findings.
    Raises PublishError when GitHub refuses.
    """
    if handoff.forge != "github" or handoff.number is None or not handoff.repo or not findings:
        return None
    from tack.forge import github_credentials

    repo, token, endpoint = await github_credentials(config, handoff.repo)
    forge = GitHubForge(repo, token or "", endpoint)
    try:
        body, comments = review_text(findings)
        return await forge.post_review(handoff.number, body=body, comments=comments,
                                       commit_id=handoff.commit)
    finally:
        await forge.close()
