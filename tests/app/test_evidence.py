"""Evidence of a run: stored per run, served by the API, listed in the PR body (issue 14 §6);
and the snapshot digest's budget (§4). No browser needed."""

from __future__ import annotations

from pathlib import Path

import httpx

from tack.app import artifacts
from tack.app.snapshot import Digest, changes
from tack.feedback.tokens import count_tokens
from tack.forge import body
from tack.tracker.base import Issue
from tests.server.served import ServedOrchestrator

PNG = b"\x89PNG\r\n\x1a\n" + b"0" * 64


def test_api_serves_a_runs_artifacts_and_nothing_else(tmp_path: Path) -> None:
    ws = tmp_path / "ws"
    (ws / ".tack" / "app" / "artifacts").mkdir(parents=True)
    (ws / ".tack" / "app" / "artifacts" / "after-fix.png").write_bytes(PNG)
    with ServedOrchestrator(tmp_path) as served:
        tack_dir = served.orch.workflow.tack_dir
        assert artifacts.collect(ws, tack_dir, 42) == ["after-fix.png"]
        (tack_dir / "secret.txt").write_text("not evidence")
        with httpx.Client(base_url=served.url, timeout=20) as client:
            index = client.get("/api/v1/runs/42/artifacts").json()
            assert index["artifacts"] == [{"name": "after-fix.png", "media_type": "image/png",
                                           "url": "/api/v1/runs/42/artifacts/after-fix.png"}]
            shot = client.get("/api/v1/runs/42/artifacts/after-fix.png")
            assert shot.status_code == 200 and shot.content == PNG
            assert shot.headers["content-type"] == "image/png"
            assert client.get("/api/v1/runs/42/artifacts/..%2Fsecret.txt").status_code == 404
            assert client.get("/api/v1/runs/42/artifacts/missing.png").status_code == 404
            assert client.get("/api/v1/runs/7/artifacts").json()["artifacts"] == []


def test_pr_body_lists_the_evidence() -> None:
    issue = Issue(id="1", identifier="TACK-1", title="t", state="Human Review")
    text = body.render(issue, {"run_id": 5, "artifacts": ["after-fix.png"]}, link="x",
                       diff_stat="", commits=[])
    assert "## Evidence" in text and "/api/v1/runs/5/artifacts/after-fix.png" in text
    assert "## Evidence" not in body.render(issue, {"run_id": 5}, link="x", diff_stat="",
                                            commits=[])


def big_tree(rows: int) -> str:
    lines = ["- main [ref=e1]:", '  - heading "Sessions" [level=1] [ref=e2]', "  - table [ref=e3]:"]
    for i in range(rows):
        lines += [f"    - row [ref=e{10 + 4 * i}]:",
                  f'      - cell "TACK-{i} In Progress turn 3 of 20 12,345 tokens" [ref=e{11 + 4 * i}]',
                  f'      - link "TACK-{i}" [ref=e{12 + 4 * i}]:',
                  f"        - /url: /api/v1/TACK-{i}"]
    return "\n".join(lines)


def test_digest_stays_within_its_budget_and_says_what_it_left_out() -> None:
    tree = big_tree(400)
    digest = Digest("http://x/", "Sessions", tree, "/tmp/s.yml", errors=["error: boom"]).render(1500)
    assert count_tokens(digest) <= 1500
    assert "error: boom" in digest and 'heading "Sessions"' in digest
    assert "more in the full tree" in digest
    assert count_tokens(digest) < count_tokens(tree) / 10


def test_changes_ignore_renumbered_refs_and_focus() -> None:
    before = '- button "Add one" [ref=e5]\n- status [ref=e4]: "Count: 0"'
    after = '- button "Add one" [active] [ref=f1e5]\n- status [ref=f1e4]: "Count: 1"'
    assert changes(before, after) == ['- status: "Count: 0"', '+ status [ref=f1e4]: "Count: 1"']
    assert changes(before, before.replace("e5", "f2e5")) == []


def test_dashboard_timeline_shows_a_runs_evidence(tmp_path: Path) -> None:
    from tack.server.artifacts import with_artifacts
    from tack.server.fragments import timeline_runs

    (artifacts.run_dir(tmp_path, 3)).mkdir(parents=True)
    (artifacts.run_dir(tmp_path, 3) / "after-fix.png").write_bytes(PNG)
    detail = with_artifacts({"runs": [{"run_id": 3, "status": "succeeded"}]}, tmp_path)
    html = str(timeline_runs(detail))
    assert '<img src="/api/v1/runs/3/artifacts/after-fix.png"' in html
    assert 'aria-label="Evidence of run 3"' in html


def test_dashboard_plays_a_recording_with_its_poster_and_the_api_serves_it(tmp_path: Path) -> None:
    from tack.server.artifacts import with_artifacts
    from tack.server.fragments import timeline_runs

    folder = artifacts.run_dir(tmp_path, 4)
    folder.mkdir(parents=True)
    (folder / "recording-1.webm").write_bytes(b"\x1aE\xdf\xa3webm")
    (folder / "recording-1-poster.jpg").write_bytes(b"\xff\xd8jpeg")
    detail = with_artifacts({"runs": [{"run_id": 4, "status": "succeeded"}]}, tmp_path)
    html = str(timeline_runs(detail))
    assert ('<video controls preload="none" src="/api/v1/runs/4/artifacts/recording-1.webm" '
            'poster="/api/v1/runs/4/artifacts/recording-1-poster.jpg"') in html
    assert artifacts.media_type("recording-1.webm") == "video/webm"
    assert "- `recording-1.webm`" in "\n".join(artifacts.evidence_markdown(4, ["recording-1.webm"]))
