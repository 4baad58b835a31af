"""`map`: the files of a repository and their signatures, ranked by how often other files
refer to the names they define (aider's repo-map idea), cut to a token budget."""

from __future__ import annotations

from collections import Counter, defaultdict

from tack.context.index import ContextIndex

CHARS_PER_TOKEN = 4


def rank_files(index: ContextIndex, repo: str) -> list[tuple[str, float]]:
    files = index.files(repo)
    defined: dict[str, set[str]] = defaultdict(set)
    for path, name, _kind, _line, _sig in index.symbols_of(repo):
        defined[path].add(name)
    uses: Counter[str] = Counter()
    per_file: dict[str, set[str]] = {}
    for path, _lang, _lines, identifiers in files:
        names = set(identifiers.split()) if identifiers else set()
        per_file[path] = names
        uses.update(names)
    scores = []
    for path, *_ in files:
        own = defined.get(path, set())
        # A name counts once per other file that uses it; a file's own uses do not count.
        score = sum(uses[n] - (n in per_file.get(path, set())) for n in own)
        scores.append((path, score + 0.01 * len(own)))
    scores.sort(key=lambda s: (-s[1], s[0]))
    return scores


def repo_map(index: ContextIndex, repo: str, budget_tokens: int = 1024) -> str:
    """Ranked `path:` blocks with `line: signature` lines, within `budget_tokens`."""
    signatures: dict[str, list[str]] = defaultdict(list)
    for path, _name, _kind, line, sig in index.symbols_of(repo):
        signatures[path].append(f"  {line}: {sig}")
    state = index.sources().get(repo)
    header = (f"# {repo} @ {state.commit[:12] if state else '?'}"
              f"{' (stale)' if state and state.stale(index.max_age_s) else ''}\n")
    budget = budget_tokens * CHARS_PER_TOKEN - len(header)
    out = [header]
    for path, _score in rank_files(index, repo):
        block = "\n".join([f"{path}:", *signatures.get(path, [])]) + "\n"
        if len(block) > budget:
            if budget > len(path) + 2:  # the file still fits without its signatures
                out.append(f"{path}: …\n")
                budget -= len(path) + 5
            continue
        out.append(block)
        budget -= len(block)
    return "".join(out)
