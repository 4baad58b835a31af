"""Running one principle's check on one file: ast-grep rules and Python check functions.

Languages are ast-grep's; a file's language comes from its extension. Python checks are the
built-ins of `tack.principles.checks` plus any function registered under the entry-point
group `tack.principles` (name = check name), so a plug-in adds checks without touching Tack.
"""

from __future__ import annotations

import marshal
import os
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from functools import lru_cache
from typing import TYPE_CHECKING, Any, cast

from tack.principles.document import Check, PrinciplesError

if TYPE_CHECKING:
    from ast_grep_py import Config

ENTRY_POINT_GROUP = "tack.principles"

LANGUAGES: dict[str, tuple[str, ...]] = {
    "python": (".py", ".pyi"),
    "javascript": (".js", ".mjs", ".cjs", ".jsx"),
    "typescript": (".ts", ".mts", ".cts"),
    "tsx": (".tsx",),
    "go": (".go",),
    "rust": (".rs",),
    "java": (".java",),
    "kotlin": (".kt", ".kts"),
    "c": (".c", ".h"),
    "cpp": (".cc", ".cpp", ".cxx", ".hpp", ".hh", ".hxx"),
    "csharp": (".cs",),
    "ruby": (".rb",),
    "php": (".php",),
    "swift": (".swift",),
    "scala": (".scala",),
    "lua": (".lua",),
    "elixir": (".ex", ".exs"),
    "haskell": (".hs",),
    "bash": (".sh", ".bash"),
    "html": (".html", ".htm"),
    "css": (".css",),
    "yaml": (".yml", ".yaml"),
    "json": (".json",),
}
ALIASES = {
    "py": "python", "js": "javascript", "jsx": "javascript", "ts": "typescript",
    "golang": "go", "rs": "rust", "c++": "cpp", "cs": "csharp", "c#": "csharp", "sh": "bash",
    "shell": "bash", "yml": "yaml", "rb": "ruby", "kt": "kotlin",
}
_EXT_TO_LANGUAGE = {ext: lang for lang, exts in LANGUAGES.items() for ext in exts}


@dataclass(frozen=True)
class SourceFile:
    """What a check sees: the path relative to the repository root (posix), text, language."""

    path: str
    text: str
    language: str | None


@dataclass(frozen=True)
class Violation:
    """One place a check found; 1-based lines and columns."""

    line: int
    column: int = 1
    end_line: int | None = None
    end_column: int | None = None
    message: str | None = None
    snippet: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {"line": self.line, "column": self.column, "end_line": self.end_line or self.line,
                "end_column": self.end_column or self.column, "message": self.message,
                "snippet": self.snippet}


PythonCheck = Callable[[SourceFile, Mapping[str, Any]], Iterable[Violation]]


@lru_cache(maxsize=256)
def normalize_language(name: str | None) -> str | None:
    if not name:
        return None
    low = name.strip().lower()
    low = ALIASES.get(low, low)
    return low if low in LANGUAGES else None


@lru_cache(maxsize=65_536)
def language_of(path: str) -> str | None:
    return _EXT_TO_LANGUAGE.get(os.path.splitext(path)[1].lower())


@lru_cache(maxsize=512)
def _glob_regex(glob: str) -> re.Pattern[str]:
    out = []
    i = 0
    while i < len(glob):
        c = glob[i]
        if glob.startswith("**/", i):
            out.append("(?:.*/)?")
            i += 3
            continue
        if glob.startswith("**", i):
            out.append(".*")
            i += 2
            continue
        out.append("[^/]*" if c == "*" else "[^/]" if c == "?" else re.escape(c))
        i += 1
    return re.compile("".join(out) + r"\Z")


def glob_match(path: str, glob: str) -> bool:
    """`**` spans directories, `*` does not; a glob without `/` matches the file name."""
    glob = glob.strip().lstrip("./") if glob.startswith("./") else glob.strip()
    target = path if "/" in glob else path.rsplit("/", 1)[-1]
    if glob.endswith("/"):
        glob += "**"
    return _glob_regex(glob).match(target) is not None


def applies(check: Check, path: str) -> bool:
    """Whether `check` runs on the file at `path` (language, `files` and `exclude`)."""
    if check.kind == "ast-grep" and language_of(path) != normalize_language(check.language):
        return False
    if check.kind != "ast-grep" and not check.files and language_of(path) is None:
        return False  # without `files`, Python and model checks see source files only
    if check.files and not any(glob_match(path, g) for g in check.files):
        return False
    return not any(glob_match(path, g) for g in check.exclude)


def _first_line(text: str) -> str:
    return text.strip().splitlines()[0].strip() if text.strip() else ""


def clean_ast_grep_error(exc: Exception) -> str:
    """ast-grep's errors carry a Rust backtrace; keep the causes only, on one line, with the
    metavariables as the rule wrote them (ast-grep parses `$CMD` as `µCMD` in languages where
    `$` cannot start a name, and quotes it that way)."""
    lines = []
    for raw in str(exc).splitlines():
        if raw.strip().startswith("Stack backtrace"):
            break
        if raw.strip():
            lines.append(re.sub(r"^\d+:\s*", "", raw.strip()))
    return " ".join(lines).replace("µ", "$").rstrip(".")


# `$NAME`, `$$$NAME`, `$$$` and `$_`: a metavariable stands where a name could.
_METAVARIABLE = re.compile(r"\$\$?\$?[A-Z_][A-Z0-9_]*|\$\$\$")


def _patterns(node: Any) -> Iterable[str]:
    """Every pattern (or contextual pattern's context) anywhere in an ast-grep config."""
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "pattern" and isinstance(value, str):
                yield value
            elif key == "pattern" and isinstance(value, dict) and isinstance(
                    value.get("context"), str):
                yield value["context"]
            else:
                yield from _patterns(value)
    elif isinstance(node, list):
        for item in node:
            yield from _patterns(item)


def pattern_problem(check: Check, language: str) -> str | None:
    """A pattern that is not valid code in its language (`os.system($$$ARGS`): ast-grep
    accepts it and quietly matches nothing, so it is refused here, like `sg run` does."""
    from ast_grep_py import SgRoot

    for pattern in _patterns(check.config):
        code = _METAVARIABLE.sub("tack_metavariable", pattern)
        if SgRoot(code, language).root().find(kind="ERROR") is not None:
            return (f"the pattern `{pattern}` is not valid {language} code (it does not "
                    "parse), so it would match nothing")
    return None


def run_ast_grep(check: Check, root: Any) -> list[Violation]:
    """Matches of an ast-grep check on a parsed root node (`SgRoot(...).root()`)."""
    try:
        nodes = root.find_all(check.config)
    except Exception as exc:  # ast-grep raises bare Exception/RuntimeError for bad rules
        raise PrinciplesError(f"ast-grep rule is invalid: {clean_ast_grep_error(exc)}") from None
    return [_violation(node) for node in nodes]


def run_ast_grep_many(
    checks: list[Check], root: Any, text: str | None = None
) -> list[list[Violation] | Exception]:
    """Matches of several ast-grep checks on one parsed root, in one walk of the tree: their
    rules joined under `any`, each match then attributed to every rule it satisfies. Same
    results as `run_ast_grep` per check (the same nodes, in the same order), or the error of
    a check that cannot run. A cold scan runs ~20 rules per file, and one walk instead of 20
    is most of its matching time. Checks with constraints or utils (which `any` cannot
    carry) run on their own. With the file's `text`, a rule whose pattern names a word the
    file lacks is not run at all (it cannot match)."""
    plan = _plan(checks)
    out: list[list[Violation] | Exception] = [[] for _ in checks]
    if text is None:
        live: list[int] = list(range(len(checks)))
    else:
        present: dict[str, bool] = {}  # each word looked up once, and only while needed
        live = []
        for i, needs in enumerate(plan.words):
            for w in needs:
                there = present.get(w)
                if there is None:
                    there = present[w] = w in text
                if not there:
                    break
            else:
                live.append(i)
    joinable = [i for i in live if i in plan.joinable]
    alone = [i for i in live if i not in plan.joinable or len(joinable) < 2]
    if len(joinable) >= 2:
        rules = [plan.rules[i] for i in joinable]
        try:
            nodes = root.find_all({"rule": {"any": rules}})
        except Exception:  # an invalid rule: run each alone so only that one reports it
            alone = list(live)
        else:
            by_kind: dict[str, list[int]] = {}
            for node in nodes:
                kind, node_text = node.kind(), node.text()
                fits = by_kind.get(kind)
                if fits is None:
                    fits = by_kind[kind] = [i for i in joinable if _kind_fits(plan.kinds[i], kind)]
                # The rules this node may satisfy: of a kind that fits, and (a pattern's
                # words are its own tokens) with every word of the pattern in the node's text.
                maybe = [i for i in fits if all(w in node_text for w in plan.words[i])]
                # The node matched at least one rule, so when only one may, it is that one;
                # otherwise ask each (`matches` recompiles the rule, ~15-50 us a call), but
                # not the last one when none before it matched.
                hits = maybe if len(maybe) == 1 else []
                if len(maybe) > 1:
                    last = len(maybe) - 1
                    for n, i in enumerate(maybe):
                        if (n == last and not hits) or node.matches(**plan.rules[i]):
                            hits.append(i)
                if hits:
                    violation = _violation(node, node_text)
                    for i in hits:
                        found = out[i]
                        assert isinstance(found, list)
                        found.append(violation)
    for i in alone:
        try:
            out[i] = run_ast_grep(checks[i], root)
        except Exception as exc:  # one broken rule must not hide the other results
            out[i] = exc
    return out


def _kind_fits(kinds: frozenset[str] | None, kind: str) -> bool:
    return kinds is None or kind in kinds


@dataclass(frozen=True)
class _Plan:
    """What `run_ast_grep_many` works out once per set of checks, not once per file."""

    rules: list[Any]  # each check's rule (None when it cannot join the `any`)
    joinable: frozenset[int]  # checks whose whole config is a rule, so `any` can carry it
    words: list[frozenset[str]]  # words any match of each check contains
    words_used: frozenset[str]
    kinds: list[frozenset[str] | None]  # node kinds each joinable rule can match (None: any)


def _plan(checks: list[Check]) -> _Plan:
    # By the checks' identities: a scan passes the same Check objects for every file, and
    # the entry keeps them alive, so an id is never another check's.
    key = tuple(map(id, checks))
    found = _PLANS.get(key)
    if found is None:
        found = _PLANS[key] = (tuple(checks), _make_plan(checks))
    return found[1]


_PLANS: dict[tuple[int, ...], tuple[tuple[Check, ...], _Plan]] = {}


def _make_plan(checks: list[Check]) -> _Plan:
    joinable = frozenset(i for i, c in enumerate(checks) if set(c.config) == {"rule"})
    rules = [c.config.get("rule") if i in joinable else None for i, c in enumerate(checks)]
    words = [frozenset(required_words(c)) for c in checks]
    language = next((normalize_language(checks[i].language) for i in sorted(joinable)),
                    None) or "python"
    kinds = [possible_kinds(_freeze(rules[i]), language) if i in joinable else None
             for i in range(len(checks))]
    return _Plan(rules, joinable, words, frozenset().union(*words), kinds)


_WORD = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_META = re.compile(r"\$+[A-Za-z0-9_]*")


def required_words(check: Check) -> tuple[str, ...]:
    """Words any match of the check's rule contains in its text: the names and keywords of
    its top-level pattern (and of patterns it requires under `all`), metavariables left out.
    A pattern matches node by node and leaf text by leaf text, so every such word is in the
    matched node's source. Nothing is promised for anything less plain (a pattern object,
    `strictness`, constraints), so those give no words."""
    cached = _REQUIRED.get(check.key)
    if cached is not None:
        return cached
    rule = check.config.get("rule")
    found: list[str] = []
    if isinstance(rule, dict) and set(check.config) == {"rule"} and "strictness" not in str(rule):
        patterns = [rule.get("pattern")]
        if isinstance(rule.get("all"), list):
            patterns += [sub.get("pattern") for sub in rule["all"] if isinstance(sub, dict)]
        for pattern in patterns:
            if isinstance(pattern, str):
                found += _WORD.findall(_META.sub(" ", pattern))
    words = tuple(dict.fromkeys(found))
    _REQUIRED[check.key] = words
    return words


_REQUIRED: dict[str, tuple[str, ...]] = {}


_ANY_KIND = None


def _freeze(value: Any) -> Any:
    """A hashable copy of a rule (for the cache of `possible_kinds`)."""
    if isinstance(value, dict):
        return tuple(sorted((k, _freeze(v)) for k, v in value.items()))
    if isinstance(value, list):
        return ("__list__", tuple(_freeze(v) for v in value))
    return value


def _thaw(value: Any) -> Any:
    if isinstance(value, tuple) and value[:1] == ("__list__",):
        return [_thaw(v) for v in value[1]]
    if isinstance(value, tuple):
        return {k: _thaw(v) for k, v in value}
    return value


@lru_cache(maxsize=1024)
def possible_kinds(frozen_rule: Any, language: str) -> frozenset[str] | None:
    """Node kinds a rule can match (None: any). Only `kind`, `pattern` and the `any`/`all`
    composites narrow it; a pattern's kind is that of the node it matches in its own text,
    which is how ast-grep itself anchors a pattern."""
    rule = _thaw(frozen_rule)
    found: frozenset[str] | None = None

    def narrow(kinds: frozenset[str] | None) -> None:
        nonlocal found
        if kinds is not None:
            found = kinds if found is None else found & kinds

    if isinstance(rule.get("kind"), str):
        narrow(frozenset([rule["kind"]]))
    pattern = rule.get("pattern")
    if isinstance(pattern, str):
        narrow(_pattern_kind(pattern, language))
    elif isinstance(pattern, dict) and isinstance(pattern.get("selector"), str):
        narrow(frozenset([pattern["selector"]]))
    if isinstance(rule.get("any"), list):
        subs = [possible_kinds(_freeze(r), language) for r in rule["any"]]
        if subs and all(k is not None for k in subs):
            narrow(frozenset().union(*[k for k in subs if k is not None]))
    if isinstance(rule.get("all"), list):
        for sub in rule["all"]:
            narrow(possible_kinds(_freeze(sub), language))
    return found


def _pattern_kind(pattern: str, language: str) -> frozenset[str] | None:
    from ast_grep_py import SgRoot

    try:
        node = SgRoot(pattern, language).root().find(pattern=pattern)
    except Exception:  # not a pattern ast-grep can anchor: do not narrow
        return _ANY_KIND
    return frozenset([node.kind()]) if node is not None else _ANY_KIND


def _violation(node: Any, text: str | None = None) -> Violation:
    r = node.range()
    return Violation(
        line=r.start.line + 1, column=r.start.column + 1,
        end_line=r.end.line + 1, end_column=r.end.column + 1,
        snippet=_first_line(node.text() if text is None else text)[:200],
    )


def ast_grep_problem(check: Check, samples: Iterable[str] = ("",)) -> str | None:
    """Why this ast-grep check cannot run (unknown language, invalid rule), or None."""
    from ast_grep_py import SgRoot

    language = normalize_language(check.language)
    if language is None:
        return (f"language {check.language!r} is not one ast-grep supports here "
                f"(known: {', '.join(sorted(LANGUAGES))})")
    for sample in samples:
        try:
            SgRoot(sample, language).root().find_all(cast("Config", check.config))
        except Exception as exc:  # invalid rule
            return clean_ast_grep_error(exc)
    return pattern_problem(check, language)


def count_matches(check: Check, code: str) -> int:
    from ast_grep_py import SgRoot

    language = normalize_language(check.language) or "python"
    return len(run_ast_grep(check, SgRoot(code, language).root()))


# Checks Tack plug-ins register (`register_scan_rules`); tack.plugins clears the cache below.
PLUGGED_CHECKS: dict[str, PythonCheck] = {}


@lru_cache(maxsize=1)
def python_checks() -> dict[str, PythonCheck]:
    """Every known Python check: built-ins, then plug-ins (a plug-in may not shadow one)."""
    from tack.principles.checks import BUILTIN_CHECKS

    found: dict[str, PythonCheck] = dict(BUILTIN_CHECKS)
    from importlib.metadata import entry_points  # email, zipfile...: only for plug-ins

    for ep in entry_points(group=ENTRY_POINT_GROUP):
        if ep.name not in found:
            found[ep.name] = _lazy(ep)
    for name, check in PLUGGED_CHECKS.items():
        found.setdefault(name, check)
    return found


def _lazy(ep: Any) -> PythonCheck:
    def run(file: SourceFile, args: Mapping[str, Any]) -> Iterable[Violation]:
        try:
            func = ep.load()
        except Exception as exc:  # a broken plug-in must name itself
            raise PrinciplesError(
                f"Python check {ep.name!r} (entry point {ep.value} in group "
                f"{ENTRY_POINT_GROUP}) cannot be imported: {exc}. Fix or uninstall the plug-in."
            ) from None
        checked: Iterable[Violation] = func(file, args)
        return checked

    dist = getattr(ep, "dist", None)
    run.tack_version = f"{ep.value}@{getattr(dist, 'version', '')}"  # type: ignore[attr-defined]
    return run


def _known_check(name: str) -> PythonCheck | None:
    from tack.principles.checks import BUILTIN_CHECKS

    # A built-in wins over any plug-in (python_checks), so a scan worker, which runs only
    # built-ins, never reads the installed distributions' entry points.
    return BUILTIN_CHECKS.get(name) or python_checks().get(name)


def resolve_python_check(name: str) -> PythonCheck:
    found = _known_check(name)
    if found is None:
        checks = python_checks()
        raise PrinciplesError(
            f"No Python check named {name!r}. Known: {', '.join(sorted(checks))}. Install "
            f"the plug-in that provides it (entry-point group `{ENTRY_POINT_GROUP}`) or fix "
            "the name."
        )
    return found


@lru_cache(maxsize=256)
def _implementation(name: str) -> str:
    func = _known_check(name)
    code = getattr(func, "__code__", None)
    version = getattr(func, "tack_version", "")
    from tack.principles.hashing import sha256

    return str(sha256(marshal.dumps(code) if code else b"").hexdigest()[:8]) + version


def result_key(check: Check) -> str:
    """Cache key of a check's results: a Python check's also changes with its code (a
    plug-in's with its version), so upgrading Tack or a plug-in never serves stale results."""
    if check.kind != "python":
        return check.key
    return f"{check.key}-{_implementation(check.name or '')}"


def run_python_check(check: Check, file: SourceFile) -> list[Violation]:
    func = resolve_python_check(check.name or "")
    out = []
    for v in func(file, check.args):
        out.append(v if isinstance(v, Violation) else Violation(**dict(v)))
    return out
