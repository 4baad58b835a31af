"""The audit of a skill folder: the spec's front matter rules, scripts and interpreters,
oversized files, and nothing reaching outside the folder."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tack.skills.audit import audit_skill
from tests.skills.helpers import skill_md, write_skill


def audit(folder: Path, max_file_bytes: int = 1_000_000) -> tuple[list[str], list[str]]:
    report = audit_skill(folder, max_file_bytes=max_file_bytes)
    return report.errors, report.warnings


def test_a_valid_skill_lists_its_scripts_with_their_interpreters(tmp_path: Path) -> None:
    folder = write_skill(tmp_path, "pdf-tools", "Fill PDF forms when a task mentions PDFs.")
    scripts = folder / "scripts"
    scripts.mkdir()
    (scripts / "fill.py").write_text("#!/usr/bin/env python3\nprint('x')\n")
    (scripts / "run.sh").write_text("echo hi\n")
    (folder / "tool").write_text("#!/bin/bash\necho\n")
    os.chmod(folder / "tool", 0o755)
    (folder / "references").mkdir()
    (folder / "references" / "big.md").write_text("x" * 2000)
    report = audit_skill(folder, max_file_bytes=1000)
    assert report.errors == []
    assert {(s.path, s.interpreter) for s in report.scripts} == {
        ("scripts/fill.py", "python3"), ("scripts/run.sh", "sh"), ("tool", "bash")}
    assert any("references/big.md is 2000 bytes" in w for w in report.warnings)
    assert report.files == 5


@pytest.mark.parametrize(("name", "complaint"), [
    ("PDF-Tools", "lowercase"),
    ("-pdf", "lowercase"),
    ("pdf--tools", "lowercase"),
    ("pdf-", "lowercase"),
    ("p" * 65, "at most 64"),
])
def test_names_outside_the_spec_are_refused(tmp_path: Path, name: str, complaint: str) -> None:
    folder = tmp_path / name
    folder.mkdir()
    (folder / "SKILL.md").write_text(skill_md(name, "A description."))
    errors, _ = audit(folder)
    assert any(complaint in e for e in errors), errors


def test_name_must_match_its_folder_and_description_is_bounded(tmp_path: Path) -> None:
    folder = tmp_path / "pdf-tools"
    folder.mkdir()
    (folder / "SKILL.md").write_text(skill_md("pdf-tool", "d" * 1025))
    errors, _ = audit(folder)
    assert any("differs from its folder name" in e for e in errors), errors
    assert any("`description` is 1025 characters" in e for e in errors), errors
    (folder / "SKILL.md").write_text("---\nname: pdf-tools\n---\nbody\n")
    assert "front matter `description` is missing" in audit(folder)[0]
    (folder / "SKILL.md").write_text("no front matter\n")
    assert any("does not start with YAML front matter" in e for e in audit(folder)[0])


def test_anything_reaching_outside_the_folder_is_refused(tmp_path: Path) -> None:
    folder = write_skill(tmp_path, "escape", body="Read [the key](../../secrets/key.pem).\n")
    errors, _ = audit(folder)
    assert any("refers to a path outside its folder" in e for e in errors), errors
    folder = write_skill(tmp_path, "linked")
    (folder / "assets").symlink_to(tmp_path)
    errors, _ = audit(folder)
    assert errors == ["assets is a symlink (skills must be plain files)"]


def test_fields_outside_the_spec_are_a_warning_not_an_error(tmp_path: Path) -> None:
    folder = tmp_path / "extras"
    folder.mkdir()
    (folder / "SKILL.md").write_text(
        "---\nname: extras\ndescription: Has extras.\nuser-invocable: true\n---\nbody\n")
    errors, warnings = audit(folder)
    assert errors == [] and any("user-invocable" in w for w in warnings)
