"""Corrective work: one tracker issue per violation cluster (a rule in a file).

The cluster's fingerprint lives in the issue description, so later scans find the issue
again instead of filing a duplicate, reopen it if the violation comes back, and close it
with a comment once the violation is gone.
"""

from __future__ import annotations

import re
import subprocess
from dataclasses import dataclass, field
from pathlib import Path

from tack.principles.document import PrinciplesDoc
from tack.principles.findings import Finding
from tack.principles.scanner import ScanResult
from tack.tracker.base import Issue
from tack.tracker.local import LocalTracker

SCAN_LABEL = "tack-scan"
_MARKER = re.compile(
    r"<!--\s*tack-scan\s+fingerprint=(?P<fp>[0-9a-f]+)\s+rule=(?P<rule>\S+)\s+path=(?P<path>.+?)\s*-->"
)


@dataclass
class FilingReport:
    filed: list[str] = field(default_factory=list)
    reopened: list[str] = field(default_factory=list)
    closed: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, list[str]]:
        return {"filed": self.filed, "reopened": self.reopened, "closed": self.closed,
                "unchanged": self.unchanged}

    def __str__(self) -> str:
        parts = [f"{name} {', '.join(ids)}" for name, ids in self.to_dict().items()
                 if ids and name != "unchanged"]
        kept = f"{len(self.unchanged)} already open" if self.unchanged else ""
        return "issues: " + ("; ".join([*parts, kept] if kept else parts) or "nothing to do")


def principle_label(rule: str) -> str:
    return f"principle:{rule.lower()}"


def _head(root: Path) -> str:
    proc = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=root,
                          capture_output=True, text=True, check=False)
    return proc.stdout.strip() if proc.returncode == 0 else "the working tree"


def describe(cluster: list[Finding], doc: PrinciplesDoc) -> str:
    first = cluster[0]
    p = doc.get(first.rule)
    lines = [f"`tack scan` found {len(cluster)} violation(s) of **{first.rule}: {first.title}** "
             f"in `{first.path}`.", ""]
    if p and p.why:
        lines += [f"Why it matters: {p.why}", ""]
    lines.append("Where:")
    lines += [f"- `{f.path}:{f.line}` {f.message}" + (f" — `{f.snippet}`" if f.snippet else "")
              for f in cluster]
    if p and p.runbook:
        lines += ["", f"Runbook: {p.runbook}"]
    lines += ["", f"Done when `tack scan --only {first.rule}` reports nothing for this file "
              f"(or a `tack: allow {first.rule} because <reason>` comment explains the case).",
              "", f"<!-- tack-scan fingerprint={first.cluster} rule={first.rule} "
              f"path={first.path} -->"]
    return "\n".join(lines)


def file_issues(
    tracker: LocalTracker,
    result: ScanResult,
    doc: PrinciplesDoc,
    root: Path,
    *,
    state: str = "Todo",
    closed_state: str | None = None,
) -> FilingReport:
    """File, reopen and close fix issues so the tracker mirrors `result`."""
    closed_state = closed_state or tracker.terminal_states[0]
    terminal = {s.lower() for s in tracker.terminal_states}
    clusters: dict[str, list[Finding]] = {}
    for f in result.findings:
        clusters.setdefault(f.cluster, []).append(f)
    existing: dict[str, tuple[Issue, str, str]] = {}
    for issue in tracker.list_issues():
        if SCAN_LABEL not in issue.labels:
            continue
        match = _MARKER.search(issue.description or "")
        if match:
            # The newest issue for a fingerprint wins (old duplicates stay as they are).
            existing[match.group("fp")] = (issue, match.group("rule"), match.group("path"))
    report = FilingReport()
    head = _head(root)
    for fp, cluster in clusters.items():
        first = cluster[0]
        if fp in existing:
            issue = existing[fp][0]
            if issue.state.lower() in terminal:
                tracker.comment_sync(issue.id, f"`tack scan` at {head} finds this violation "
                                     "again; reopening.", author="tack-scan")
                tracker.move_sync(issue.id, state)
                report.reopened.append(issue.identifier)
            else:
                report.unchanged.append(issue.identifier)
            continue
        issue = tracker.add_issue(
            f"{first.rule}: {first.title} ({first.path})",
            description=describe(cluster, doc),
            labels=(SCAN_LABEL, principle_label(first.rule)),
            state=state,
        )
        report.filed.append(issue.identifier)
    scanned = set(result.files)
    complete = set(result.rules) - set(result.skipped_rules)
    for fp, (issue, rule, path) in existing.items():
        if fp in clusters or issue.state.lower() in terminal:
            continue
        # Close only what this scan could see: a partial scan (--since, --only, a cost cap)
        # says nothing about files or rules it did not check.
        gone = not (root / path).exists()
        if rule.upper() not in complete or (path not in scanned and not gone):
            continue
        why = "the file is gone" if gone else "the violation is gone"
        tracker.comment_sync(issue.id, f"`tack scan` at {head}: {why}; closing.",
                             author="tack-scan")
        tracker.move_sync(issue.id, closed_state)
        report.closed.append(issue.identifier)
    return report
