"""Findings, their stable fingerprints, inline suppressions and the baseline file.

A fingerprint ignores line numbers (rule + path + normalized snippet + occurrence), so a
finding keeps its identity when code above it moves; the baseline and fix issues rely on it.
"""

from __future__ import annotations

import json
import re
from collections import Counter
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any

from tack.principles.document import PrinciplesError

SUPPRESSION_RULE = "TACK001"
_ALLOW = re.compile(
    r"tack:\s*allow(?P<file>-file)?\s+(?P<ids>[A-Za-z][\w-]*\d+(?:\s*,\s*[A-Za-z][\w-]*\d+)*)"
    r"(?:\s+because\b\s*(?P<reason>.*))?",
    re.IGNORECASE,
)
_COMMENT_END = re.compile(r"\s*(\*/|-->|#}|%})\s*$")


@dataclass(frozen=True)
class Finding:
    rule: str
    path: str
    line: int
    column: int
    end_line: int
    end_column: int
    message: str
    snippet: str
    severity: str
    kind: str
    title: str = ""
    runbook: str | None = None
    fingerprint: str = ""

    def to_dict(self) -> dict[str, Any]:
        # Every field is a plain value: a shallow copy is `asdict` without its deep copy,
        # which costed ~0.1 ms a finding (a cold stdlib scan reports thousands).
        return dict(self.__dict__)

    @property
    def cluster(self) -> str:
        """Identity of the fix issue this finding belongs to: one per rule and file."""
        return _digest(self.rule.upper(), self.path)[:12]


def _digest(*parts: str) -> str:
    from tack.principles.hashing import sha256

    return str(sha256("\0".join(parts).encode()).hexdigest())


def normalize_snippet(snippet: str) -> str:
    return " ".join(snippet.split())


def with_fingerprints(findings: list[Finding]) -> list[Finding]:
    """Give each finding its fingerprint; identical snippets are told apart by order."""
    seen: Counter[tuple[str, str, str]] = Counter()
    out = []
    for f in sorted(findings, key=lambda f: (f.path, f.line, f.column, f.rule)):
        key = (f.rule.upper(), f.path, normalize_snippet(f.snippet))
        seen[key] += 1
        out.append(replace(f, fingerprint=_digest(*key, str(seen[key]))[:16]))
    return out


@dataclass(frozen=True)
class Suppression:
    line: int
    ids: tuple[str, ...]
    reason: str
    whole_file: bool
    own_line: bool
    text: str


def find_suppressions(text: str) -> list[Suppression]:
    if "tack:" not in text.lower():
        return []  # one pass over the text instead of a search per line, for most files
    out = []
    for number, line in enumerate(text.splitlines(), 1):
        match = _ALLOW.search(line)
        if not match:
            continue
        reason = _COMMENT_END.sub("", match.group("reason") or "").strip()
        ids = tuple(i.strip().upper() for i in match.group("ids").split(","))
        own_line = not line[: match.start()].strip().rstrip("#/-*;<!{%").strip()
        out.append(Suppression(number, ids, reason, bool(match.group("file")), own_line,
                               line.strip()[:200]))
    return out


def suppression_dicts(text: str) -> list[dict[str, Any]]:
    return [asdict(s) for s in find_suppressions(text)]


def apply_suppressions(
    findings: list[Finding], suppressions: list[Suppression], path: str
) -> tuple[list[Finding], list[Finding]]:
    """Split into (kept, suppressed); a suppression without a reason suppresses nothing and
    is itself a finding."""
    kept: list[Finding] = []
    suppressed: list[Finding] = []
    valid = [s for s in suppressions if s.reason]
    for f in findings:
        rule = f.rule.upper()
        hit = any(
            rule in s.ids
            and (s.whole_file or f.line == s.line or (s.own_line and f.line == s.line + 1))
            for s in valid
        )
        (suppressed if hit else kept).append(f)
    for s in suppressions:
        if not s.reason:
            kept.append(Finding(
                rule=SUPPRESSION_RULE, path=path, line=s.line, column=1, end_line=s.line,
                end_column=1, snippet=s.text, severity="error", kind="suppression",
                title="A suppression states its reason",
                message=(f"suppression of {', '.join(s.ids)} has no reason, so it is ignored; "
                         f"write `tack: allow {s.ids[0]} because <why this case is fine>`"),
            ))
    return kept, suppressed


# --- baseline --------------------------------------------------------------------------------


def load_baseline(path: Path) -> set[str]:
    if not path.exists():
        return set()
    try:
        data = json.loads(path.read_text("utf-8"))
        return {str(item["fingerprint"]) for item in data["findings"]}
    except (ValueError, KeyError, TypeError) as exc:
        raise PrinciplesError(
            f"{path}: the baseline file is not valid ({exc}). Regenerate it with "
            "`tack scan --update-baseline`, or delete it."
        ) from None


def write_baseline(path: Path, findings: list[Finding]) -> None:
    items = [
        {"fingerprint": f.fingerprint, "rule": f.rule, "path": f.path,
         "snippet": normalize_snippet(f.snippet)}
        for f in sorted(findings, key=lambda f: (f.path, f.rule, f.fingerprint))
    ]
    path.parent.mkdir(parents=True, exist_ok=True)
    body = {"version": 1, "note": "Known findings `tack scan` does not report. "
            "Regenerate with `tack scan --update-baseline`.", "findings": items}
    path.write_text(json.dumps(body, indent=2) + "\n", "utf-8")
