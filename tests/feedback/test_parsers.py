"""Every parser on real output captured from the real tool (tests/fixtures/feedback)."""

from __future__ import annotations

import typing
from pathlib import Path

import pytest

from tack.feedback import FORMATS, ParseContext, detect_format, parse_output
from tack.workflow.config import FeedbackCheck

FIXTURES = Path(__file__).parent.parent / "fixtures" / "feedback"
PY = ParseContext(root=Path("/tmp/fbsample"), cwd=Path("/tmp/fbsample"))
JS = ParseContext(root=Path("/tmp/fbnode"), cwd=Path("/tmp/fbnode"))
COLLECT = ParseContext(root=Path("/tmp/fbcollect"), cwd=Path("/tmp/fbcollect"))

FAILING_IDS = [
    "tests/test_cart.py::test_total_with_discount",
    "tests/test_cart.py::test_parse_price[-3]",
    "tests/test_cart.py::test_label_plural",
    "tests/test_cart.py::test_parse_price_garbage",
    "tests/test_cart.py::test_dict_compare",
    *[f"tests/test_config.py::test_load_config_broken[{n}]" for n in range(4)],
    "tests/test_setup.py::test_uses_db",
]


def parse(name: str, ctx: ParseContext = PY, fmt: str | None = None):
    return parse_output((FIXTURES / name).read_text(), fmt, ctx)


@pytest.mark.parametrize("name", ["python/junit.xml", "python/pytest.txt",
                                  "python/pytest_q.txt", "python/pytest_short.txt"])
def test_pytest_outputs_yield_every_failing_test_with_its_first_party_location(name: str):
    fmt, findings, _total = parse(name)
    assert fmt == ("junit" if name.endswith(".xml") else "pytest")
    assert [f.test_id for f in findings] == FAILING_IDS
    by_id = {f.test_id: f for f in findings}
    label = by_id["tests/test_cart.py::test_label_plural"]
    assert label.location == "tests/test_cart.py:22"
    assert [(fr.path, fr.line) for fr in label.frames] == [("tests/test_cart.py", 22),
                                                          ("shop/cart.py", 20)]
    assert label.message == "NameError: name 'undefined_suffix' is not defined"
    assert label.rule == "NameError"
    setup = by_id["tests/test_setup.py::test_uses_db"]
    assert setup.message == "error at setup: RuntimeError: database not reachable"


def test_library_frames_are_dropped_from_python_tracebacks():
    _fmt, findings, total = parse("python/junit.xml")
    assert total == 14
    broken = next(f for f in findings if "load_config_broken" in (f.test_id or ""))
    assert all(not fr.path.startswith("/") for fr in broken.frames)
    assert broken.frames[-1].path == "shop/config.py" and broken.frames[-1].line == 5
    assert "JSONDecodeError: Expecting property name" in broken.message


def test_assertion_explanation_keeps_the_diff_and_drops_pytest_noise():
    _fmt, findings, _ = parse("python/pytest.txt")
    dict_case = next(f for f in findings if f.test_id and f.test_id.endswith("dict_compare"))
    assert dict_case.detail == ["Differing items:", "{'b': [1, 2]} != {'b': [1, 3]}"]
    discount = next(f for f in findings if f.test_id and f.test_id.endswith("with_discount"))
    assert discount.detail == ["+  where Decimal('0') = total([Decimal('100')], Decimal('10'))"]


@pytest.mark.parametrize("name", ["pytest_collect/junit.xml", "pytest_collect/pytest.txt"])
def test_collection_errors_name_the_module_and_the_missing_import(name: str):
    _fmt, findings, _ = parse(name, COLLECT)
    assert len(findings) == 1
    (f,) = findings
    assert f.test_id == "tests/test_broken.py"
    assert f.location == "tests/test_broken.py:1"
    assert f.message == ("collection error: ModuleNotFoundError: No module named "
                         "'missing_module'")


@pytest.mark.parametrize("name,fmt", [("python/ruff.json", "ruff"), ("python/ruff.sarif",
                                      "sarif"), ("python/ruff_concise.txt", "generic"),
                                      ("python/ruff.txt", "generic")])
def test_ruff_in_every_output_format_gives_the_same_findings(name: str, fmt: str):
    got_fmt, findings, _ = parse(name)
    assert got_fmt == fmt
    assert [(f.location, f.rule) for f in findings] == [
        ("shop/cart.py:1:8", "F401"), ("shop/cart.py:2:8", "F401"),
        ("shop/cart.py:19:5", "F841"), ("shop/cart.py:20:48", "F821"),
        ("tests/test_cart.py:13:27", "FURB157"), ("tests/test_cart.py:13:44", "FURB157"),
        ("tests/test_cart.py:13:62", "FURB157"), ("tests/test_config.py:8:24", "UP031"),
    ]
    assert findings[0].message == "`os` imported but unused"


def test_ruff_json_carries_the_fix():
    _fmt, findings, _ = parse("python/ruff.json")
    assert findings[0].fix_hint and "Remove unused import: `os`" in findings[0].fix_hint


@pytest.mark.parametrize("name", ["python/mypy.txt", "python/mypy_cols.txt", "python/mypy.json"])
def test_mypy_text_and_json(name: str):
    fmt, findings, _ = parse(name)
    assert fmt == "mypy"
    assert [(f.path, f.line, f.rule) for f in findings] == [
        ("shop/cart.py", 19, "assignment"), ("shop/cart.py", 20, "name-defined")]
    assert findings[1].message == 'Name "undefined_suffix" is not defined'
    if name != "python/mypy.txt":
        assert findings[0].col == 17  # the JSON's 0-based column matches the text's


def test_pyright_json_positions_are_one_based():
    fmt, findings, _ = parse("python/pyright.json")
    assert fmt == "pyright"
    assert [(f.location, f.rule) for f in findings] == [
        ("shop/cart.py:19:17", "reportAssignmentType"),
        ("shop/cart.py:20:48", "reportUndefinedVariable")]
    assert findings[0].detail == ['"int" is not assignable to "str"']


def test_semgrep_sarif_works_with_no_tool_specific_code():
    fmt, findings, _ = parse("python/semgrep.sarif")
    assert fmt == "sarif"
    (f,) = findings
    assert (f.tool, f.rule, f.location) == ("semgrep", "tmp.json-loads-untrusted",
                                            "shop/config.py:5:12")
    assert f.severity == "warning"


def test_eslint_json():
    fmt, findings, _ = parse("js/eslint.json", JS)
    assert fmt == "eslint"
    assert [(f.location, f.rule, f.severity) for f in findings] == [
        ("src/cart.js:1:8", "no-unused-vars", "error"),
        ("src/cart.js:6:16", "eqeqeq", "warning"),
        ("src/cart.js:11:7", "no-unused-vars", "error"),
        ("src/cart.js:11:7", "prefer-const", "error"),
        ("src/cart.js:12:43", "no-undef", "error")]


def test_tsc():
    fmt, findings, _ = parse("js/tsc.txt", JS)
    assert fmt == "tsc"
    assert [(f.location, f.rule) for f in findings] == [("src/util.ts:4:7", "TS2322"),
                                                        ("src/util.ts:5:27", "TS2345")]


def test_vitest_junit():
    fmt, findings, total = parse("js/vitest-junit.xml", JS)
    assert fmt == "junit" and total == 4
    assert [f.test_id for f in findings] == [
        "src/cart.test.js::cart > applies a percent discount",
        "src/cart.test.js::cart > labels plurals",
        "src/cart.test.js::cart > compares objects"]
    plural = findings[1]
    assert plural.message == "ReferenceError: suffix is not defined"
    assert ("src/cart.js", 12) in [(fr.path, fr.line) for fr in plural.frames]
    assert findings[0].message == "AssertionError: expected +0 to be 90 // Object.is equality"


GOTESTSUM = """<?xml version="1.0" encoding="UTF-8"?>
<testsuites tests="2" failures="1" errors="0" time="0.004">
\t<testsuite tests="2" failures="1" time="0.002" name="example.com/shop/cart" timestamp="2024-01-01T00:00:00Z">
\t\t<properties><property name="go.version" value="go1.22.0 linux/amd64"></property></properties>
\t\t<testcase classname="example.com/shop/cart" name="TestTotal" time="0.000">
\t\t\t<failure message="Failed" type="">=== RUN   TestTotal
    cart_test.go:12: total = 0, want 90
--- FAIL: TestTotal (0.00s)
</failure>
\t\t</testcase>
\t\t<testcase classname="example.com/shop/cart" name="TestLabel" time="0.000"></testcase>
\t</testsuite>
</testsuites>
"""


def test_go_junit_in_gotestsums_documented_shape():
    # Not captured: gotestsum cannot be installed here. Shape from gotestsum's docs/testdata.
    fmt, findings, total = parse_output(GOTESTSUM, None, PY)
    assert fmt == "junit" and total == 2
    (f,) = findings
    assert f.test_id == "example.com/shop/cart::TestTotal"
    assert ("cart_test.go", 12) in [(fr.path, fr.line) for fr in f.frames]
    assert any("total = 0, want 90" in line for line in [f.message, *f.detail])


def test_generic_fallback_reads_path_line_col_message():
    text = "building...\nsrc/app.c:12:5: error: 'x' undeclared\nlib/util.rb:3: warning: unused\n"
    fmt, findings, _ = parse_output(text, None, PY)
    assert fmt == "generic"
    assert [(f.location, f.severity, f.message) for f in findings] == [
        ("src/app.c:12:5", "error", "'x' undeclared"), ("lib/util.rb:3", "warning", "unused")]


def test_config_format_names_match_the_parsers():
    hint = typing.get_type_hints(FeedbackCheck)["format"]
    names = {a for arg in typing.get_args(hint) for a in typing.get_args(arg)}
    assert names == set(FORMATS)


def test_detection_prefers_structure_over_text():
    assert detect_format("noise\n" + (FIXTURES / "python/ruff.json").read_text()) == "ruff"
    assert detect_format((FIXTURES / "python/mypy.json").read_text()) == "mypy"
