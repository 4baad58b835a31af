"""Turning review and tracker comments into principle drafts for PRINCIPLES.md.

Deterministic by default: the first sentence becomes the title, the rest the why, fenced
code the bad/good examples, and a call named in backticks next to "avoid"/"don't" becomes an
ast-grep pattern. With a model, the built-in agent's endpoint writes the draft instead.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tack.principles.document import PrinciplesError, parse_document
from tack.principles.rules import normalize_language

_FENCE_BLOCK = re.compile(r"```(?P<info>[^\n]*)\n(?P<code>.*?)```", re.DOTALL)
_LEAD = re.compile(r"^(?:nit|nitpick|suggestion|minor|note|question)\s*[:\-]\s*|^(?:please|"
                   r"we should|you should|i think|imo|maybe)\s+", re.IGNORECASE)
_NEGATIVE = re.compile(r"\b(?:don'?t|do not|avoid|never|no more|stop|instead of|not use)\b",
                       re.IGNORECASE)
_CALL = re.compile(r"`(?P<name>[A-Za-z_][\w.]*)\((?:[^`]*)\)?`")
_NOISE = re.compile(r"^\s*(?:lgtm|\+1|thanks?|thank you|ship it|approved?)\W*$", re.IGNORECASE)
MIN_COMMENT_CHARS = 20


@dataclass(frozen=True)
class CommentText:
    body: str
    source: str  # where it came from, for the draft's provenance line


def _sentences(text: str) -> list[str]:
    flat = " ".join(line.strip() for line in text.splitlines() if line.strip()
                    and not line.lstrip().startswith(">"))
    return [s.strip() for s in re.split(r"(?<=[.!?])\s+", flat) if s.strip()]


def _title(sentence: str) -> str:
    title = sentence
    for _ in range(3):
        title = _LEAD.sub("", title).strip()
    title = title.rstrip(".!?:; ")
    if len(title) > 72:
        title = title[:72].rsplit(" ", 1)[0] + "…"
    return title[:1].upper() + title[1:] if title else "Untitled principle"


def draft_from_comment(body: str, *, principle_id: str, source: str = "a review comment") -> str:
    """A PRINCIPLES.md section (markdown) drafted from one comment, without a model."""
    blocks = [(m.group("info").strip().lower(), m.group("code")) for m in
              _FENCE_BLOCK.finditer(body)]
    prose = _FENCE_BLOCK.sub(" ", body)
    sentences = _sentences(prose) or ["Follow the reviewer's request"]
    title = _title(sentences[0])
    quote = " ".join(prose.split())[:300]
    why = " ".join(sentences[1:]) or f"Raised in {source}: \u201c{quote}\u201d"
    language = next((normalize_language(i.split()[0]) for i, _ in blocks
                     if i and normalize_language(i.split()[0])), None) or "python"
    out = [f"## {principle_id}: {title}", "", f"Why: {why}", "",
           f"Source: drafted by `tack principles add` from {source}."]
    good_bad = []
    for n, (info, code) in enumerate(blocks[:2]):
        kind = "good" if info.startswith("suggestion") or n == 1 else "bad"
        good_bad.append((kind, code))
    for kind, code in good_bad:
        out += ["", f"```{language} {kind}", code.rstrip("\n"), "```"]
    call = _CALL.search(prose) if _NEGATIVE.search(prose) else None
    if call:
        out += ["", "```yaml check", "ast-grep:", f"  language: {language}",
                f"  pattern: '{call.group('name')}($$$ARGS)'", "```"]
    return "\n".join(out) + "\n"


def comments_from_github_export(path: Path) -> list[CommentText]:
    """Comments from a saved `GET /repos/{owner}/{repo}/issues/{n}/comments` response."""
    try:
        data = json.loads(path.read_text("utf-8"))
    except FileNotFoundError:
        raise PrinciplesError(f"{path}: no such file. Save the comments with `gh api "
                              "repos/OWNER/REPO/issues/N/comments > export.json`.") from None
    except ValueError as exc:
        raise PrinciplesError(f"{path}: not valid JSON ({exc}). Pass the raw API response.") \
            from None
    if isinstance(data, dict) and isinstance(data.get("comments"), list):
        data = data["comments"]
    if not isinstance(data, list):
        raise PrinciplesError(f"{path}: expected a JSON array of issue comments (GitHub's "
                              "`issues/N/comments` response), got a "
                              f"{type(data).__name__}.")
    out = []
    for n, item in enumerate(data):
        if not isinstance(item, dict) or not isinstance(item.get("body"), (str, type(None))):
            raise PrinciplesError(f"{path}: item [{n}] is not a comment object with a `body` "
                                  "string. Pass the raw API response.")
        user = item.get("user")
        if not isinstance(user, dict):
            user = {}
        where = item.get("html_url") or f"{path.name}[{n}]"
        out.append(CommentText(item.get("body") or "",
                               f"a comment by {user.get('login', 'someone')} ({where})"))
    return out


def useful(comments: list[CommentText]) -> list[CommentText]:
    """Drop acknowledgements and one-word replies; they are not principles."""
    return [c for c in comments
            if len(c.body.strip()) >= MIN_COMMENT_CHARS and not _NOISE.match(c.body)]


MODEL_PROMPT = """\
Turn this code review comment into one golden principle for the code base, in exactly this
Markdown format (nothing else):

## {pid}: <imperative rule, under 70 characters>

Why: <why it matters, 1-3 sentences>

Runbook: <how to fix a violation, 1-2 sentences>

```<language> bad
<short code that breaks the rule>
```

```<language> good
<the same code following the rule>
```

Add a ```yaml check block with `ast-grep: {{language: ..., pattern: ...}}` only if a code
pattern can find violations reliably.

Comment ({source}):
{body}
"""


def draft_with_model(body: str, *, principle_id: str, source: str, settings: Any) -> str:
    """Ask the judge/built-in endpoint to write the draft; it must parse as a principle."""
    from tack.principles.judge import Judge

    judge = Judge(settings)
    try:
        text, _ = judge.ask(MODEL_PROMPT.format(pid=principle_id, source=source, body=body))
    finally:
        judge.close()
    start = text.find("## ")
    section = text[start:].strip() + "\n" if start >= 0 else ""
    doc = parse_document(section, Path("<model draft>"))
    if len(doc.principles) != 1 or doc.problems:
        why = "; ".join(p.message for p in doc.problems) or "no `## ID: title` section"
        raise PrinciplesError(f"The model's draft is not a valid principle ({why}). Retry, or "
                              "draft without --model.")
    found = doc.principles[0].id
    return section.replace(f"## {found}", f"## {principle_id}", 1)
