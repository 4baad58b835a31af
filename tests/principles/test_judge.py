"""Model-judged principles against the stub model server: batched, cached, capped."""

from __future__ import annotations

import json
from pathlib import Path

from tack.principles.cache import ScanCache
from tack.principles.document import load_document
from tack.principles.judge import Judge, JudgeSettings
from tack.principles.scanner import scan
from tack.testing.stub_model import StubModelServer
from tests.conftest import run_tack
from tests.principles.conftest import write

SECRET_RULE = """
## P010: Never log secrets
Why: Logs end up in CI output and dashboards.

```yaml check
model: Does this file log the value of an API key or token?
files: ["src/**/*.py"]
```
"""


def _verdicts(*items: tuple[str, bool, int]) -> str:
    return json.dumps({"verdicts": [
        {"path": p, "violates": v, "line": n, "reason": "logs the API key" if v else "ok"}
        for p, v, n in items]})


def _seed(repo: Path) -> None:
    with (repo / "PRINCIPLES.md").open("a") as fh:
        fh.write(SECRET_RULE)
    write(repo, "src/app/leaky.py", '"""Leaks."""\nlog.info("key", key=API_KEY)\n')


def test_model_rule_findings_are_cached_by_file_hash(prepo: Path) -> None:
    _seed(prepo)
    script = {"conversations": [{"match": "P010", "steps": [{"text": _verdicts(
        ("src/app/clean.py", False, 1), ("src/app/leaky.py", True, 2),
        ("src/app/risky.py", False, 1))}]}]}
    doc = load_document(prepo / "PRINCIPLES.md")
    cache_path = prepo / ".tack" / "scan-cache.json"
    with StubModelServer(script) as stub:
        judge = Judge(JudgeSettings(base_url=stub.url, model="stub", batch_files=8))
        first = scan(prepo, doc, cache=ScanCache(cache_path), judge=judge, only=["P010"])
        second = scan(prepo, doc, cache=ScanCache(cache_path), judge=judge, only=["P010"])
        judge.close()
        requests = [r for r in stub.requests if r.path.endswith("/chat/completions")]

    assert [(f.rule, f.path, f.line, f.message) for f in first.findings] == [
        ("P010", "src/app/leaky.py", 2, "logs the API key")]
    assert first.judge and first.judge["requests"] == 1 and first.judge["files_judged"] == 3
    # One batched request for three files; the second scan asks nothing.
    assert len(requests) == 1
    prompt = requests[0].body["messages"][1]["content"]
    assert "=== FILE src/app/leaky.py ===" in prompt and "=== FILE src/app/clean.py ===" in prompt
    assert second.judge and second.judge["requests"] == 0
    assert [f.path for f in second.findings] == ["src/app/leaky.py"]


def test_cost_cap_stops_judging_and_says_so(prepo: Path) -> None:
    _seed(prepo)
    for n in range(4):
        write(prepo, f"src/app/m{n}.py", f'"""Module {n}."""\n' + "X = 1\n" * 40)
    script = {"conversations": [{"match": "P010", "steps": [{
        "text": json.dumps({"verdicts": []}), "usage": {"input_tokens": 900, "output_tokens": 100}
    }]}]}
    doc = load_document(prepo / "PRINCIPLES.md")
    with StubModelServer(script) as stub:
        judge = Judge(JudgeSettings(base_url=stub.url, model="stub", batch_files=1,
                                    max_tokens_per_scan=1_500))
        result = scan(prepo, doc, judge=judge, only=["P010"])
        judge.close()
        asked = len([r for r in stub.requests if r.path.endswith("/chat/completions")])

    assert asked == 1  # 1000 tokens spent; the next request would pass the 1500 cap
    assert result.judge is not None and result.judge["tokens"] == 1_000
    assert result.judge["files_not_judged"] == 6
    assert "cost cap reached" in result.skipped_rules["P010"]


def test_scan_judge_flag_uses_the_workflow_endpoint(prepo: Path) -> None:
    _seed(prepo)
    script = {"conversations": [{"match": "P010", "steps": [{"text": _verdicts(
        ("src/app/clean.py", False, 1), ("src/app/leaky.py", True, 2),
        ("src/app/risky.py", False, 1))}]}]}
    with StubModelServer(script) as stub:
        write(prepo, "WORKFLOW.md", f"---\nbuiltin: {{base_url: '{stub.url}', model: stub}}\n"
              "principles: {judge: {max_tokens_per_scan: 50000}}\n---\nprompt\n")
        without = run_tack("scan", "--json", "--only", "P010", cwd=prepo)
        with_judge = run_tack("scan", "--json", "--judge", "--only", "P010", cwd=prepo)
    assert without.returncode == 0, without.stderr
    assert "--judge" in json.loads(without.stdout)["skipped_rules"]["P010"]
    assert with_judge.returncode == 1, with_judge.stderr
    data = json.loads(with_judge.stdout)
    assert [(f["rule"], f["path"], f["line"]) for f in data["findings"]] == [
        ("P010", "src/app/leaky.py", 2)]
    assert data["judge"]["cap"] == 50_000
