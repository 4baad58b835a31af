"""Skill sources built for real in a test: a folder, a git repository with tags, a wheel
(`pip wheel`) and an npm tarball (`npm pack`)."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import git

needs_npm = pytest.mark.skipif(shutil.which("npm") is None, reason="npm is not installed")


def skill_md(name: str, description: str, body: str = "Follow these steps.\n") -> str:
    return f"---\nname: {name}\ndescription: {description}\n---\n# {name}\n{body}"


def write_skill(parent: Path, name: str, description: str = "Does a thing when asked.",
                body: str = "Follow these steps.\n") -> Path:
    folder = parent / name
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "SKILL.md").write_text(skill_md(name, description, body))
    return folder


def git_skill_repo(root: Path, name: str = "frob-git") -> Path:
    """A repository whose `v1.0` tag has body "version one" and whose main has "version two"."""
    repo = root / "skill-repo"
    repo.mkdir()
    git(repo, "init", "-q", "-b", "main")
    write_skill(repo / "skills", name, "Frobs from git.", "version one\n")
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", "v1")
    git(repo, "tag", "-a", "v1.0", "-m", "release 1.0")
    write_skill(repo / "skills", name, "Frobs from git.", "version two\n")
    git(repo, "commit", "-q", "-am", "v2")
    return repo


def python_project(root: Path, name: str) -> Path:
    """A setuptools project whose skills sit under a `tack.skills` entry point."""
    project = root / "wheel-project"
    package = project / "src" / "frob_pkg"
    write_skill(package / "skills", name, "Frobs from a wheel.")
    (package / "__init__.py").write_text("")
    (project / "pyproject.toml").write_text(
        '[build-system]\nrequires = ["setuptools"]\nbuild-backend = "setuptools.build_meta"\n'
        '[project]\nname = "frob-pkg"\nversion = "1.2.0"\n'
        '[project.entry-points."tack.skills"]\nfrob = "frob_pkg.skills"\n'
        '[tool.setuptools.package-data]\nfrob_pkg = ["skills/**/*"]\n')
    return project


def build_wheel(root: Path, name: str = "frob-wheel") -> Path:
    """A wheel built with `pip wheel` (offline, no build isolation)."""
    project = python_project(root, name)
    out = root / "wheels"
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps",
                    "--no-build-isolation", "--no-index", "-w", str(out), str(project)],
                   check=True, capture_output=True)
    return next(out.glob("*.whl"))


def npm_tarball(root: Path, name: str = "frob-npm") -> Path:
    """A tarball made by `npm pack` from a local package folder with skills/."""
    package = root / "npm-package"
    write_skill(package / "skills", name, "Frobs from npm.")
    (package / "package.json").write_text(json.dumps(
        {"name": "frob-skills", "version": "2.3.4", "files": ["skills"]}))
    out = root / "npm-out"
    out.mkdir()
    subprocess.run(["npm", "pack", "--pack-destination", str(out)], cwd=package, check=True,
                   capture_output=True)
    return next(out.glob("*.tgz"))


def build_sdist(root: Path, name: str = "frob-sdist") -> Path:
    """An sdist built by setuptools' PEP 517 backend, the hook `python -m build` calls."""
    project = python_project(root, name)
    out = root / "sdists"
    hook = "import sys; from setuptools import build_meta; build_meta.build_sdist(sys.argv[1])"
    subprocess.run([sys.executable, "-c", hook, str(out)],
                   cwd=project, check=True, capture_output=True)
    return next(out.glob("*.tar.gz"))
