"""Lexical similarity for merging lessons: TF-IDF weighted cosine over word tokens.

Offline and deterministic; good enough to see that two write-ups of the same mistake share
their distinctive words ("sleep", "deadline", "tests") while stop words count for little.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Sequence

_TOKEN = re.compile(r"[a-z0-9_]+")
_STOP = frozenset(
    ["a", "an", "and", "are", "as", "at", "be", "but", "by", "do", "does", "for", "from", "has", "have", "if", "in", "into", "is", "it", "its", "not", "of", "on", "or", "so", "than", "that", "the", "their", "then", "there", "these", "this", "to", "was", "were", "when", "which", "while", "will", "with", "you", "your", "should", "must", "use", "using", "used", "instead", "always", "never", "don", "t", "s"]
)


def tokens(text: str) -> list[str]:
    out = []
    for word in _TOKEN.findall(text.lower()):
        if word in _STOP or len(word) < 2:
            continue
        # A crude stem so "sleeps"/"sleeping"/"sleep" meet.
        for suffix in ("ing", "ed", "es", "s"):
            if len(word) > len(suffix) + 3 and word.endswith(suffix):
                word = word[: -len(suffix)]
                break
        out.append(word)
    return out


def _vector(words: list[str], idf: dict[str, float]) -> dict[str, float]:
    counts = Counter(words)
    return {w: (1 + math.log(n)) * idf.get(w, 1.0) for w, n in counts.items()}


def _cosine(a: dict[str, float], b: dict[str, float]) -> float:
    dot = sum(v * b.get(k, 0.0) for k, v in a.items())
    na = math.sqrt(sum(v * v for v in a.values()))
    nb = math.sqrt(sum(v * v for v in b.values()))
    return dot / (na * nb) if na and nb else 0.0


def similarities(query: str, documents: Sequence[str]) -> list[float]:
    """Cosine of `query` against each document, IDF taken over documents + query."""
    docs = [tokens(d) for d in documents]
    q = tokens(query)
    n = len(docs) + 1
    df: Counter[str] = Counter()
    for words in [*docs, q]:
        df.update(set(words))
    idf = {w: math.log((1 + n) / (1 + c)) + 1 for w, c in df.items()}
    qv = _vector(q, idf)
    return [_cosine(qv, _vector(d, idf)) for d in docs]


def best_match(query: str, documents: Sequence[str]) -> tuple[int, float] | None:
    """Index and score of the most similar document, or None when there are none."""
    scores = similarities(query, documents)
    if not scores:
        return None
    index = max(range(len(scores)), key=scores.__getitem__)
    return index, scores[index]
