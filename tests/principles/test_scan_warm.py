"""A warm `tack scan --json` replays the last report while the tree is unchanged
(`tack.scan_replay`), and any change to a file, a rule or the file list runs the scan again;
a cold scan over worker processes finds exactly what one process finds."""

from __future__ import annotations

from pathlib import Path

from tests.principles.conftest import BARE_EXCEPT, scan_json, write


def _replayed_scan(repo: Path) -> dict:
    """A warm scan that can only be a replay: without the per-file cache, a scan that ran
    would compute every result again (cache misses)."""
    (repo / ".tack" / "scan-cache.json").unlink()
    return scan_json(repo)


def test_a_warm_scan_replays_the_cold_findings_identically(prepo: Path) -> None:
    cold = scan_json(prepo)
    assert cold["findings"] and cold["cache"]["misses"] > 0
    warm = _replayed_scan(prepo)
    assert warm["findings"] == cold["findings"]
    assert warm["cache"] == {"hits": cold["cache"]["misses"], "misses": 0}
    assert warm["files_scanned"] == cold["files_scanned"]


def test_editing_a_file_runs_the_scan_again(prepo: Path) -> None:
    scan_json(prepo)
    write(prepo, "src/app/risky.py", '"""Fixed."""\n')
    edited = scan_json(prepo)
    assert edited["findings"] == [] and edited["cache"]["misses"] > 0


def test_editing_a_rule_runs_the_scan_again(prepo: Path) -> None:
    assert scan_json(prepo)["findings"]
    doc = (prepo / "PRINCIPLES.md").read_text()
    assert r"'^except\s*:'" in doc
    (prepo / "PRINCIPLES.md").write_text(doc.replace(r"'^except\s*:'", r"'^except\s+Exception'"))
    edited = scan_json(prepo)
    assert edited["findings"] == [] and edited["cache"]["misses"] > 0


def test_deleting_or_adding_a_file_runs_the_scan_again(prepo: Path) -> None:
    cold = scan_json(prepo)
    (prepo / "src/app/risky.py").unlink()
    gone = scan_json(prepo)
    assert gone["findings"] == [] and gone["files_scanned"] == cold["files_scanned"] - 1
    write(prepo, "src/app/new.py", BARE_EXCEPT)
    added = scan_json(prepo)
    assert [f["path"] for f in added["findings"]] == ["src/app/new.py"]


def test_workers_find_exactly_what_one_process_finds(prepo: Path) -> None:
    # Enough files for worker processes (PARALLEL_MIN_FILES), each with something to find.
    for n in range(140):
        body = BARE_EXCEPT if n % 3 else '"""Clean."""\n\nVALUE = 1\n'
        write(prepo, f"src/gen/m{n:03d}.py", body + f"\nNAME = {n}\n")
    one = scan_json(prepo, "--no-cache", "-j", "1")
    two = scan_json(prepo, "--no-cache", "-j", "2")
    assert len(one["findings"]) > 90 and two["findings"] == one["findings"]
    assert two["errors"] == [] and two["files_scanned"] == one["files_scanned"]
