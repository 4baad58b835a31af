"""`tack eval` end to end: real orchestrator, built-in agent on the sensitive stub model,
hidden tests in clean checkouts, SQLite results, paired statistics, HTML report."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest

from tests.conftest import run_tack
from tests.eval.sensitive import make_suite

pytestmark = pytest.mark.slow

TASKS = 8


def _run(root: Path, *extra: str) -> None:
    result = run_tack(
        "eval", "run", str(root / "suite"), "--out", str(root / "run"),
        "--stub-script", str(root / "stub.json"), "--jobs", "4", "--timeout", "60",
        "--variant", "with=principles=PRINCIPLES.md",
        "--variant", "same=principles=PRINCIPLES.md",
        "--variant", "without=principles=PRINCIPLES.md,principles.enabled=false",
        *extra, cwd=root, timeout=400)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "Traceback" not in result.stderr


def test_principle_variant_differs_significantly_and_identical_variants_do_not(
        tmp_path: Path) -> None:
    make_suite(tmp_path, TASKS)
    _run(tmp_path)
    report = run_tack("eval", "report", str(tmp_path / "run"), "--json",
                      "--html", str(tmp_path / "report.html"), "--price", "3:15")
    assert report.returncode == 0, report.stderr
    summary = json.loads(report.stdout)
    rates = {v["variant"]: v for v in summary["variants"]}
    assert rates["with"]["resolved"] == TASKS and rates["same"]["resolved"] == TASKS
    assert rates["without"]["resolved"] == 0
    assert all(v["errors"] == 0 for v in rates.values())
    assert rates["with"]["ci_low"] > 0.6 and rates["without"]["ci_high"] < 0.4
    assert rates["with"]["tokens_per_task"] > 0 and rates["with"]["cost_usd"] > 0
    comps = {(c["a"], c["b"]): c for c in summary["comparisons"]}
    assert comps[("with", "without")]["significant"]
    assert comps[("with", "without")]["p_value"] < 0.01
    assert comps[("with", "without")]["diff"] == -1.0
    assert not comps[("with", "same")]["significant"]
    assert comps[("with", "same")]["p_value"] == 1.0
    flipped = {f["task"] for f in summary["flips"] if f["b"] == "without"}
    assert len(flipped) == TASKS
    page = (tmp_path / "report.html").read_text()
    assert page.count("<svg") >= 2 and "significant" in page

    # Resumable: a lost trial is run again, scored ones are kept as they were.
    db = sqlite3.connect(tmp_path / "run" / "results.sqlite")
    before = dict(db.execute("SELECT task_id || variant, finished_at FROM trials").fetchall())
    with db:
        db.execute("DELETE FROM trials WHERE task_id = 'bounds-03' AND variant = 'with'")
    _run(tmp_path)
    after = dict(db.execute("SELECT task_id || variant, finished_at FROM trials").fetchall())
    db.close()
    assert after.keys() == before.keys()
    changed = {k for k in after if after[k] != before[k]}
    assert changed == {"bounds-03with"}

    # Two runs side by side: the same variant in both shows no difference.
    import shutil

    shutil.copytree(tmp_path / "run", tmp_path / "rerun")
    compared = run_tack("eval", "compare", str(tmp_path / "run"), str(tmp_path / "rerun"),
                        "--json")
    assert compared.returncode == 0, compared.stderr
    pairs = {(c["a"], c["b"]): c for c in json.loads(compared.stdout)["comparisons"]}
    assert pairs[("run:with", "rerun:with")]["p_value"] == 1.0
    assert pairs[("run:with", "rerun:without")]["significant"]


def test_a_bad_override_is_refused_with_the_key_named(tmp_path: Path) -> None:
    make_suite(tmp_path, 1)
    result = run_tack("eval", "run", str(tmp_path / "suite"), "--out", str(tmp_path / "run"),
                      "--variant", "bad=agent.max_turns=zero", cwd=tmp_path)
    assert result.returncode == 2
    assert "variant `bad`" in result.stderr and "max_turns" in result.stderr
    assert "Traceback" not in result.stderr


def test_an_agent_that_never_hands_off_ends_after_max_runs_unresolved(tmp_path: Path) -> None:
    make_suite(tmp_path, 1)
    (tmp_path / "idle.json").write_text(json.dumps(
        {"conversations": [{"steps": [{"text": "I looked around and stopped."}]}]}))
    result = run_tack("eval", "run", str(tmp_path / "suite"), "--out", str(tmp_path / "run"),
                      "--stub-script", str(tmp_path / "idle.json"), "--variant", "a=",
                      "--max-runs", "2", "--timeout", "120", cwd=tmp_path, timeout=200)
    assert result.returncode == 0, result.stderr
    db = sqlite3.connect(tmp_path / "run" / "results.sqlite")
    row = db.execute("SELECT status, resolved, handed_off, error, agent_s FROM trials").fetchone()
    db.close()
    assert row[:3] == ("scored", 0, 0)
    assert "not handed off after 2 runs" in row[3]
    assert row[4] < 100  # ended by the run cap, not the timeout


def test_jobs_runs_trials_at_once(tmp_path: Path) -> None:
    """`--jobs 2`: two trials' agents talk to the model at the same time. Each model answer
    waits 1.5 s, so one trial's conversation spans at least 6 s; run one after the other,
    the second trial's first request would come after the first trial's last."""
    import asyncio

    from tack.eval import load_suite
    from tack.eval.runner import RunPlan, run_plan
    from tack.eval.variants import parse_variant
    from tack.testing import StubModelServer
    from tests.eval.sensitive import stub_script

    make_suite(tmp_path, 2)
    script = stub_script()
    for conversation in script["conversations"]:
        for step in conversation["steps"]:
            step["delay_ms"] = 1500
    with StubModelServer(script) as stub:
        plan = RunPlan(load_suite(tmp_path / "suite"),
                       [parse_variant(f"with=principles={tmp_path / 'PRINCIPLES.md'}",
                                      cwd=tmp_path)],
                       tmp_path / "run", jobs=2, timeout_s=120,
                       common={"builtin": {"base_url": stub.url}})
        store = asyncio.run(run_plan(plan))
        spans: dict[str, list[float]] = {}
        for request in stub.requests:
            report = "report 0" if "report 0" in json.dumps(request.body) else "report 1"
            spans.setdefault(report, []).append(request.at)
    assert [r.resolved for r in store.results()] == [True, True]
    store.close()
    assert len(spans) == 2, spans
    first, second = sorted(spans.values(), key=min)
    assert min(second) < max(first), spans  # the later trial began before the earlier ended
