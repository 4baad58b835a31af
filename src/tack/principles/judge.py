"""Model-judged principles: ask a model a principle's question about files, in batches.

Talks to any OpenAI-compatible Chat Completions endpoint (the built-in agent's by default).
Verdicts are cached by (check key, file hash) like every other result; a per-scan token cap
stops the judging early and says so, rather than spending without bound.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from tack.agents.completion import CompletionError, complete
from tack.principles.cache import ScanCache
from tack.principles.document import Principle, PrinciplesError
from tack.principles.rules import applies

SYSTEM_PROMPT = """\
You review source files against one engineering principle of this code base. For every file
you are shown, decide whether it violates the principle. Answer with JSON only, no prose:
{"verdicts": [{"path": "<file path>", "violates": true, "line": <line number>,
"reason": "<one sentence>"}]}
Give one entry per file; for a file that complies use "violates": false.
"""
_JSON = re.compile(r"\{.*\}", re.DOTALL)


@dataclass(frozen=True)
class JudgeSettings:
    base_url: str
    model: str
    api_key: str | None = None
    max_tokens_per_scan: int = 200_000
    batch_files: int = 8
    max_file_chars: int = 20_000
    timeout_s: float = 120.0


@dataclass
class JudgeReport:
    requests: int = 0
    tokens: int = 0
    files_judged: int = 0
    files_not_judged: int = 0
    cap: int = 0
    stop_reason: str | None = None
    incomplete: set[str] = field(default_factory=set)
    errors: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {"requests": self.requests, "tokens": self.tokens, "cap": self.cap,
                "files_judged": self.files_judged, "files_not_judged": self.files_not_judged,
                "stop_reason": self.stop_reason, "incomplete": sorted(self.incomplete)}


def _numbered(text: str, limit: int) -> str:
    clipped = text[:limit]
    lines = clipped.splitlines()
    body = "\n".join(f"{n:>5} | {line}" for n, line in enumerate(lines, 1))
    if len(text) > limit:
        body += f"\n      | ... (file truncated after {limit} characters)"
    return body


def build_prompt(principle: Principle, files: list[tuple[str, str]], limit: int) -> str:
    check = principle.check
    question = check.question if check else principle.title
    parts = [f"Principle {principle.id}: {principle.title}"]
    if principle.why:
        parts.append(f"Why: {principle.why}")
    parts.append(f"Question: {question}")
    for rel, text in files:
        parts.append(f"=== FILE {rel} ===\n{_numbered(text, limit)}")
    return "\n\n".join(parts)


def parse_verdicts(text: str, paths: list[str]) -> dict[str, list[dict[str, Any]]]:
    """Violations per path from the model's JSON reply; paths without a verdict are absent."""
    match = _JSON.search(text or "")
    if not match:
        raise ValueError("the reply holds no JSON object")
    data = json.loads(match.group())
    verdicts = data.get("verdicts") if isinstance(data, dict) else None
    if not isinstance(verdicts, list):
        raise ValueError("the reply has no `verdicts` list")
    out: dict[str, list[dict[str, Any]]] = {}
    for v in verdicts:
        if not isinstance(v, dict) or v.get("path") not in paths:
            continue
        found = out.setdefault(str(v["path"]), [])
        if v.get("violates") is True:
            line = v.get("line")
            line = line if isinstance(line, int) and line > 0 else 1
            reason = str(v.get("reason") or "").strip() or None
            found.append({"line": line, "column": 1, "end_line": line, "end_column": 1,
                          "message": reason, "snippet": reason or ""})
    return out


class Judge:
    def __init__(self, settings: JudgeSettings, client: httpx.Client | None = None) -> None:
        self.settings = settings
        self.client = client or httpx.Client(timeout=settings.timeout_s)

    def close(self) -> None:
        self.client.close()

    def ask(self, prompt: str) -> tuple[str, int]:
        """One chat completion: (reply text, tokens used)."""
        s = self.settings
        try:
            done = complete(self.client, base_url=s.base_url, model=s.model, api_key=s.api_key,
                            system=SYSTEM_PROMPT, user=prompt, temperature=0)
        except CompletionError as exc:
            fix = ("principles.judge.base_url (or builtin.base_url) in WORKFLOW.md"
                   if exc.kind == "unreachable" else "the model name and the API key")
            raise PrinciplesError(f"The judge model at {s.base_url} {exc}. Check {fix}.") from None
        return done.text, done.total_tokens or (len(prompt) + len(done.text)) // 4

    def judge_files(
        self, root: Path, principles: list[Principle], digests: dict[str, str], cache: ScanCache
    ) -> JudgeReport:
        s = self.settings
        report = JudgeReport(cap=s.max_tokens_per_scan)
        sent = 0
        for index, p in enumerate(principles):
            check = p.check
            assert check is not None
            key = check.key
            pending = [rel for rel, digest in digests.items()
                       if applies(check, rel) and cache.get(digest, key) is None]
            for start in range(0, len(pending), s.batch_files):
                batch = pending[start : start + s.batch_files]
                texts = [(rel, (root / rel).read_text("utf-8", errors="replace")) for rel in batch]
                prompt = build_prompt(p, texts, s.max_file_chars)
                # What the model really charged per file so far beats a character count.
                estimate = max((len(prompt) + len(SYSTEM_PROMPT)) // 4,
                               report.tokens * len(batch) // max(1, sent))
                if report.tokens + estimate > s.max_tokens_per_scan:
                    left = len(pending) - start + sum(
                        1 for q in principles[index + 1 :] for rel in digests
                        if q.check and applies(q.check, rel))
                    report.files_not_judged += left
                    report.incomplete.update(q.id for q in principles[index:])
                    report.stop_reason = (
                        f"cost cap reached: {report.tokens} of {s.max_tokens_per_scan} tokens "
                        f"spent, the next request needs ~{estimate}; {left} file judgement(s) "
                        "left for the next scan (raise principles.judge.max_tokens_per_scan)")
                    return report
                text, tokens = self.ask(prompt)
                sent += len(batch)
                report.requests += 1
                report.tokens += tokens
                try:
                    verdicts = parse_verdicts(text, batch)
                except ValueError as exc:
                    report.errors.append(f"{p.id}: the model's reply could not be used ({exc}); "
                                         f"{len(batch)} file(s) not judged")
                    report.incomplete.add(p.id)
                    continue
                for rel in batch:
                    if rel in verdicts:
                        cache.put(digests[rel], key, verdicts[rel])
                        report.files_judged += 1
                    else:
                        report.errors.append(f"{p.id}: the model gave no verdict for {rel}")
                        report.incomplete.add(p.id)
        return report
