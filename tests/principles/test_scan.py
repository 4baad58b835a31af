"""`tack scan` on real git repositories with real ast-grep: findings, --since, suppressions,
baseline, cache, output formats and plug-in checks."""

from __future__ import annotations

import json
import os
import textwrap
from pathlib import Path

from tests.conftest import git, run_tack
from tests.principles.conftest import BARE_EXCEPT, commit, locations, scan_json, write

ALLOW = "tack" + ": allow"  # split so this file itself carries no suppression


def test_seeded_violations_are_found_with_their_locations(prepo: Path) -> None:
    write(prepo, "src/app/nodoc.py", "import os\n\nX = os.sep\n")
    write(prepo, "web/app.js", 'function f() {\n  return 1;\n}\nconsole.log("debug", f());\n')
    write(prepo, "tests/app.test.js", 'console.log("fine in tests");\n')

    data = scan_json(prepo)

    assert locations(data) == {
        ("P001", "src/app/risky.py", 6),
        ("P002", "src/app/nodoc.py", 1),
        ("P003", "web/app.js", 4),
    }
    by_rule = {f["rule"]: f for f in data["findings"]}
    assert by_rule["P001"]["snippet"] == "except:"
    assert by_rule["P001"]["severity"] == "error"
    assert by_rule["P003"]["column"] == 1 and by_rule["P003"]["kind"] == "ast-grep"
    assert data["files_scanned"] == 8


def test_prose_output_is_one_line_per_finding_with_the_runbook(prepo: Path) -> None:
    result = run_tack("scan", cwd=prepo)
    assert result.returncode == 1, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0] == "src/app/risky.py:6:5: P001 No bare except [except:]"
    assert "P001 runbook: Catch the specific exception you expect." in lines
    assert lines[-1].startswith("1 finding(s) in 5 file(s), 3 rule(s)")


def test_a_clean_tree_exits_zero(prepo: Path) -> None:
    write(prepo, "src/app/risky.py", '"""Fixed."""\n')
    result = run_tack("scan", cwd=prepo)
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.startswith("0 finding(s)")


def test_since_scans_only_files_changed_after_the_ref(prepo: Path) -> None:
    base = git(prepo, "rev-parse", "HEAD").strip()
    write(prepo, "src/app/later.py", BARE_EXCEPT)
    commit(prepo, "another bare except")
    write(prepo, "src/app/untracked.py", "X = 1\n")

    data = scan_json(prepo, "--since", base)

    assert locations(data) == {("P001", "src/app/later.py", 6),
                               ("P002", "src/app/untracked.py", 1)}
    assert data["files_scanned"] == 2 and data["since"] == base


def test_since_an_unknown_ref_is_a_clear_error(prepo: Path) -> None:
    result = run_tack("scan", "--since", "no-such-ref", cwd=prepo)
    assert result.returncode == 2
    assert "--since" in result.stderr and "Traceback" not in result.stderr


def test_suppression_needs_a_reason(prepo: Path) -> None:
    write(prepo, "src/app/risky.py", BARE_EXCEPT.replace(
        "    except:\n", f"    except:  # {ALLOW} P001 because the demo swallows on purpose\n"))
    write(prepo, "src/app/other.py", BARE_EXCEPT.replace(
        "    except:\n", f"    # {ALLOW} P001\n    except:\n"))

    data = scan_json(prepo)

    assert locations(data) == {("P001", "src/app/other.py", 7),
                               ("TACK001", "src/app/other.py", 6)}
    assert [(s["rule"], s["path"]) for s in data["suppressed"]] == [("P001", "src/app/risky.py")]
    reasonless = next(f for f in data["findings"] if f["rule"] == "TACK001")
    assert "no reason" in reasonless["message"]


def test_a_reasoned_suppression_on_the_line_above_applies(prepo: Path) -> None:
    write(prepo, "src/app/risky.py", BARE_EXCEPT.replace(
        "    except:\n", f"    # {ALLOW} P001 because shutdown must never raise\n    except:\n"))
    data = scan_json(prepo)
    assert data["findings"] == [] and len(data["suppressed"]) == 1


def test_baseline_hides_known_findings_but_not_new_ones(prepo: Path) -> None:
    result = run_tack("scan", "--update-baseline", cwd=prepo)
    assert result.returncode == 0, result.stderr
    baseline = json.loads((prepo / "principles-baseline.json").read_text())
    assert [(b["rule"], b["path"]) for b in baseline["findings"]] == [("P001", "src/app/risky.py")]

    # Moving the old finding down keeps it baselined; a new one is reported.
    write(prepo, "src/app/risky.py", "# moved\n\n" + BARE_EXCEPT)
    write(prepo, "src/app/new.py", BARE_EXCEPT)
    data = scan_json(prepo)
    assert locations(data) == {("P001", "src/app/new.py", 6)}
    assert data["baselined"] == 1
    assert {("P001", "src/app/risky.py", 8)} <= locations(scan_json(prepo, "--no-baseline"))


def test_warm_rescan_reuses_every_cached_result_and_sees_edits(prepo: Path) -> None:
    cold = scan_json(prepo)
    assert cold["cache"]["hits"] == 0 and cold["cache"]["misses"] > 0
    warm = scan_json(prepo)
    assert warm["cache"]["misses"] == 0 and warm["cache"]["hits"] == cold["cache"]["misses"]
    assert warm["findings"] == cold["findings"]

    write(prepo, "src/app/risky.py", '"""Fixed."""\n')
    edited = scan_json(prepo)
    assert edited["findings"] == []
    assert 0 < edited["cache"]["misses"] < cold["cache"]["misses"]


def test_editing_a_rule_invalidates_only_that_rule(prepo: Path) -> None:
    scan_json(prepo)
    doc = (prepo / "PRINCIPLES.md").read_text()
    (prepo / "PRINCIPLES.md").write_text(doc.replace('files: ["src/**/*.py"]',
                                                      'files: ["src/app/*.py"]'))
    data = scan_json(prepo)
    # P002 ran again on the two Python files under src/; P001's results came from the cache.
    assert data["cache"]["misses"] == 2


def test_sarif_is_a_valid_2_1_0_log(prepo: Path) -> None:
    result = run_tack("scan", "--sarif", cwd=prepo)
    assert result.returncode == 1, result.stderr
    log = json.loads(result.stdout)
    assert log["version"] == "2.1.0" and log["$schema"].endswith("sarif-2.1.0.json")
    (run,) = log["runs"]
    driver = run["tool"]["driver"]
    assert driver["name"] == "tack"
    rule_ids = [r["id"] for r in driver["rules"]]
    assert rule_ids == ["P001", "P002", "P003"]
    for rule in driver["rules"]:
        assert rule["shortDescription"]["text"] and rule["defaultConfiguration"]["level"] in (
            "error", "warning", "note")
    (res,) = run["results"]
    assert res["ruleId"] == "P001" and rule_ids[res["ruleIndex"]] == "P001"
    assert res["level"] == "error" and res["message"]["text"]
    loc = res["locations"][0]["physicalLocation"]
    assert loc["artifactLocation"]["uri"] == "src/app/risky.py"
    region = loc["region"]
    assert region["startLine"] == 6 and region["startColumn"] == 5
    assert region["endLine"] >= region["startLine"] and region["endColumn"] >= 1
    assert res["partialFingerprints"]["tackFingerprint/v1"]
    _assert_sarif_shape(log)


def _assert_sarif_shape(log: dict) -> None:
    """The structural constraints of the SARIF 2.1.0 schema that matter to consumers."""
    assert set(log) <= {"$schema", "version", "runs", "inlineExternalProperties", "properties"}
    for run in log["runs"]:
        assert set(run["tool"]) == {"driver"}
        for result in run["results"]:
            assert set(result) <= {"ruleId", "ruleIndex", "level", "message", "locations",
                                   "partialFingerprints", "fingerprints", "properties"}
            assert result["level"] in ("none", "note", "warning", "error")
            for loc in result["locations"]:
                region = loc["physicalLocation"]["region"]
                assert all(isinstance(region[k], int) and region[k] >= 1 for k in region)


def test_output_file_gets_the_report(prepo: Path) -> None:
    result = run_tack("scan", "--sarif", "-o", "scan.sarif", cwd=prepo)
    assert result.returncode == 1
    assert json.loads((prepo / "scan.sarif").read_text())["runs"][0]["results"]


def test_a_broken_document_stops_the_scan_with_file_and_line(prepo: Path) -> None:
    doc = (prepo / "PRINCIPLES.md").read_text()
    (prepo / "PRINCIPLES.md").write_text(doc.replace("python: module-docstring",
                                                      "python: [unclosed"))
    result = run_tack("scan", cwd=prepo)
    assert result.returncode == 2
    assert "PRINCIPLES.md:" in result.stderr and "not valid YAML" in result.stderr


def test_python_checks_from_an_entry_point_plugin_run(prepo: Path, tmp_path: Path) -> None:
    site = tmp_path / "site"
    write(site, "tackplug.py", textwrap.dedent('''
        """A plug-in check: no file may mention the word 'banana'."""
        from tack.principles import Violation

        def no_banana(file, args):
            for n, line in enumerate(file.text.splitlines(), 1):
                if "banana" in line:
                    yield Violation(line=n, message="banana found", snippet=line.strip())
    '''))
    write(site, "tackplug-1.0.dist-info/METADATA", "Metadata-Version: 2.1\nName: tackplug\n"
          "Version: 1.0\n")
    write(site, "tackplug-1.0.dist-info/entry_points.txt",
          "[tack.principles]\nno-banana = tackplug:no_banana\n")
    with (prepo / "PRINCIPLES.md").open("a") as fh:
        fh.write("\n## P004: No bananas\nWhy: Fruit belongs in the kitchen.\n\n"
                 "```yaml check\npython: no-banana\n```\n")
    write(prepo, "src/app/fruit.py", '"""Fruit."""\nX = "banana"\n')
    env = {"PYTHONPATH": os.pathsep.join([str(site), os.environ.get("PYTHONPATH", "")])}

    lint = run_tack("principles", "lint", cwd=prepo, env=env)
    assert lint.returncode == 0, lint.stdout
    data = scan_json(prepo, env=env)
    assert ("P004", "src/app/fruit.py", 2) in locations(data)

    missing = run_tack("scan", cwd=prepo)  # without the plug-in on the path
    assert missing.returncode == 2 and "no-banana" in missing.stderr


def test_a_reasonless_suppression_is_reported_at_its_line_and_the_baseline_settles(
    prepo: Path,
) -> None:
    write(prepo, "src/app/risky.py", BARE_EXCEPT.replace(
        "    except:\n", f"    # {ALLOW} P001\n    except:\n"))
    first = run_tack("scan", "--update-baseline", cwd=prepo)
    assert first.returncode == 0, first.stderr
    recorded = (prepo / "principles-baseline.json").read_text()
    # The baseline quotes the suppression's text; scanning it must not report it again.
    after = scan_json(prepo)
    assert after["findings"] == [] and after["baselined"] == 2
    again = run_tack("scan", "--update-baseline", cwd=prepo)
    assert again.returncode == 0, again.stderr
    assert (prepo / "principles-baseline.json").read_text() == recorded
    unbaselined = scan_json(prepo, "--no-baseline")
    assert locations(unbaselined) == {("TACK001", "src/app/risky.py", 6),
                                      ("P001", "src/app/risky.py", 7)}


def _add_rule(repo: Path, rule: str) -> int:
    """Append a principle with this ast-grep `rule:` body; returns its check fence's line."""
    doc = (repo / "PRINCIPLES.md").read_text()
    block = ("\n## P009: No shell commands\nWhy: Shell strings invite injection.\n\n"
             "```yaml check\nast-grep:\n  language: python\n  rule:\n"
             + textwrap.indent(rule, "    ") + "```\n")
    (repo / "PRINCIPLES.md").write_text(doc + block)
    return len((doc + block).splitlines()) - len(block.splitlines()) + 5


def test_a_pattern_that_does_not_parse_stops_the_scan_naming_file_rule_and_pattern(
    prepo: Path,
) -> None:
    write(prepo, "src/app/shell.py", '"""Runs commands."""\nimport os\n\nos.system("ls")\n')
    line = _add_rule(prepo, "pattern: os.system($$$ARGS\n")
    result = run_tack("scan", cwd=prepo)
    assert result.returncode == 2, result.stdout
    where = f"{prepo / 'PRINCIPLES.md'}:{line}: P009"
    assert where in result.stderr and "`os.system($$$ARGS`" in result.stderr, result.stderr
    assert "not valid python" in result.stderr and "Traceback" not in result.stderr
    lint = run_tack("principles", "lint", cwd=prepo)
    assert lint.returncode == 1 and "`os.system($$$ARGS`" in lint.stdout


def test_an_invalid_rule_quotes_metavariables_as_written(prepo: Path) -> None:
    line = _add_rule(prepo, "pattern: $CMD $ARGS\n")
    result = run_tack("scan", cwd=prepo)
    assert result.returncode == 2, result.stdout
    assert f"{prepo / 'PRINCIPLES.md'}:{line}: P009: the ast-grep rule cannot run" in result.stderr
    assert "`$CMD $ARGS`" in result.stderr and "µ" not in result.stderr, result.stderr
    lint = run_tack("principles", "lint", cwd=prepo)
    assert "`$CMD $ARGS`" in lint.stdout and "µ" not in lint.stdout
