"""JUnit XML: pytest `--junitxml`, jest-junit, vitest, gotestsum `--junitfile`, nextest.

Every `<testcase>` with a `<failure>` or `<error>` child becomes a test finding; Python
tracebacks are boiled down, other runners' text keeps its message and frame lines.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET

from tack.feedback.model import Finding, Frame
from tack.feedback.parsers.python_tb import parse_traceback
from tack.feedback.paths import ParseContext

# `❯ label src/cart.js:12:43`, `at fn (src/x.ts:3:9)`, `foo_test.go:12: msg`,
# `panicked at src/lib.rs:10:5:`
_LOCATION = re.compile(r"(?P<path>[\w./@\-]+\.(?:js|jsx|ts|tsx|mjs|cjs|go|rs|py|rb|java|kt|cs))"
                       r":(?P<line>\d+)(?::(?P<col>\d+))?")
_MAX_DETAIL = 12


def parse_junit(text: str, ctx: ParseContext) -> tuple[list[Finding], int]:
    """Findings and the number of test cases seen."""
    start = text.find("<")
    root = ET.fromstring(text[start:].encode())
    pytest_style = root.get("name", "").startswith("pytest") or any(
        suite.get("name") == "pytest" for suite in root.iter("testsuite"))
    findings: list[Finding] = []
    total = 0
    for case in root.iter("testcase"):
        total += 1
        for tag in ("failure", "error"):
            for node in case.findall(tag):
                findings.append(_finding(case, node, tag, pytest_style, ctx))
    return findings, total


def _finding(case: ET.Element, node: ET.Element, tag: str, pytest_style: bool,
             ctx: ParseContext) -> Finding:
    body = node.text or ""
    message = (node.get("message") or "").strip()
    if pytest_style:
        return _pytest_finding(case, body, message, tag, ctx)
    classname, name = case.get("classname", ""), case.get("name", "")
    test_id = f"{classname}::{name}" if classname else name
    frames: list[Frame] = []
    detail: list[str] = []
    said: list[str] = []  # `cart_test.go:12: total = 0, want 90`: go's t.Errorf lines
    for line in body.strip().splitlines():
        match = _LOCATION.search(line)
        if line.startswith(("=== RUN", "--- FAIL", "=== PAUSE", "=== CONT")):
            continue
        if match and len(line.strip()) - len(match.group(0)) < 60:
            path = match.group("path")
            frames.append(Frame(ctx.display(path), int(match.group("line")), "",
                                ctx.is_first_party(path)))
            after = line[match.end():].lstrip(": ").strip()
            if after:
                said.append(f"{match.group(0)}: {after}")
        elif (line.strip() and not line.strip().endswith(message)
              and len(detail) < _MAX_DETAIL):
            detail.append(line.rstrip())
    if message in ("", "Failed") and said:
        message, detail = said[0].split(": ", 1)[1], said[1:] + detail
    if not message and detail:
        message = detail.pop(0).strip()
    kind = node.get("type")
    if kind and not message.startswith(kind):
        message = f"{kind}: {message}"
    own = [f for f in frames if f.first_party]
    where = own[-1] if own else None
    test_file = classname if _LOCATION.search(classname + ":1") else None
    return Finding(
        kind="test", tool="junit", message=message.split("\n", 1)[0],
        path=where.path if where else test_file, line=where.line if where else None,
        rule=kind, test_id=test_id, detail=detail, frames=own,
        severity="error",
    )


def _pytest_finding(case: ET.Element, body: str, message: str, tag: str,
                    ctx: ParseContext) -> Finding:
    tb = parse_traceback(body, ctx)
    test_id = pytest_test_id(case.get("classname", ""), case.get("name", ""), body, ctx)
    own = [f for f in tb.frames if f.first_party]
    test_file = test_id.split("::", 1)[0]
    in_test = [f for f in own if f.path == test_file]
    where = in_test[0] if in_test else (own[0] if own else None)
    phase = ""
    if tag == "error" and message.startswith("failed on setup"):
        phase = "error at setup: "
    elif tag == "error" and message.startswith("failed on teardown"):
        phase = "error at teardown: "
    text = tb.message or message.split("\n", 1)[0]
    if message == "collection failure":
        text = tb.message or body.strip().split("\n", 1)[0]
        phase = "collection error: "
    return Finding(
        kind="test", tool="pytest", message=phase + text,
        path=where.path if where else test_file, line=where.line if where else None,
        rule=tb.exception, test_id=test_id, detail=tb.explanation, frames=own,
    )


def pytest_test_id(classname: str, name: str, body: str, ctx: ParseContext) -> str:
    """pytest's node id from JUnit's dotted classname (`tests.test_x.TestY` + `test_z`)."""
    if not classname:  # collection errors: name is the dotted module
        parts = name.split(".")
        return "/".join(parts) + ".py"
    parts = classname.split(".")
    for cut in range(len(parts), 0, -1):
        candidate = "/".join(parts[:cut]) + ".py"
        if candidate in body or (ctx.root / candidate).is_file() or (ctx.cwd / candidate).is_file():
            return "::".join([candidate, *parts[cut:], name])
    # No evidence where the module ends: assume no test class.
    return "::".join(["/".join(parts) + ".py", name])


def looks_like_junit(text: str) -> bool:
    head = text.lstrip()[:400]
    return head.startswith("<") and ("<testsuite" in head or "<testsuites" in head)

