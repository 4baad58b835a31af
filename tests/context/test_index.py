"""The org manifest, mirrors and the index through the real `tack context` CLI: every tool
answers with provenance, only changed files are re-indexed, and deleted files disappear."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.conftest import git, run_tack
from tests.context.org import make_org

FIELDS = {"repo", "commit", "path", "line", "indexed_at", "stale"}


@pytest.fixture
def org(tmp_path: Path) -> tuple[Path, dict[str, str]]:
    manifest = make_org(tmp_path / "org", with_sdist=True)
    home = tmp_path / "home"
    synced = run_tack("context", "sync", "--manifest", str(manifest), "--home", str(home),
                      "--json")
    assert synced.returncode == 0, synced.stderr
    report = json.loads(synced.stdout)
    assert report["indexed"]["billing"]["added"] == 8 and not report["errors"]
    return manifest, {"TACK_CONTEXT_HOME": str(home)}


def tack_json(env: dict[str, str], *args: str) -> object:
    done = run_tack("context", *args, "--json", env=env)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def test_a_broken_manifest_names_the_file_the_key_and_the_fix(tmp_path: Path) -> None:
    manifest = tmp_path / "context.yaml"
    manifest.write_text("repos:\n  - name: billing\n    url: https://example.invalid/b.git\n"
                        "    purpose: Bills.\n    colour: blue\n")
    done = run_tack("context", "sync", "--manifest", str(manifest), "--home",
                    str(tmp_path / "home"))
    assert done.returncode == 2
    assert str(manifest) in done.stderr and "Traceback" not in done.stderr
    assert "repos[billing].owner` is required" in done.stderr
    assert "repos[billing].colour` is not a known key" in done.stderr


def test_every_tool_answers_across_the_org_with_provenance(
        org: tuple[Path, dict[str, str]]) -> None:
    _, env = org
    hits = tack_json(env, "search", "qz-invoice-77")
    assert isinstance(hits, list) and hits[0]["path"] == "billing/invoices.py"
    assert hits[0]["line"] == 5 and FIELDS <= set(hits[0]) and hits[0]["stale"] is False
    assert len(hits[0]["commit"]) == 40
    docs = tack_json(env, "search", "ledger reconciliation", "--repo", "handbook")
    assert [h["path"] for h in docs] == ["oncall.md"]  # type: ignore[index]
    go_only = tack_json(env, "search", "ledger", "--lang", "go")
    assert {h["path"] for h in go_only} == {"cmd/ledger/main.go"}  # type: ignore[union-attr]
    for name, path in [("InvoiceRenderer", "billing/invoices.py"),
                       ("BillingClient", "web/client.ts"), ("formatCents", "web/format.ts"),
                       ("ReconcileLedger", "cmd/ledger/main.go"), ("RateLimiter", "src/lib.rs"),
                       ("chargeCard", "src/main/java/com/acme/Payments.java"),
                       ("invoices", "db/schema.sql")]:
        found = tack_json(env, "symbol", name)
        assert isinstance(found, list) and found, name
        assert found[0]["path"] == path and FIELDS <= set(found[0]), found
    refs = tack_json(env, "refs", "Money")
    assert isinstance(refs, list) and all(FIELDS <= set(r) for r in refs)
    assert [(r["repo"], r["path"], r["line"], r["kind"]) for r in refs] == [
        ("billing", "billing/invoices.py", 1, "reference"),
        ("billing", "billing/invoices.py", 8, "reference"),
        ("billing", "billing/money.py", 1, "definition")]
    assert refs[1]["text"] == "return Money(invoice_id).as_bytes()"
    assert tack_json(env, "refs", "Money", "--repo", "services") == []
    assert len(tack_json(env, "refs", "Money", "--limit", "2")) == 2  # type: ignore[arg-type]
    bad = run_tack("context", "refs", "Money(", env=env)
    assert bad.returncode == 2 and "give one identifier" in bad.stderr
    read = tack_json(env, "read", "billing:billing/money.py:5-6")
    assert isinstance(read, dict) and read["line"] == 5 and "def as_bytes" in read["text"]
    assert "__init__" not in read["text"] and FIELDS <= set(read)
    repo_map = run_tack("context", "map", "billing", "--budget", "120", env=env)
    # money.py defines the names other files use most, so it leads the map.
    assert repo_map.stdout.splitlines()[1] == "billing/money.py:", repo_map.stdout
    assert len(repo_map.stdout) <= 120 * 4 + 80
    sources = run_tack("context", "map", env=env).stdout
    assert "billing (repo)" in sources and "[owner: payments-team]" in sources
    metric = tack_json(env, "catalog", "weekly revenue")
    assert isinstance(metric, list) and metric[0]["name"] == "weekly_revenue"
    assert metric[0]["kind"] == "metric" and "ISO week" in metric[0]["description"]
    columns = tack_json(env, "catalog", "revenue_cents")
    assert any(c["parent"] == "fct_orders" and c["description"] == "Gross revenue"
               for c in columns)  # type: ignore[union-attr]
    fk = tack_json(env, "catalog", "customer_id")
    assert any(c["parent"] == "invoices" and "references customers" in c["description"]
               for c in fk)  # type: ignore[union-attr]
    endpoint = tack_json(env, "catalog", "invoice")
    assert any(c["name"] == "GET /invoices/{id}" for c in endpoint)  # type: ignore[union-attr]


def test_a_commit_reindexes_only_changed_files_and_deleted_files_disappear(
        org: tuple[Path, dict[str, str]]) -> None:
    manifest, env = org
    billing = manifest.parent / "billing"
    (billing / "billing" / "money.py").write_text(
        (billing / "billing" / "money.py").read_text() + "\n\ndef refund_marker_zz91() -> None:"
        "\n    pass\n")
    git(billing, "rm", "-q", "web/format.ts")
    git(billing, "commit", "-qam", "refunds; drop the formatter")
    head = git(billing, "rev-parse", "HEAD").strip()
    report = tack_json(env, "sync", "--manifest", str(manifest), "--repo", "billing")
    assert report["indexed"]["billing"] == {"added": 1, "removed": 1,  # type: ignore[index]
                                            "unchanged": 6}
    hits = tack_json(env, "search", "refund_marker_zz91")
    assert isinstance(hits, list) and hits[0]["commit"] == head
    assert tack_json(env, "symbol", "formatCents") == []
    still_used = tack_json(env, "refs", "formatCents")
    assert [(r["path"], r["kind"]) for r in still_used] == [  # type: ignore[union-attr]
        ("web/client.ts", "reference")]
    assert tack_json(env, "search", "toFixed") == []
    again = tack_json(env, "sync", "--manifest", str(manifest), "--repo", "billing")
    assert again["indexed"]["billing"]["added"] == 0  # type: ignore[index]


def test_a_real_sdist_is_searchable(org: tuple[Path, dict[str, str]]) -> None:
    manifest, env = org
    if not (manifest.parent / "six").exists():
        pytest.skip("the six sdist could not be downloaded (offline)")
    found = tack_json(env, "symbol", "add_metaclass", "--repo", "six")
    assert isinstance(found, list) and found[0]["path"] == "six.py"


def test_a_missing_index_says_how_to_build_one(tmp_path: Path) -> None:
    done = run_tack("context", "search", "x", env={"TACK_CONTEXT_HOME": str(tmp_path / "h")})
    assert done.returncode == 2 and "tack context sync --manifest" in done.stderr


def test_an_unreachable_repository_keeps_its_index_but_marks_it_stale(
        org: tuple[Path, dict[str, str]]) -> None:
    manifest, env = org
    (manifest.parent / "billing").rename(manifest.parent / "billing-moved")
    done = run_tack("context", "sync", "--manifest", str(manifest), env=env)
    assert done.returncode == 1 and "billing: error:" in done.stderr
    hits = tack_json(env, "search", "qz-invoice-77")
    assert isinstance(hits, list) and hits[0]["repo"] == "billing" and hits[0]["stale"] is True
    fresh = tack_json(env, "symbol", "RateLimiter")
    assert isinstance(fresh, list) and fresh[0]["stale"] is False


def test_syncing_an_unknown_source_names_the_known_ones(tmp_path: Path) -> None:
    (tmp_path / "handbook").mkdir()
    manifest = tmp_path / "context.yaml"
    manifest.write_text("docs:\n  - {name: handbook, path: handbook, owner: sre, "
                        "purpose: Runbooks.}\n")
    done = run_tack("context", "sync", "--manifest", str(manifest), "--home",
                    str(tmp_path / "home"), "--repo", "billing")
    assert done.returncode == 2
    assert "no source named billing" in done.stderr and "known: handbook" in done.stderr
