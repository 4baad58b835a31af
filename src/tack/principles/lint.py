"""`tack principles lint`: the document's shape plus whether each check can really run.

Beyond parsing, an ast-grep rule must compile, must match its principle's `bad` example and
must not match its `good` one; a Python check must exist.
"""

from __future__ import annotations

from tack.principles.document import PrinciplesDoc, Problem
from tack.principles.rules import (
    ast_grep_problem,
    count_matches,
    normalize_language,
    python_checks,
)


def lint(doc: PrinciplesDoc) -> list[Problem]:
    problems = list(doc.problems)
    known_checks = python_checks()
    path = doc.path
    for p in doc.principles:
        check = p.check
        if check is None:
            problems.append(Problem(path, p.line, f"{p.id} has no ```check block, so only "
                                    "reviewers and agents' prompts enforce it.",
                                    "add an ast-grep rule, a Python check or a model question "
                                    "when one can find violations.", level="warning"))
            continue
        if check.kind == "python" and check.name not in known_checks:
            problems.append(Problem(
                path, check.line, f"{p.id}: no Python check named {check.name!r}.",
                f"use one of {', '.join(sorted(known_checks))}, or install the plug-in that "
                "registers it under the entry-point group `tack.principles`."))
        if check.kind == "model" and not check.files:
            problems.append(Problem(
                path, check.line, f"{p.id}: the model question runs on every source file.",
                "add `files: [...]` globs to keep the cost down.", level="warning"))
        if check.kind != "ast-grep":
            continue
        problem = ast_grep_problem(check)
        if problem:
            problems.append(Problem(path, check.line, f"{p.id}: the ast-grep rule cannot run: "
                                    f"{problem}.", "fix the rule (see "
                                    "https://ast-grep.github.io/reference/rule.html)."))
            continue
        language = normalize_language(check.language)
        for example in p.examples:
            if normalize_language(example.language) != language:
                continue
            hits = count_matches(check, example.code)
            if example.kind == "bad" and hits == 0:
                problems.append(Problem(path, example.line, f"{p.id}: the ast-grep rule does "
                                        "not match this `bad` example.",
                                        "widen the rule, or fix the example."))
            if example.kind == "good" and hits:
                problems.append(Problem(path, example.line, f"{p.id}: the ast-grep rule matches "
                                        f"this `good` example ({hits} match(es)).",
                                        "narrow the rule, or fix the example."))
    return sorted(problems, key=lambda x: (x.line, x.level))
