"""Materialising skills into a workspace: copies in `.agents/skills/` and `.claude/skills/`,
kept out of git, chosen per issue with `when`, refused when tampered with."""

from __future__ import annotations

from pathlib import Path

import pytest

from tack.skills import SkillError, SkillsHome
from tack.skills.installer import add
from tack.skills.materialise import materialise_skills, verify_before_up
from tack.tracker.base import Issue
from tack.workflow.config import SkillsConfig
from tests.conftest import git
from tests.skills.helpers import write_skill


def issue(labels: tuple[str, ...] = (), description: str = "") -> Issue:
    return Issue(id="1", identifier="TACK-1", title="Fix the thing", state="Todo",
                 labels=labels, description=description)


@pytest.fixture
def home(git_repo: Path, tmp_path: Path) -> SkillsHome:
    home = SkillsHome(git_repo)
    add(home, SkillsConfig(), str(write_skill(tmp_path / "src", "always-on", "Always there.")))
    add(home, SkillsConfig(), str(write_skill(tmp_path / "src", "web-only", "For the web.")))
    return home


@pytest.fixture
def worktree(git_repo: Path, tmp_path: Path) -> Path:
    path = tmp_path / "ws"
    git(git_repo, "worktree", "add", "-q", "-b", "tack/tack-1", str(path))
    return path


def test_skills_are_copied_for_both_clients_and_kept_out_of_git(
        home: SkillsHome, worktree: Path) -> None:
    refs = materialise_skills(worktree, home, SkillsConfig(), issue())
    assert [r.name for r in refs] == ["always-on", "web-only"]
    for rel in (".agents/skills", ".claude/skills"):
        copy = worktree / rel / "always-on"
        assert copy.is_dir() and not copy.is_symlink()
        assert (copy / "SKILL.md").read_text() == \
            (home.installed("always-on") / "SKILL.md").read_text()
    assert git(worktree, "status", "--porcelain") == ""
    assert refs[0].hash.startswith("sha256:")


def test_when_labels_and_paths_choose_what_an_issue_sees(
        home: SkillsHome, worktree: Path) -> None:
    config = SkillsConfig.model_validate(
        {"entries": {"web-only": {"when": {"labels": ["Frontend"], "paths": ["web/*"]}}}})
    assert [r.name for r in materialise_skills(worktree, home, config, issue())] == ["always-on"]
    assert not (worktree / ".agents/skills/web-only").exists()
    seen = materialise_skills(worktree, home, config, issue(labels=("frontend",)))
    assert [r.name for r in seen] == ["always-on", "web-only"]
    # a later attempt for an issue that no longer fits takes the copy away again
    materialise_skills(worktree, home, config, issue())
    assert not (worktree / ".claude/skills/web-only").exists()
    by_path = materialise_skills(worktree, home, config,
                                 issue(description="The button in web/app.tsx is broken."))
    assert "web-only" in [r.name for r in by_path]


def test_a_tampered_skill_blocks_the_run_and_tack_up(home: SkillsHome, worktree: Path) -> None:
    (home.installed("web-only") / "SKILL.md").write_text("---\nname: web-only\n---\nevil\n")
    with pytest.raises(SkillError) as caught:
        materialise_skills(worktree, home, SkillsConfig(), issue())
    assert "Skill 'web-only' changed: SKILL.md" in caught.value.message
    assert "tack skills install" in caught.value.message
    assert not (worktree / ".agents/skills/web-only").exists()
    with pytest.raises(SkillError, match="web-only"):
        verify_before_up(home)
