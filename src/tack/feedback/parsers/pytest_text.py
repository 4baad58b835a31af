"""pytest's own terminal output, for when no JUnit XML was written.

Failure sections (`____ test_name ____`) carry the traceback; the short test summary
(`FAILED path::id - message`) carries the full test ids.
"""

from __future__ import annotations

import re

from tack.feedback.model import Finding
from tack.feedback.parsers.python_tb import parse_traceback
from tack.feedback.paths import ParseContext

_SECTION = re.compile(r"^={3,} (?P<title>[A-Z ]+?) ={3,}$")
_HEADER = re.compile(r"^_{3,} (?P<head>.+?) _{3,}$")
_SUMMARY = re.compile(r"^(?P<outcome>FAILED|ERROR) (?P<id>\S+?)(?:\s+-\s+(?P<msg>.*))?$")
_COUNTS = re.compile(r"(\d+) (passed|failed|error|errors|skipped|xfailed|xpassed)\b")


def looks_like_pytest(text: str) -> bool:
    return bool(re.search(r"^=+ (test session starts|FAILURES|ERRORS|short test summary info)"
                          r" =+$", text, re.MULTILINE)) or bool(
        re.search(r"^(FAILED|ERROR) \S+\.py(::\S+)?", text, re.MULTILINE))


def parse_pytest_text(text: str, ctx: ParseContext) -> tuple[list[Finding], int | None]:
    lines = text.splitlines()
    summary: list[tuple[str, str, str]] = []  # (outcome, id, message)
    sections: list[tuple[str, str, list[str]]] = []  # (section, head, body lines)
    current_section = ""
    for line in lines:
        sec = _SECTION.match(line)
        if sec:
            current_section = sec.group("title")
            continue
        head = _HEADER.match(line)
        if head and current_section in ("FAILURES", "ERRORS"):
            sections.append((current_section, head.group("head"), []))
            continue
        if current_section == "short test summary info":
            m = _SUMMARY.match(line)
            if m:
                summary.append((m.group("outcome"), m.group("id"), m.group("msg") or ""))
            continue
        if sections and current_section in ("FAILURES", "ERRORS"):
            sections[-1][2].append(line)
    if not summary:  # -rN or an old pytest: the ids are all we can find
        for line in lines:
            m = _SUMMARY.match(line)
            if m:
                summary.append((m.group("outcome"), m.group("id"), m.group("msg") or ""))

    findings: list[Finding] = []
    used: set[int] = set()
    for outcome, test_id, short_msg in summary:
        index = _matching_section(test_id, outcome, sections, used)
        body = sections[index][2] if index is not None else []
        if index is not None:
            used.add(index)
        tb = parse_traceback("\n".join(body), ctx)
        own = [f for f in tb.frames if f.first_party]
        test_file = test_id.split("::", 1)[0]
        in_test = [f for f in own if f.path == test_file]
        where = in_test[0] if in_test else (own[0] if own else None)
        message = tb.message or short_msg
        if outcome == "ERROR":
            header = sections[index][1] if index is not None else ""
            phase = "collection error" if "::" not in test_id else (
                "error at teardown" if "teardown" in header else "error at setup")
            message = f"{phase}: {message}"
        findings.append(Finding(
            kind="test", tool="pytest", message=message,
            path=where.path if where else test_file, line=where.line if where else None,
            rule=tb.exception, test_id=test_id, detail=tb.explanation, frames=own,
        ))
    return findings, _total(lines)


def _matching_section(test_id: str, outcome: str, sections: list[tuple[str, str, list[str]]],
                      used: set[int]) -> int | None:
    parts = test_id.split("::")
    short = ".".join(parts[1:]) if len(parts) > 1 else parts[0]
    for i, (section, head, _body) in enumerate(sections):
        if i in used:
            continue
        if head == short or head.endswith((" " + short, " " + test_id)):
            return i
    return None


def _total(lines: list[str]) -> int | None:
    for line in reversed(lines):
        if (" in " in line or "no tests ran" in line) and _COUNTS.search(line):
            return sum(int(n) for n, word in _COUNTS.findall(line)
                       if word not in ("xfailed", "xpassed")) or None
    return None
