"""The parts of `tack eval` below the orchestrator: suites, sources, hidden tests, stats,
the SWE-bench importer and the starter suite. Offline: sources are local repos and a
hand-made sdist in tmp_path."""

from __future__ import annotations

import io
import json
import tarfile
from pathlib import Path

import pytest

from tack.eval.sources import build_base
from tack.eval.starter import BUGS, FEATURES, check_suite, write_suite
from tack.eval.stats import mcnemar_exact, paired, wilson
from tack.eval.suite import EvalError, Task, load_suite
from tack.eval.swebench import import_swebench
from tack.eval.verify import run_hidden_tests
from tests.conftest import git, run_tack

CALC = "def add(a, b):\n    return a + b\n"
CALC_TEST = ("import pytest\nfrom calc import add\n\n\ndef test_add():\n    assert add(2, 3) == 5\n"
             "\n\n@pytest.mark.parametrize('n', [0, 1, 2])\ndef test_zero(n):\n"
             "    assert add(n, 0) == n\n")


def _repo(path: Path, files: dict[str, str]) -> Path:
    path.mkdir(parents=True)
    for rel, text in files.items():
        (path / rel).write_text(text)
    git(path, "init", "-q", "-b", "main")
    git(path, "add", "-A")
    git(path, "commit", "-q", "-m", "one")
    return path


def _task(**extra: object) -> Task:
    data: dict[str, object] = {
        "id": "calc-1", "repo": {"path": "calc"}, "issue": {"title": "add subtracts"},
        "seed": [{"path": "calc.py", "old": "a + b", "new": "a - b"}],
        "verify": {"fail_to_pass": ["test_calc.py::test_add"],
                   "pass_to_pass": ["test_calc.py::test_zero"],
                   "files": {"test_calc.py": CALC_TEST}},
    }
    data.update(extra)
    return Task.model_validate(data)


# --- stats ----------------------------------------------------------------------------------


def test_wilson_interval_matches_the_published_formula() -> None:
    low, high = wilson(8, 10)
    assert round(low, 4) == 0.4902 and round(high, 4) == 0.9433
    assert wilson(0, 0) == (0.0, 1.0)
    assert wilson(0, 20)[0] == 0.0 and wilson(20, 20)[1] == 1.0


def test_exact_mcnemar_is_a_two_sided_binomial_test_on_discordant_pairs() -> None:
    assert mcnemar_exact(0, 8) == pytest.approx(2 / 256)
    assert mcnemar_exact(3, 3) == 1.0
    assert mcnemar_exact(0, 0) == 1.0
    assert mcnemar_exact(1, 9) == pytest.approx(2 * 11 / 1024)


def test_paired_comparison_reports_the_difference_with_a_bootstrap_interval() -> None:
    outcomes = [(False, True)] * 6 + [(True, True)] * 4
    result = paired("a", "b", outcomes)
    assert result.only_b == 6 and result.both == 4 and result.diff == pytest.approx(0.6)
    assert result.diff_low <= 0.6 <= result.diff_high and result.diff_low > 0
    assert result.significant
    same = paired("a", "b", [(True, True)] * 5 + [(False, False)] * 5)
    assert same.p_value == 1.0 and same.diff_low == same.diff_high == 0.0


# --- suites ---------------------------------------------------------------------------------


def test_a_bad_task_is_refused_naming_the_file_and_the_key(tmp_path: Path) -> None:
    suite = tmp_path / "suite"
    suite.mkdir()
    (suite / "t1.json").write_text(json.dumps({"id": "t1", "repo": {"path": "x"},
                                               "issue": {"title": "x"}, "verify": {}}))
    with pytest.raises(EvalError) as err:
        load_suite(suite)
    assert "t1.json" in err.value.message and "verify.fail_to_pass" in err.value.message
    (suite / "t1.json").write_text(json.dumps({
        "id": "t1", "repo": {"path": "x", "sdist": "toolz"}, "issue": {"title": "x"},
        "verify": {"fail_to_pass": ["t.py::t"]}}))
    with pytest.raises(EvalError, match="exactly one of"):
        load_suite(suite)
    jsonl = tmp_path / "s.jsonl"
    jsonl.write_text("{not json\n")
    with pytest.raises(EvalError, match=r"s\.jsonl:1"):
        load_suite(jsonl)
    result = run_tack("eval", "run", str(tmp_path / "missing"), "--variant", "a=")
    assert result.returncode == 2 and "does not exist" in result.stderr
    assert "Traceback" not in result.stderr


# --- sources and hidden tests ---------------------------------------------------------------


def test_a_local_repo_becomes_one_commit_with_the_seed_and_hidden_tests_score_it(
        tmp_path: Path) -> None:
    _repo(tmp_path / "calc", {"calc.py": CALC})
    task = _task()
    base = build_base(task, tmp_path / "base", base_dir=tmp_path)
    assert "a - b" in (base / "calc.py").read_text()
    assert git(base, "rev-list", "--count", "HEAD").strip() == "1"
    assert not (base / "test_calc.py").exists()  # hidden files never reach the agent
    checkout = tmp_path / "checkout"
    git(tmp_path, "clone", "-q", str(base), str(checkout))
    verdict = run_hidden_tests(task, checkout)
    assert verdict.passed == {"test_calc.py::test_add": False, "test_calc.py::test_zero": True}


def test_a_git_url_is_checked_out_at_its_commit(tmp_path: Path) -> None:
    repo = _repo(tmp_path / "calc", {"calc.py": CALC})
    first = git(repo, "rev-parse", "HEAD").strip()
    (repo / "calc.py").write_text("def add(a, b):\n    return 0\n")
    git(repo, "commit", "-qam", "two")
    task = _task(repo={"git": f"file://{repo}", "commit": first}, seed=[])
    base = build_base(task, tmp_path / "base", base_dir=tmp_path)
    assert (base / "calc.py").read_text() == CALC


def test_an_sdist_is_taken_from_the_cache_without_the_network(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    cache = tmp_path / "cache"
    cache.mkdir()
    with tarfile.open(cache / "calcpkg-1.0.tar.gz", "w:gz") as tar:
        data = CALC.encode()
        info = tarfile.TarInfo("calcpkg-1.0/calc.py")
        info.size = len(data)
        tar.addfile(info, io.BytesIO(data))
    monkeypatch.setenv("TACK_SDIST_CACHE", str(cache))
    task = _task(repo={"sdist": "calcpkg==1.0"})
    base = build_base(task, tmp_path / "base", base_dir=tmp_path)
    assert (base / "calc.py").read_text() == CALC.replace("a + b", "a - b")


def test_swebench_records_with_a_local_clone_become_tasks(tmp_path: Path) -> None:
    repo = _repo(tmp_path / "repos" / "acme__calc", {"calc.py": CALC})
    commit = git(repo, "rev-parse", "HEAD").strip()
    records = [
        {"instance_id": "acme__calc-1", "repo": "acme/calc", "base_commit": commit,
         "problem_statement": "add is wrong\nmore text", "FAIL_TO_PASS": '["t.py::test_a"]',
         "PASS_TO_PASS": "[]", "test_patch": "diff --git a/t.py b/t.py\n"},
        {"instance_id": "other__x-2", "repo": "other/x", "base_commit": "abc",
         "problem_statement": "x", "FAIL_TO_PASS": ["t.py::t"], "PASS_TO_PASS": []},
    ]
    src = tmp_path / "swe.jsonl"
    src.write_text("".join(json.dumps(r) + "\n" for r in records))
    written, skipped = import_swebench(src, tmp_path / "repos", tmp_path / "suite.jsonl")
    assert (written, skipped) == (1, ["other__x-2"])
    suite = load_suite(tmp_path / "suite.jsonl")
    task = suite.tasks[0]
    assert task.issue.title == "add is wrong" and task.repo.commit == commit
    assert task.verify.fail_to_pass == ["t.py::test_a"] and task.verify.patch


# --- the starter suite ----------------------------------------------------------------------


def test_the_starter_suite_has_twenty_tasks_of_every_kind(tmp_path: Path) -> None:
    assert write_suite(tmp_path / "starter") >= 20
    suite = load_suite(tmp_path / "starter")
    kinds = {t.kind for t in suite.tasks}
    assert {"wrong-comparison", "off-by-one", "missing-edge-case", "api-misuse",
            "feature"} <= kinds
    assert sum(1 for t in suite.tasks if t.kind == "feature") == 3
    assert all(t.repo.sdist for t in suite.tasks)


def _sdists_cached() -> bool:
    from tack.eval.sources import _cached, sdist_cache

    return all(_cached(sdist_cache(), {f"{n}-{v}"}) for n, v in
               (s.split("==") for s in {b.sdist for b in BUGS}))


@pytest.mark.slow
@pytest.mark.skipif(not _sdists_cached(), reason="starter sdists not in the cache (offline)")
def test_starter_tasks_fail_when_seeded_and_pass_with_the_reference_fix(tmp_path: Path) -> None:
    write_suite(tmp_path / "all")
    picked = tmp_path / "some"
    picked.mkdir()
    for name in ("toolz-tail", "inflection-ordinal", FEATURES[0].id):
        (picked / f"{name}.json").write_text((tmp_path / "all" / f"{name}.json").read_text())
    assert check_suite(picked, log=lambda _m: None) == []
