"""Python tracebacks as pytest prints them (long, short and collection-error forms).

Keeps what an agent needs: the exception line, the `E` explanation lines and the frames
inside the repository; library frames are dropped.
"""

from __future__ import annotations

import re
import textwrap
from dataclasses import dataclass, field

from tack.feedback.model import Frame
from tack.feedback.paths import ParseContext

# `tests/test_x.py:18: in test_y`, `shop/cart.py:14: ValueError`, `tests/test_x.py:13: `
_FRAME = re.compile(r"^(?P<path>[^\s:][^:]*\.py):(?P<line>\d+):(?: (?P<rest>.*))?$")
_CPYTHON_FRAME = re.compile(r'^\s*File "(?P<path>[^"]+)", line (?P<line>\d+), in (?P<fn>\S+)')
_E_LINE = re.compile(r"^E(\s|$)")
_EXC = re.compile(r"^(?P<type>[A-Za-z_][\w.]*(?:Error|Exception|Exit|Interrupt|Warning|"
                  r"Failed|Skipped|Iteration|Operation|Syntax|Timeout))(?::\s?(?P<msg>.*))?$")
# pytest's `+  where Decimal('10') = Decimal('10')`: says nothing
_TAUTOLOGY = re.compile(r"^\s*\+\s+(?:where|and)\s+(?P<a>.+) = (?P=a)$")
_PYTEST_NOISE = ("Use -v to get more diff", "Use -v to get the full diff",
                 "Full diff:", "Omitting ", "Hint: make sure your test modules")


@dataclass
class Traceback:
    exception: str | None = None
    message: str = ""
    explanation: list[str] = field(default_factory=list)
    frames: list[Frame] = field(default_factory=list)


def parse_traceback(text: str, ctx: ParseContext) -> Traceback:
    tb = Traceback()
    e_lines: list[str] = []
    last_frame_exc: str | None = None
    for raw in text.splitlines():
        line = raw.rstrip()
        if _E_LINE.match(line):
            e_lines.append(line[1:])
            continue
        match = _FRAME.match(line) or _CPYTHON_FRAME.match(line)
        if match:
            path = match.group("path")
            rest = (match.groupdict().get("rest") or "").strip()
            fn = match.groupdict().get("fn") or (rest[3:] if rest.startswith("in ") else "")
            if rest and not rest.startswith("in ") and _EXC.match(rest):
                last_frame_exc = rest
            tb.frames.append(Frame(ctx.display(path), int(match.group("line")), fn,
                                   ctx.is_first_party(path)))
    explanation = textwrap.dedent("\n".join(e_lines)).splitlines()
    explanation = [x.rstrip() for x in explanation if x.strip()
                   and not x.strip().startswith(_PYTEST_NOISE) and not _TAUTOLOGY.match(x)]
    for i, line in enumerate(explanation):
        match = _EXC.match(line.strip())
        if match:
            tb.exception = match.group("type")
            tb.message = line.strip()
            rest = explanation[:i] + explanation[i + 1:]
            tb.explanation = textwrap.dedent("\n".join(rest)).splitlines()
            break
    else:
        tb.explanation = explanation
        if explanation:
            tb.message = explanation[0].strip()
            tb.explanation = textwrap.dedent("\n".join(explanation[1:])).splitlines()
    if tb.exception is None and last_frame_exc:
        tb.exception = last_frame_exc
        if tb.message and not tb.message.startswith(last_frame_exc):
            tb.message = f"{last_frame_exc}: {tb.message}"
    tb.frames = dedupe_frames(tb.frames)
    return tb


def dedupe_frames(frames: list[Frame]) -> list[Frame]:
    seen: set[tuple[str, int]] = set()
    out: list[Frame] = []
    for frame in frames:
        key = (frame.path, frame.line)
        if key not in seen:
            seen.add(key)
            out.append(frame)
    return out
