"""The bundled starter suite: seeded bugs and small feature requests on real PyPI sdists.

`write_suite` writes one task file per entry; the sdists are downloaded by pip on first use
and cached (tack.eval.sources.sdist_cache), so building and running is offline afterwards.
`check_suite` proves every task is fair: its fail-to-pass tests fail on the seeded base and
pass once the reference fix is applied, and its pass-to-pass tests pass on both.
"""

from __future__ import annotations

import json
import re
import shlex
import shutil
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from tack.eval.sources import build_base, git
from tack.eval.suite import Task, load_suite
from tack.eval.verify import run_hidden_tests

TOOLZ = "toolz==1.0.0"
INFLECTION = "inflection==0.5.1"
IT = "toolz/tests/test_itertoolz.py::"
DT = "toolz/tests/test_dicttoolz.py::TestDict::"  # methods of a class
INF = "test_inflection.py::"


@dataclass(frozen=True)
class Seeded:
    id: str
    sdist: str
    kind: str  # wrong-comparison, off-by-one, missing-edge-case, api-misuse, feature
    path: str
    old: str  # the correct code in the sdist ...
    new: str  # ... and the seeded bug that replaces it
    title: str
    description: str
    fail_to_pass: tuple[str, ...]
    pass_to_pass: tuple[str, ...]


BUGS = [
    Seeded("toolz-isdistinct", TOOLZ, "wrong-comparison", "toolz/itertoolz.py",
           "        return len(seq) == len(set(seq))", "        return len(seq) >= len(set(seq))",
           "isdistinct says lists with repeated values are distinct",
           "`toolz.isdistinct([1, 2, 1])` returns True; it should be False for any sequence "
           "with a repeated value.", (IT + "test_isdistinct",), (IT + "test_unique",)),
    Seeded("toolz-tail", TOOLZ, "off-by-one", "toolz/itertoolz.py",
           "        return seq[-n:]", "        return seq[-n + 1:]",
           "tail returns one element too few",
           "`toolz.tail(2, [10, 20, 30, 40, 50])` should be `[40, 50]`, and `last` is broken "
           "too.", (IT + "test_tail", IT + "test_last"), (IT + "test_take",)),
    Seeded("toolz-take-nth", TOOLZ, "off-by-one", "toolz/itertoolz.py",
           "return itertools.islice(seq, 0, None, n)", "return itertools.islice(seq, 1, None, n)",
           "take_nth skips the first element",
           "`list(toolz.take_nth(2, [10, 20, 30, 40, 50]))` should be `[10, 30, 50]`.",
           (IT + "test_take_nth",), (IT + "test_take",)),
    Seeded("toolz-nth", TOOLZ, "off-by-one", "toolz/itertoolz.py",
           "        return seq[n]\n", "        return seq[n - 1]\n",
           "nth on a list returns the wrong element",
           "`toolz.nth(1, ['a', 'b', 'c'])` returns 'a'; it is zero-based like indexing and "
           "should return 'b'. Iterators are right.", (IT + "test_nth",), (IT + "test_first",)),
    Seeded("toolz-drop", TOOLZ, "off-by-one", "toolz/itertoolz.py",
           "return itertools.islice(seq, n, None)", "return itertools.islice(seq, n + 1, None)",
           "drop removes one element too many",
           "`list(toolz.drop(2, [10, 20, 30, 40, 50]))` should be `[30, 40, 50]`; `rest` "
           "suffers too.", (IT + "test_drop", IT + "test_rest"), (IT + "test_take",)),
    Seeded("toolz-sliding-window", TOOLZ, "off-by-one", "toolz/itertoolz.py",
           "collections.deque(itertools.islice(it, i), 0)",
           "collections.deque(itertools.islice(it, i + 1), 0)",
           "sliding_window returns misaligned windows",
           "`list(toolz.sliding_window(2, [1, 2, 3, 4]))` should be `[(1, 2), (2, 3), (3, 4)]`.",
           (IT + "test_sliding_window",), (IT + "test_partition",)),
    Seeded("toolz-partition-all-empty", TOOLZ, "missing-edge-case", "toolz/itertoolz.py",
           "    try:\n        prev = next(it)\n    except StopIteration:\n        return\n",
           "    prev = next(it)\n",
           "partition_all crashes on an empty sequence",
           "`list(toolz.partition_all(2, []))` raises RuntimeError; it should be `[]`.",
           (IT + "test_partition_all",), (IT + "test_partition",)),
    Seeded("toolz-peek", TOOLZ, "missing-edge-case", "toolz/itertoolz.py",
           "return item, itertools.chain((item,), iterator)", "return item, iterator",
           "peek loses the element it looked at",
           "After `first, seq = toolz.peek([0, 1, 2])`, `list(seq)` should still be "
           "`[0, 1, 2]`.", (IT + "test_peek",), (IT + "test_peekn",)),
    Seeded("toolz-topk", TOOLZ, "api-misuse", "toolz/itertoolz.py",
           "heapq.nlargest(k, seq, key=key)", "heapq.nsmallest(k, seq, key=key)",
           "topk returns the smallest elements",
           "`toolz.topk(2, [1, 100, 10, 1000])` should be `(1000, 100)`.",
           (IT + "test_topk",), (IT + "test_peek",)),
    Seeded("toolz-frequencies", TOOLZ, "api-misuse", "toolz/itertoolz.py",
           "        d[item] += 1", "        d[item] = 1",
           "frequencies counts every value once",
           "`toolz.frequencies(['cat', 'cat', 'ox'])` should be `{'cat': 2, 'ox': 1}`.",
           (IT + "test_frequencies",), (IT + "test_count",)),
    Seeded("toolz-interpose", TOOLZ, "off-by-one", "toolz/itertoolz.py",
           "    next(inposed)\n    return inposed", "    return inposed",
           "interpose puts a separator before the first element",
           "`list(toolz.interpose('a', [1, 2, 3]))` should be `[1, 'a', 2, 'a', 3]`.",
           (IT + "test_interpose",), (IT + "test_concat",)),
    Seeded("inflection-ordinal", INFLECTION, "missing-edge-case", "inflection/__init__.py",
           "if number % 100 in (11, 12, 13):", "if number % 100 in (11, 12):",
           "ordinal gives 13rd instead of 13th",
           "`inflection.ordinalize(13)` returns '13rd'; 11, 12 and 13 (and 111, 112, 113, ...) "
           "all take 'th'.", (INF + "test_ordinal", INF + "test_ordinalize"),
           (INF + "test_dasherize",)),
    Seeded("inflection-camelize-lower", INFLECTION, "off-by-one", "inflection/__init__.py",
           "return string[0].lower() + camelize(string)[1:]",
           "return string[0].lower() + camelize(string)[2:]",
           "camelize(..., False) drops a letter",
           "`inflection.camelize('device_type', False)` should be 'deviceType'.",
           (INF + "test_camelize_with_lower_downcases_the_first_letter",),
           (INF + "test_camelize",)),
    Seeded("inflection-parameterize", INFLECTION, "missing-edge-case", "inflection/__init__.py",
           'r"(?i)^{sep}|{sep}$".format(sep=re_sep)', 'r"(?i)^{sep}".format(sep=re_sep)',
           "parameterize leaves a trailing separator",
           "`inflection.parameterize('Squeeze separators !')` should be 'squeeze-separators', "
           "with no separator at either end.", (INF + "test_parameterize",),
           (INF + "test_dasherize",)),
    Seeded("inflection-dasherize", INFLECTION, "api-misuse", "inflection/__init__.py",
           "return word.replace('_', '-')", "return word.replace('_', '-', 1)",
           "dasherize replaces only the first underscore",
           "`inflection.dasherize('street_address_line')` should be 'street-address-line'.",
           (INF + "test_dasherize",), (INF + "test_humanize",)),
    Seeded("inflection-humanize", INFLECTION, "api-misuse", "inflection/__init__.py",
           'word = re.sub(r"^\\w", lambda m: m.group(0).upper(), word)',
           'word = re.sub(r"^\\w", lambda m: m.group(0).lower(), word)',
           "humanize does not capitalize the first word",
           "`inflection.humanize('employee_salary')` should be 'Employee salary'.",
           (INF + "test_humanize",), (INF + "test_dasherize",)),
    Seeded("inflection-ordinal-negative", INFLECTION, "missing-edge-case",
           "inflection/__init__.py", "number = abs(int(number))", "number = int(number)",
           "ordinal is wrong for negative numbers",
           "`inflection.ordinalize(-1)` returns '-1th'; negative numbers take the same suffix "
           "as their absolute value ('-1st', '-11th').", (INF + "test_ordinal",),
           (INF + "test_dasherize",)),
]


@dataclass(frozen=True)
class Feature:
    id: str
    sdist: str
    path: str
    reference: str  # appended to `path` by the check, never shown to agents
    title: str
    description: str
    test_file: str
    tests: str
    pass_to_pass: tuple[str, ...]


FEATURES = [
    Feature("toolz-pairwise", TOOLZ, "toolz/itertoolz.py",
            "\n\ndef pairwise(seq):\n    return sliding_window(2, seq)\n",
            "Add itertoolz.pairwise",
            "Add `pairwise(seq)` to `toolz.itertoolz` (importable as "
            "`from toolz.itertoolz import pairwise`): an iterator of consecutive pairs, "
            "`list(pairwise([1, 2, 3])) == [(1, 2), (2, 3)]`, empty for fewer than two items, "
            "lazy on iterators.", "test_hidden_pairwise.py",
            "from toolz.itertoolz import pairwise\n\n\ndef test_pairwise():\n"
            "    assert list(pairwise([1, 2, 3])) == [(1, 2), (2, 3)]\n"
            "    assert list(pairwise(iter('abc'))) == [('a', 'b'), ('b', 'c')]\n\n\n"
            "def test_pairwise_short():\n    assert list(pairwise([])) == []\n"
            "    assert list(pairwise([1])) == []\n", (IT + "test_sliding_window",)),
    Feature("toolz-invert", TOOLZ, "toolz/dicttoolz.py",
            "\n\ndef invert(d):\n    out = {}\n    for k, v in d.items():\n"
            "        if v in out:\n            raise ValueError(v)\n        out[v] = k\n"
            "    return out\n",
            "Add dicttoolz.invert",
            "Add `invert(d)` to `toolz.dicttoolz`: a new dict mapping each value to its key, "
            "`invert({'a': 1, 'b': 2}) == {1: 'a', 2: 'b'}`; it raises ValueError when two keys "
            "share a value, and never modifies its input.", "test_hidden_invert.py",
            "import pytest\nfrom toolz.dicttoolz import invert\n\n\ndef test_invert():\n"
            "    d = {'a': 1, 'b': 2}\n    assert invert(d) == {1: 'a', 2: 'b'}\n"
            "    assert d == {'a': 1, 'b': 2}\n\n\ndef test_invert_duplicates():\n"
            "    with pytest.raises(ValueError):\n        invert({'a': 1, 'b': 1})\n",
            (DT + "test_assoc",)),
    Feature("inflection-kebabize", INFLECTION, "inflection/__init__.py",
            "\n\ndef kebabize(word: str) -> str:\n    return dasherize(underscore(word))\n",
            "Add inflection.kebabize",
            "Add `kebabize(word)` to `inflection`: CamelCase or snake_case to kebab-case, "
            "`kebabize('DeviceType') == 'device-type'`, `kebabize('street_address') == "
            "'street-address'`.", "test_hidden_kebabize.py",
            "import inflection\n\n\ndef test_kebabize():\n"
            "    assert inflection.kebabize('DeviceType') == 'device-type'\n"
            "    assert inflection.kebabize('street_address') == 'street-address'\n"
            "    assert inflection.kebabize('HTMLParser') == 'html-parser'\n",
            (INF + "test_dasherize",)),
]


def tasks() -> list[dict[str, object]]:
    out: list[dict[str, object]] = []
    for bug in BUGS:
        out.append({
            "id": bug.id, "kind": bug.kind, "repo": {"sdist": bug.sdist},
            "issue": {"title": bug.title, "description": bug.description, "labels": ["bug"]},
            "seed": [{"path": bug.path, "old": bug.old, "new": bug.new}],
            "verify": {"fail_to_pass": list(bug.fail_to_pass),
                       "pass_to_pass": list(bug.pass_to_pass)},
        })
    for feat in FEATURES:
        ids = [f"{feat.test_file}::{line[4:].split('(')[0]}"
               for line in feat.tests.splitlines() if line.startswith("def test_")]
        out.append({
            "id": feat.id, "kind": "feature", "repo": {"sdist": feat.sdist},
            "issue": {"title": feat.title, "description": feat.description,
                      "labels": ["feature"]},
            "verify": {"fail_to_pass": ids, "pass_to_pass": list(feat.pass_to_pass),
                       "files": {feat.test_file: feat.tests}},
        })
    return out


def write_suite(dest: Path) -> int:
    dest.mkdir(parents=True, exist_ok=True)
    for task in tasks():
        (dest / f"{task['id']}.json").write_text(json.dumps(task, indent=2) + "\n", "utf-8")
    return len(tasks())


def _reference(task: Task, tree: Path) -> None:
    for bug in BUGS:
        if bug.id == task.id:
            target = tree / bug.path
            target.write_text(target.read_text("utf-8").replace(bug.new, bug.old), "utf-8")
    for feat in FEATURES:
        if feat.id == task.id:
            with (tree / feat.path).open("a", encoding="utf-8") as fh:
                fh.write(feat.reference)


def check_suite(dest: Path, log: Callable[[str], None] = print) -> list[str]:
    """Problems found (empty when every task is fair)."""
    suite = load_suite(dest)
    problems: list[str] = []
    with tempfile.TemporaryDirectory(prefix="tack-starter-check-") as tmp:
        for task in suite.tasks:
            base = build_base(task, Path(tmp) / task.id / "base", base_dir=suite.base_dir())
            for label, fixed in (("seeded", False), ("fixed", True)):
                tree = Path(tmp) / task.id / label
                git(base.parent, "clone", "-q", str(base), str(tree))
                if fixed:
                    _reference(task, tree)
                verdict = run_hidden_tests(task, tree)
                f2p = verdict.count(task.verify.fail_to_pass)
                p2p = verdict.count(task.verify.pass_to_pass)
                ok_p2p = p2p == len(task.verify.pass_to_pass)
                ok_f2p = f2p == len(task.verify.fail_to_pass) if fixed else f2p == 0
                if not (ok_p2p and ok_f2p):
                    problems.append(f"{task.id} ({label}): fail_to_pass {f2p}/"
                                    f"{len(task.verify.fail_to_pass)}, pass_to_pass {p2p}/"
                                    f"{len(task.verify.pass_to_pass)}")
                shutil.rmtree(tree, ignore_errors=True)
            log(f"checked {task.id}")
    return problems


def oracle_script(handoff: str = "Human Review") -> dict[str, object]:
    """A stub model script that applies every task's reference fix, matched by the issue
    title: the agent's own time is then near zero, so a run measures Tack's overhead."""
    conversations: list[dict[str, object]] = []

    def steps(fix: dict[str, object]) -> list[dict[str, object]]:
        return [
            {"tool_calls": [fix]},
            {"tool_calls": [{"name": "shell", "arguments": {
                "command": "git add -A && git commit -q -m 'Reference fix'"}}]},
            {"tool_calls": [{"name": "tracker", "arguments": {"action": "move",
                                                              "state": handoff}}]},
            {"text": "Done."},
        ]

    for bug in BUGS:
        conversations.append({"match": re.escape(bug.title), "steps": steps(
            {"name": "edit_file", "arguments": {"path": bug.path, "old": bug.new,
                                                "new": bug.old}})})
    for feat in FEATURES:
        code = f"open({feat.path!r}, 'a').write({feat.reference!r})"
        conversations.append({"match": re.escape(feat.title), "steps": steps(
            {"name": "shell", "arguments": {"command": f"python3 -c {shlex.quote(code)}"}})})
    return {"conversations": conversations}
