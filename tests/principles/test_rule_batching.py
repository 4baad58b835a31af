"""Every ast-grep rule of a scan is matched in one walk of the tree (`run_ast_grep_many`):
the results must be exactly those of running each rule on its own, rule by rule."""

from __future__ import annotations

from typing import Any

from ast_grep_py import SgRoot

from tack.principles.document import Check
from tack.principles.rules import (
    _freeze,
    possible_kinds,
    required_words,
    run_ast_grep,
    run_ast_grep_many,
)

SOURCE = '''\
import os, pickle, time
from os import *

def f(a=[], b: dict = {}, c=1):
    global COUNT
    print("x", print(a))
    time.sleep(1)
    os.system("ls", shell=True, check=True)
    try:
        eval(exec("1"))
    except:
        pass
    assert True
    g = lambda x: x
    if len(a) == 0 or a is 0:
        raise Exception("no")  # type: ignore
    return pickle.loads(open(b))
'''

RULES: list[dict[str, Any]] = [
    {"kind": "except_clause", "regex": r"^except\s*:"},
    {"pattern": "print($$$A)"},
    {"pattern": "$F($$$A)"},  # overlaps every call rule: one node, several rules
    {"pattern": "time.sleep($$$A)"},
    {"pattern": "$F($$$A, shell=True, $$$B)"},
    {"any": [{"kind": "default_parameter"}, {"kind": "typed_default_parameter"}],
     "has": {"field": "value", "any": [{"kind": "list"}, {"kind": "dictionary"}]}},
    {"kind": "except_clause", "has": {"kind": "block", "regex": "^pass$"}},
    {"kind": "comment", "regex": r"type:\s*ignore"},
    {"pattern": "assert True"},
    {"kind": "global_statement"},
    {"pattern": "from $M import *"},
    {"pattern": "$N = lambda $$$A: $B"},
    {"pattern": "len($X) == 0"},
    {"pattern": "$X is 0"},
    {"all": [{"kind": "call"}, {"regex": "^eval"}]},
    {"not": {"kind": "module"}, "kind": "identifier", "regex": "^COUNT$"},
]


def check(config: dict[str, Any]) -> Check:
    return Check("ast-grep", line=1, language="python", config=config)


def test_one_walk_finds_exactly_what_each_rule_finds_alone() -> None:
    checks = [check({"rule": r}) for r in RULES]
    # With constraints, `any` cannot carry the rule: it runs alone, with the same result.
    checks.append(check({"rule": {"pattern": "$F($$$A)"},
                         "constraints": {"F": {"regex": "^open$"}}}))
    root = SgRoot(SOURCE, "python").root()
    alone = [run_ast_grep(c, root) for c in checks]
    assert all(alone), "every rule matches something in SOURCE"
    assert run_ast_grep_many(checks, root) == alone
    # Given the text, rules whose words the file or a node lacks are skipped, not asked.
    assert run_ast_grep_many(checks, root, SOURCE) == alone


def test_a_rule_naming_a_word_the_file_lacks_finds_nothing_and_the_others_are_unchanged() -> None:
    checks = [check({"rule": r}) for r in RULES]
    checks.append(check({"rule": {"pattern": "subprocess.run($$$A)"}}))
    root = SgRoot(SOURCE, "python").root()
    got = run_ast_grep_many(checks, root, SOURCE)
    assert got[-1] == [] and got[:-1] == [run_ast_grep(c, root) for c in checks[:-1]]
    assert required_words(checks[-1]) == ("subprocess", "run")
    assert required_words(check({"rule": {"pattern": "$F($$$A, shell=True, $$$B)"}})) == (
        "shell", "True")


def test_an_invalid_rule_reports_its_own_error_and_the_others_still_run() -> None:
    checks = [check({"rule": {"pattern": "print($$$A)"}}),
              check({"rule": {"kind": "no_such_kind_anywhere"}}),
              check({"rule": {"kind": "global_statement"}})]
    root = SgRoot(SOURCE, "python").root()
    got = run_ast_grep_many(checks, root)
    assert isinstance(got[1], Exception)
    assert got[0] == run_ast_grep(checks[0], root) and got[0]
    assert got[2] == run_ast_grep(checks[2], root) and got[2]


def test_kinds_narrow_only_where_the_rule_says_so() -> None:
    assert possible_kinds(_freeze({"pattern": "time.sleep($$$A)"}), "python") == {"call"}
    assert possible_kinds(_freeze({"any": [{"kind": "a"}, {"kind": "b"}]}), "python") == {"a", "b"}
    assert possible_kinds(_freeze({"any": [{"kind": "a"}, {"regex": "x"}]}), "python") is None
    assert possible_kinds(_freeze({"regex": "x", "has": {"kind": "call"}}), "python") is None
