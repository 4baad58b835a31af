"""What is being distilled: the source files, their tests, and where each is copied.

A SOURCE is a module file, a package directory or a plain directory inside the repository.
Paths are kept relative to a layout root, so the re-implementation and the original's tests
line up the same way the original's did and imports resolve unchanged.
"""

from __future__ import annotations

import fnmatch
import shutil
from dataclasses import dataclass
from pathlib import Path

from tack.errors import TackError

_SKIP_DIRS = {".git", "__pycache__", ".pytest_cache", ".mypy_cache", ".ruff_cache", ".venv",
              "node_modules", ".tack"}
_TEST_PATTERNS = ("test_*.py", "*_test.py", "conftest.py")


class DistillError(TackError):
    """A distillation cannot start or continue; the message says what to change."""

    code = "distill_error"


def is_test(rel: Path) -> bool:
    return "tests" in rel.parts[:-1] or any(fnmatch.fnmatch(rel.name, p) for p in _TEST_PATTERNS)


def _walk(root: Path) -> list[Path]:
    if root.is_file():
        return [root]
    found: list[Path] = []
    for path in sorted(root.rglob("*")):
        if path.is_file() and not _SKIP_DIRS.intersection(path.relative_to(root).parts):
            found.append(path)
    return found


@dataclass(frozen=True)
class SourceLayout:
    """The original under distillation, as paths relative to `root`."""

    path: Path  # SOURCE itself
    root: Path  # the layout root: SOURCE for a plain directory, else its parent
    members: tuple[Path, ...]  # implementation files (relative to root)
    tests: tuple[Path, ...]  # the original's test files (relative to root)

    @property
    def name(self) -> str:
        return self.path.name

    def copy_members(self, dest: Path, *, with_tests: bool) -> None:
        for rel in self.members + (self.tests if with_tests else ()):
            target = dest / rel
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(self.root / rel, target)

    def copy_tests(self, dest: Path) -> None:
        for rel in self.tests:
            target = dest / rel
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(self.root / rel, target)

    def python_members(self) -> list[Path]:
        return [m for m in self.members if m.suffix == ".py"]


def resolve_source(source: Path, repo: Path) -> SourceLayout:
    """The layout of SOURCE, which must exist inside `repo`."""
    path = (source if source.is_absolute() else Path.cwd() / source).resolve()
    repo = repo.resolve()
    if not path.exists():
        raise DistillError(f"SOURCE {source} does not exist. Pass a module file or a package "
                           f"directory inside the repository {repo}.")
    if path != repo and repo not in path.parents:
        raise DistillError(f"SOURCE {path} is outside the repository {repo}; distill a path "
                           "inside the repository that holds WORKFLOW.md.")
    if path == repo:
        raise DistillError(f"SOURCE {source} is the whole repository; pass the module or "
                           "package to distill (for example `src/mypkg`).")
    is_package = path.is_dir() and (path / "__init__.py").exists()
    root = path if path.is_dir() and not is_package else path.parent
    files = [p.relative_to(root) for p in _walk(path)]
    members = [f for f in files if not is_test(f)]
    tests = [f for f in files if is_test(f)]
    if path.is_file() or is_package:
        stem = path.stem
        for pattern in (f"test_{stem}*.py", f"{stem}_test.py", f"tests/test_{stem}*.py",
                        "conftest.py", "tests/conftest.py"):
            tests += [p.relative_to(root) for p in sorted(root.glob(pattern)) if p.is_file()]
    if not members:
        raise DistillError(f"SOURCE {source} holds no implementation files (only tests or "
                           "nothing); pass the module or package itself.")
    return SourceLayout(path, root, tuple(members), tuple(dict.fromkeys(tests)))


def list_tree(directory: Path) -> list[str]:
    """Every file under `directory`, relative and sorted (what a workspace holds)."""
    if not directory.is_dir():
        return []
    return sorted(str(p.relative_to(directory)) for p in _walk(directory))
