"""Where a task's repository comes from, and the base commit an agent starts from.

A local path is cloned (or copied when it is not a git repository), a git URL is cloned and
checked out at its commit, a PyPI sdist is downloaded once into a cache and unpacked. The
seeded changes are applied and everything is committed as one commit, so the agent's
history never shows the seed.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tarfile
import zipfile
from pathlib import Path

from tack.eval.suite import EvalError, RepoSource, Task

GIT_ENV = {
    "GIT_AUTHOR_NAME": "Tack Eval",
    "GIT_AUTHOR_EMAIL": "eval@tack.invalid",
    "GIT_COMMITTER_NAME": "Tack Eval",
    "GIT_COMMITTER_EMAIL": "eval@tack.invalid",
    # Fixed dates make base commits, and so every branch name's parent, reproducible.
    "GIT_AUTHOR_DATE": "2026-01-01T00:00:00Z",
    "GIT_COMMITTER_DATE": "2026-01-01T00:00:00Z",
}


def sdist_cache() -> Path:
    """`$TACK_SDIST_CACHE`, else ~/.cache/tack/sdists: offline once a tarball is here."""
    env = os.environ.get("TACK_SDIST_CACHE")
    return Path(env) if env else Path.home() / ".cache" / "tack" / "sdists"


def git(cwd: Path, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    done = subprocess.run(["git", *args], cwd=cwd, env={**os.environ, **GIT_ENV}, check=False,
                          capture_output=True, text=True)
    if check and done.returncode != 0:
        raise EvalError(f"`git {' '.join(args)}` failed in {cwd}: "
                        f"{(done.stderr or done.stdout).strip()[:400]}")
    return done


def sdist_tarball(spec: str, cache: Path | None = None) -> Path:
    """The sdist for `name==version`, downloaded with pip only when not cached yet."""
    cache = cache or sdist_cache()
    name, version = spec.split("==", 1)
    stems = {f"{n}-{version}" for n in (name, name.replace("-", "_"), name.replace("_", "-"),
                                         name.lower().replace("-", "_"))}
    found = _cached(cache, stems)
    if found:
        return found
    cache.mkdir(parents=True, exist_ok=True)
    done = subprocess.run([sys.executable, "-m", "pip", "download", "-q", "--no-deps",
                           "--no-binary", ":all:", "-d", str(cache), spec],
                          capture_output=True, text=True, check=False)
    found = _cached(cache, stems)
    if done.returncode != 0 or found is None:
        raise EvalError(
            f"cannot download the sdist {spec} ({(done.stderr or '').strip()[-300:]}). "
            f"Put its .tar.gz into {cache} (or set TACK_SDIST_CACHE) to run offline."
        )
    return found


def _cached(cache: Path, stems: set[str]) -> Path | None:
    if not cache.is_dir():
        return None
    for path in sorted(cache.iterdir()):
        for ext in (".tar.gz", ".zip"):
            if path.name.endswith(ext) and path.name[: -len(ext)].lower() in {
                    s.lower() for s in stems}:
                return path
    return None


def _unpack(archive: Path, dest: Path) -> None:
    staging = dest.with_name(dest.name + ".unpack")
    shutil.rmtree(staging, ignore_errors=True)
    if archive.name.endswith(".zip"):
        with zipfile.ZipFile(archive) as zf:
            zf.extractall(staging)
    else:
        with tarfile.open(archive) as tar:
            tar.extractall(staging, filter="data")
    entries = list(staging.iterdir())
    top = entries[0] if len(entries) == 1 and entries[0].is_dir() else staging
    shutil.move(str(top), str(dest))
    shutil.rmtree(staging, ignore_errors=True)


def fetch_source(source: RepoSource, dest: Path, *, base_dir: Path) -> None:
    """The source tree at `dest` (which must not exist yet), as the task names it."""
    if source.sdist:
        _unpack(sdist_tarball(source.sdist), dest)
        return
    if source.git:
        url = source.git
        local = (base_dir / url) if not any(url.startswith(p) for p in ("/", "http", "git@",
                                                                        "ssh:", "file:")) else None
        git(base_dir, "clone", "-q", str(local) if local and local.exists() else url, str(dest))
        if source.commit:
            git(dest, "checkout", "-q", source.commit)
        shutil.rmtree(dest / ".git")
        return
    assert source.path is not None
    path = Path(source.path).expanduser()
    path = path if path.is_absolute() else base_dir / path
    if not path.is_dir():
        raise EvalError(f"task repository {path} does not exist; fix `repo.path` (relative "
                        "paths resolve against the suite's directory).")
    if (path / ".git").exists():
        git(base_dir, "clone", "-q", str(path), str(dest))
        if source.commit:
            git(dest, "checkout", "-q", source.commit)
        shutil.rmtree(dest / ".git")
    else:
        shutil.copytree(path, dest, ignore=shutil.ignore_patterns("__pycache__", ".tack"))


def apply_seed(task: Task, tree: Path) -> None:
    for change in task.seed:
        target = tree / change.path
        if not target.is_file():
            raise EvalError(f"task {task.id}: `seed` names {change.path}, which the source does "
                            "not have; fix the path.")
        text = target.read_text("utf-8")
        if text.count(change.old) != 1:
            raise EvalError(f"task {task.id}: `seed` text for {change.path} occurs "
                            f"{text.count(change.old)} times (must be exactly once); make `old` "
                            "longer so it is unique.")
        target.write_text(text.replace(change.old, change.new), "utf-8")


def build_base(task: Task, dest: Path, *, base_dir: Path) -> Path:
    """A git repository at `dest` with one commit: the source with the seed applied."""
    if (dest / ".git").is_dir() and git(dest, "rev-parse", "-q", "--verify", "HEAD",
                                        check=False).returncode == 0:
        return dest  # built by an earlier (resumed) run
    shutil.rmtree(dest, ignore_errors=True)
    dest.parent.mkdir(parents=True, exist_ok=True)
    fetch_source(task.repo, dest, base_dir=base_dir)
    apply_seed(task, dest)
    git(dest, "init", "-q", "-b", "main")
    (dest / ".git" / "info" / "exclude").write_text("__pycache__/\n*.pyc\n.pytest_cache/\n")
    git(dest, "add", "-A")
    git(dest, "commit", "-q", "-m", f"{task.id}: starting point")
    return dest
