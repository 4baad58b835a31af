"""Which principles an agent's prompt should carry: those relevant to the issue and its files.

A principle scores by the paths the issue touches (its check's `files` globs, its languages)
and by TF-IDF cosine similarity between the issue's text and the principle's own words.
"""

from __future__ import annotations

import math
import re
import subprocess
from collections import Counter
from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import structlog

from tack.principles.document import Principle, PrinciplesDoc, PrinciplesError, load_document
from tack.principles.rules import glob_match, language_of, normalize_language

if TYPE_CHECKING:
    from tack.tracker.base import Issue
    from tack.workflow.config import ServiceConfig

log = structlog.get_logger("tack.principles")

# Languages ast-grep does not parse but principles' examples and globs still name.
_DOC_LANGUAGES = {".md": "markdown", ".markdown": "markdown", ".rst": "rst", ".txt": "text",
                  ".toml": "toml", ".ini": "ini", ".cfg": "ini"}
_LANGUAGE_NAMES = {"md": "markdown", "markdown": "markdown", "rst": "rst", "toml": "toml",
                   "text": "text", "txt": "text", "ini": "ini"}
_PATH = re.compile(r"(?<![\w/.-])(?:[\w.-]+/)*[\w-]+\.[A-Za-z][\w]{0,9}(?![\w/])|"
                   r"(?<![\w/.-])(?:[\w.-]+/)+[\w.-]*")
_WORD = re.compile(r"[a-z][a-z0-9]+")
_STOP = frozenset((
    "the and for are but not you all any can had her was one our out has have its this that "
    "with from they will would there their what when which into than then them these those "
    "been were each other about more some only also such should could must does did just "
    "here where how why who use used using file files code make sure fix add new issue "
    "need like want don"
).split())
_BASES = ("origin/HEAD", "origin/main", "origin/master", "main", "master")
# A principle whose text shares this little with the issue is not worth a prompt line.
MIN_SIMILARITY = 0.08
_SEVERITY_RANK = {"error": 0, "warning": 1, "note": 2}


def _tokens(text: str) -> list[str]:
    words = []
    for raw in _WORD.findall(text.lower().replace("_", " ")):
        word = raw[:-1] if len(raw) > 4 and raw.endswith("s") and not raw.endswith("ss") else raw
        if len(word) > 2 and word not in _STOP:
            words.append(word)
    return words


def _principle_text(p: Principle) -> str:
    parts = [p.title, p.title, p.why, p.runbook or "", " ".join(p.tags)]
    parts += [e.code for e in p.examples]
    if p.check is not None:
        parts += [p.check.question or "", p.check.message or "", p.check.name or ""]
    return "\n".join(parts)


def _path_language(path: str) -> str | None:
    suffix = Path(path).suffix.lower()
    return language_of(path) or _DOC_LANGUAGES.get(suffix)


def _languages(p: Principle) -> set[str]:
    names = [p.check.language if p.check else None] + [e.language for e in p.examples]
    out = set()
    for name in names:
        if not name:
            continue
        lang = normalize_language(name) or _LANGUAGE_NAMES.get(name.strip().lower())
        if lang:
            out.add(lang)
    return out


def path_score(p: Principle, paths: Iterable[str]) -> float:
    """1 when a path falls under the check's `files` globs, 0.5 when only the language
    matches, 0.15 when the language matches but the globs point elsewhere, else 0."""
    check = p.check
    paths = [x for x in paths if not (check and any(glob_match(x, g) for g in check.exclude))]
    if not paths:
        return 0.0
    if check is not None and any(glob_match(x, g) for x in paths for g in check.files):
        return 1.0
    languages = _languages(p)
    if not languages or not any(_path_language(x) in languages for x in paths):
        return 0.0
    return 0.15 if check is not None and check.files else 0.5


class _TfIdf:
    def __init__(self, documents: list[list[str]]) -> None:
        df: Counter[str] = Counter()
        for doc in documents:
            df.update(set(doc))
        n = len(documents)
        self.idf = {w: math.log((1 + n) / (1 + c)) + 1.0 for w, c in df.items()}
        self.vectors = [self.vector(doc) for doc in documents]

    def vector(self, words: list[str]) -> dict[str, float]:
        counts = Counter(w for w in words if w in self.idf)
        vec = {w: (1 + math.log(c)) * self.idf[w] for w, c in counts.items()}
        norm = math.sqrt(sum(v * v for v in vec.values())) or 1.0
        return {w: v / norm for w, v in vec.items()}


def _cosine(a: dict[str, float], b: dict[str, float]) -> float:
    small, large = (a, b) if len(a) < len(b) else (b, a)
    return sum(v * large.get(w, 0.0) for w, v in small.items())


def relevant_principles(
    doc: PrinciplesDoc, *, issue_text: str, paths: list[str], limit: int = 5
) -> list[Principle]:
    """The principles most relevant to an issue (its text) and the files it touches, best
    first; principles matching neither the paths nor the text are left out."""
    principles = list(doc.principles)
    if not principles or limit <= 0:
        return []
    index = _TfIdf([_tokens(_principle_text(p)) for p in principles])
    query = index.vector(_tokens(issue_text))
    ranked = []
    for n, (p, vec) in enumerate(zip(principles, index.vectors, strict=True)):
        similarity = _cosine(query, vec)
        where = path_score(p, paths)
        if where == 0.0 and similarity < MIN_SIMILARITY:
            continue
        score = where + 2.0 * similarity
        ranked.append((-score, _SEVERITY_RANK.get(p.severity, 3), n, p))
    ranked.sort(key=lambda item: item[:3])
    return [item[3] for item in ranked[:limit]]


def prompt_view(principle: Principle) -> dict[str, Any]:
    """What a prompt template sees of a principle."""
    return {"id": principle.id, "title": principle.title, "why": principle.why,
            "runbook": principle.runbook}


def paths_in_text(text: str) -> list[str]:
    """File paths an issue mentions (`src/app/x.py`, `docs/`, `README.md`), in order."""
    out: dict[str, None] = {}
    for match in _PATH.finditer(text):
        raw = match.group().strip(",;:)'\"`")
        path = raw[2:] if raw.startswith("./") else raw.rstrip(".")
        known = _path_language(path) is not None or path.endswith("/")
        if known and not path.startswith(("http", "www.")) and "//" not in path:
            out[path] = None
    return list(out)


def _git(workspace: Path, *args: str) -> str | None:
    try:
        proc = subprocess.run(["git", *args], cwd=workspace, capture_output=True, text=True,
                              timeout=20, check=False)
    except (OSError, subprocess.TimeoutExpired):
        return None
    return proc.stdout if proc.returncode == 0 else None


def changed_paths(workspace: Path, base_ref: str | None = None) -> list[str]:
    """Files the workspace's branch changed since it left `base_ref` (or the first of
    origin/HEAD, origin/main, main... that exists), plus uncommitted ones."""
    names: dict[str, None] = {}
    for base in ([base_ref] if base_ref else []) + list(_BASES):
        if _git(workspace, "rev-parse", "--verify", "--quiet", f"{base}^{{commit}}") is None:
            continue
        diff = _git(workspace, "diff", "--name-only", f"{base}...HEAD")
        names.update(dict.fromkeys((diff or "").splitlines()))
        break
    status = _git(workspace, "status", "--porcelain", "--untracked-files=all") or ""
    for line in status.splitlines():
        if len(line) > 3:
            names[line[3:].split(" -> ")[-1].strip('"')] = None
    return [n for n in names if n]


def principles_for_prompt(
    config: ServiceConfig, repo_root: Path, workspace: Path | None, issue: Issue, limit: int
) -> list[dict[str, Any]]:
    """Prompt views of the principles relevant to `issue`; [] without a principles document.
    Never raises for a missing or broken document (a broken one is logged)."""
    if not config.principles.enabled:
        return []
    path = Path(config.principles.path).expanduser()
    path = path if path.is_absolute() else repo_root / path
    if not path.exists():
        return []
    try:
        doc = load_document(path)
    except PrinciplesError as exc:
        log.warning("principles_unreadable", path=str(path), error=str(exc))
        return []
    errors = [p for p in doc.problems if p.level == "error"]
    if errors:
        log.warning("principles_invalid", path=str(path), problem=str(errors[0]),
                    fix="run `tack principles lint`")
        return []
    text = f"{issue.title}\n{issue.description or ''}"
    paths = paths_in_text(text)
    if workspace is not None and workspace.is_dir():
        paths = list(dict.fromkeys(changed_paths(workspace, config.workspace.base_ref) + paths))
    chosen = relevant_principles(doc, issue_text=text, paths=paths, limit=limit)
    return [prompt_view(p) for p in chosen]
