"""Issue trackers: the protocol, the normalized Issue, and `build_tracker` for a config."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from tack.errors import TrackerError
from tack.tracker.base import BlockerRef, Comment, Issue, Tracker, normalize_labels
from tack.workflow.config import TrackerConfig

SUPPORTED_KINDS = ("local", "github", "linear", "gitlab", "jira")

__all__ = [
    "BlockerRef",
    "Comment",
    "Issue",
    "Tracker",
    "build_tracker",
    "normalize_labels",
    "SUPPORTED_KINDS",
]


# Trackers plug-ins register (`register_trackers`), by `tracker.kind`.
PLUGGED_KINDS: dict[str, Callable[[TrackerConfig, Path], Tracker]] = {}


def build_tracker(config: TrackerConfig, *, tack_dir: Path) -> Tracker:
    """The adapter `tracker.kind` selects. `tack_dir` is the `.tack/` beside WORKFLOW.md."""
    kind = (config.kind or "").strip().lower()
    if kind == "local":
        from tack.tracker.local import LocalTracker

        return LocalTracker.from_config(config, tack_dir=tack_dir)
    # Hosted adapters import their HTTP stacks only when chosen.
    if kind == "github":
        from tack.tracker.github import GitHubTracker

        return GitHubTracker.from_config(config)
    if kind == "linear":
        from tack.tracker.linear import LinearTracker

        return LinearTracker.from_config(config)
    if kind == "gitlab":
        from tack.tracker.gitlab import GitLabTracker

        return GitLabTracker.from_config(config)
    if kind == "jira":
        from tack.tracker.jira import JiraTracker

        return JiraTracker.from_config(config)
    if kind in PLUGGED_KINDS:
        return PLUGGED_KINDS[kind](config, tack_dir)
    if not kind:
        raise TrackerError(
            "tracker.kind is not set in WORKFLOW.md. Add `tracker: {kind: local}` to use the "
            "built-in tracker (issues live in .tack/ beside WORKFLOW.md).",
            code="unsupported_tracker_kind",
        )
    raise TrackerError(
        f"tracker.kind {config.kind!r} is not supported by this Tack. Supported: "
        f"{', '.join([*SUPPORTED_KINDS, *PLUGGED_KINDS])}. Fix tracker.kind in WORKFLOW.md.",
        code="unsupported_tracker_kind",
    )
