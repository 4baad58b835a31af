"""Where skills come from, fetched with the real clients: a local folder, a git repository at
a ref (`git`), a PyPI distribution (`pip download --no-deps`), an npm package (`npm pack`),
and Tack's own skills (`tack:NAME`, served by the installed Tack).

A source string is what the user typed; `parse_source` says what kind it is, `fetch` puts
its files in a scratch directory and `discover` finds the skill folders in them.
"""

from __future__ import annotations

import configparser
import json
import shutil
import subprocess
import sys
import tarfile
import tomllib
import zipfile
from dataclasses import dataclass
from email.parser import BytesParser
from pathlib import Path
from urllib.parse import urlsplit

import tack
from tack.skills.base import SKILL_FILE, SkillError

FETCH_TIMEOUT_S = 600
ENTRY_POINT_GROUP = "tack.skills"
BUILTIN_DIR = Path(__file__).parent / "builtin"
# Where a repository or package usually keeps its skills, in the order they are looked at.
_SKILL_ROOTS = ("skills", ".agents/skills", ".claude/skills", "")


@dataclass(frozen=True)
class Source:
    kind: str  # local | git | pypi | npm | tack
    location: str  # a path, URL, requirement or package spec
    ref: str | None = None
    text: str = ""  # as the user wrote it; recorded in skills.lock


@dataclass
class Fetched:
    root: Path
    resolved: str  # commit, version, or content hash for a local folder
    skills: dict[str, Path]  # skill folder name -> folder


def parse_source(text: str, base: Path) -> Source:
    """The kind of `text`; relative paths are taken from `base` (the repository)."""
    raw = text.strip()
    if raw.startswith("tack:"):
        return Source("tack", raw[5:], None, raw)
    if raw.startswith("git+"):
        url, ref = _split_url_ref(raw[4:])
        return Source("git", url, ref, raw)
    if raw.startswith(("pypi:", "pip:")):
        return Source("pypi", raw.split(":", 1)[1], None, raw)
    if raw.startswith("npm:"):
        return Source("npm", raw[4:], None, raw)
    path = (base / raw).expanduser()
    if raw.endswith((".whl", ".tar.gz", ".zip")) and path.is_file():
        return Source("pypi", str(path.resolve()), None, raw)
    if raw.endswith(".tgz") and path.is_file():
        return Source("npm", str(path.resolve()), None, raw)
    if path.is_dir():
        return Source("local", str(path.resolve()), None, raw)
    head, sep, ref = raw.rpartition("@")
    repo = (base / head).expanduser()
    if sep and head and "/" not in ref and (repo / ".git").exists():
        return Source("git", str(repo.resolve()), ref, raw)
    raise SkillError(
        f"Cannot tell what kind of skill source {text!r} is. Use a folder path, "
        "`git+https://host/repo@REF`, `PATH/TO/REPO@TAG` (a local git repository), "
        "`pypi:DIST==VERSION` or a `.whl`/`.tar.gz` file, `npm:PACKAGE@VERSION` or a `.tgz` "
        "file, or `tack:tack-check`.", code="skill_source_unknown")


def _split_url_ref(url: str) -> tuple[str, str | None]:
    parts = urlsplit(url)
    path, sep, ref = parts.path.rpartition("@")
    if not sep or not path:
        return url, None
    return parts._replace(path=path).geturl(), ref


def fetch(source: Source, scratch: Path) -> Fetched:
    """Fetch `source` into `scratch` (an empty directory) and find its skills."""
    if source.kind == "local":
        root = Path(source.location)
        return Fetched(root, "", discover(root))
    if source.kind == "tack":
        folder = BUILTIN_DIR / source.location
        if not (folder / SKILL_FILE).is_file():
            names = sorted(p.name for p in BUILTIN_DIR.iterdir() if (p / SKILL_FILE).is_file())
            raise SkillError(f"Tack has no skill {source.location!r}; it ships: "
                             f"{', '.join(names)}.", code="skill_source_unknown")
        return Fetched(BUILTIN_DIR, tack.__version__, {source.location: folder})
    if source.kind == "git":
        return _fetch_git(source, scratch)
    if source.kind == "pypi":
        return _fetch_pypi(source, scratch)
    if source.kind == "npm":
        return _fetch_npm(source, scratch)
    raise SkillError(f"unknown skill source kind {source.kind!r}")


def _run(argv: list[str], what: str, cwd: Path | None = None) -> str:
    try:
        done = subprocess.run(argv, cwd=cwd, capture_output=True, text=True,
                              timeout=FETCH_TIMEOUT_S, check=False)
    except FileNotFoundError:
        raise SkillError(f"Cannot {what}: `{argv[0]}` is not installed or not on PATH.",
                         code="skill_fetch_failed") from None
    except subprocess.TimeoutExpired:
        raise SkillError(f"Cannot {what}: `{' '.join(argv[:3])}` took over "
                         f"{FETCH_TIMEOUT_S} s.", code="skill_fetch_failed") from None
    if done.returncode != 0:
        tail = (done.stderr or done.stdout).strip().splitlines()[-3:]
        raise SkillError(f"Cannot {what}: `{' '.join(argv[:3])}` exited with "
                         f"{done.returncode}: {' '.join(tail)}", code="skill_fetch_failed")
    return done.stdout


def _fetch_git(source: Source, scratch: Path) -> Fetched:
    checkout = scratch / "checkout"
    what = f"fetch {source.text}"
    _run(["git", "clone", "--quiet", "--no-checkout", "--", source.location, str(checkout)], what)
    ref = source.ref or "HEAD"
    # `^{commit}` makes an annotated tag resolve to the commit it names.
    try:
        commit = _run(["git", "-C", str(checkout), "rev-parse", "--verify", "--quiet",
                       f"{ref}^{{commit}}"], "resolve the ref").strip()
    except SkillError:
        raise SkillError(f"{source.location} has no branch, tag or commit named {ref!r} "
                         f"(from the skill source {source.text}). Check the name after `@`.",
                         code="skill_fetch_failed") from None
    _run(["git", "-C", str(checkout), "-c", "advice.detachedHead=false", "checkout",
          "--quiet", commit], what)
    shutil.rmtree(checkout / ".git", ignore_errors=True)
    return Fetched(checkout, commit, discover(checkout))


def _fetch_pypi(source: Source, scratch: Path) -> Fetched:
    downloads = scratch / "dist"
    local = Path(source.location)
    if local.is_file() and not local.name.endswith(".whl"):
        # pip would build a local sdist's metadata, running its build code: a copy is enough.
        downloads.mkdir()
        shutil.copy2(local, downloads / local.name)
    else:
        # The pip of the Python running Tack: always there, whatever is on PATH. From an
        # index only wheels: an sdist's metadata step runs the package's build code.
        argv = [sys.executable, "-m", "pip", "download", "--no-deps", "--quiet",
                "--disable-pip-version-check", "--dest", str(downloads)]
        argv += ["--no-index"] if local.is_file() else ["--only-binary", ":all:"]
        _run([*argv, source.location], f"download {source.text} with pip")
    files = sorted(downloads.iterdir())
    if not files:
        raise SkillError(f"pip downloaded nothing for {source.text}.", code="skill_fetch_failed")
    archive = files[0]
    unpacked = scratch / "unpacked"
    if archive.suffix == ".whl" or archive.suffix == ".zip":
        _extract_zip(archive, unpacked)
    else:
        _extract_tar(archive, unpacked)
    version = _dist_version(unpacked, archive.name)
    roots = _entry_point_dirs(unpacked)
    skills: dict[str, Path] = {}
    for folder in roots:
        skills.update(_skills_in(folder))
    if not roots:
        base = _single_child(unpacked)
        skills = _skills_in(base / "skills") or discover(base)
    return Fetched(unpacked, version, skills)


def _dist_version(unpacked: Path, filename: str) -> str:
    """`Version:` of the wheel's METADATA or the sdist's PKG-INFO (names may hold `-`)."""
    for meta in [*unpacked.glob("*.dist-info/METADATA"), *unpacked.glob("*/PKG-INFO")]:
        version = BytesParser().parsebytes(meta.read_bytes(), headersonly=True).get("Version")
        if version:
            return str(version)
    raise SkillError(f"{filename} has no METADATA or PKG-INFO with a Version; it is not a "
                     "Python distribution.", code="skill_fetch_failed")


def _entry_point_dirs(unpacked: Path) -> list[Path]:
    """Folders named by the `tack.skills` entry points of a wheel or an sdist."""
    modules: list[str] = []
    for ep_file in [*unpacked.glob("*.dist-info/entry_points.txt"),
                    *unpacked.glob("*/*.egg-info/entry_points.txt"),
                    *unpacked.glob("*/src/*.egg-info/entry_points.txt")]:
        parser = configparser.ConfigParser(delimiters=("=",))
        parser.optionxform = str  # type: ignore[assignment,method-assign]
        parser.read(ep_file, encoding="utf-8")
        if parser.has_section(ENTRY_POINT_GROUP):
            modules += [v.split(":")[0].strip() for v in parser[ENTRY_POINT_GROUP].values()]
    if not modules:
        for pyproject in unpacked.glob("*/pyproject.toml"):
            data = tomllib.loads(pyproject.read_text(encoding="utf-8"))
            group = data.get("project", {}).get("entry-points", {}).get(ENTRY_POINT_GROUP, {})
            modules += [str(v).split(":")[0].strip() for v in group.values()]
    found: list[Path] = []
    for module in dict.fromkeys(modules):
        rel = Path(*module.split("."))
        for base in [unpacked, *unpacked.glob("*"), *unpacked.glob("*/src")]:
            if (base / rel).is_dir():
                found.append(base / rel)
                break
    return found


def _fetch_npm(source: Source, scratch: Path) -> Fetched:
    packs = scratch / "pack"
    packs.mkdir()
    out = _run(["npm", "pack", "--json", "--ignore-scripts", "--pack-destination", str(packs),
                source.location], f"fetch {source.text} with npm pack")
    try:
        info = json.loads(out)[0]
        tarball, version = packs / info["filename"], str(info["version"])
    except (ValueError, KeyError, IndexError):
        raise SkillError(f"`npm pack` printed no package for {source.text}.",
                         code="skill_fetch_failed") from None
    unpacked = scratch / "unpacked"
    _extract_tar(tarball, unpacked)
    base = unpacked / "package" if (unpacked / "package").is_dir() else _single_child(unpacked)
    return Fetched(unpacked, version, discover(base))


def _single_child(folder: Path) -> Path:
    children = [p for p in folder.iterdir() if p.is_dir()]
    return children[0] if len(children) == 1 else folder


def _extract_zip(archive: Path, dest: Path) -> None:
    with zipfile.ZipFile(archive) as zf:
        for member in zf.namelist():
            if member.startswith("/") or ".." in Path(member).parts:
                raise SkillError(f"{archive.name} has a member outside the archive "
                                 f"({member!r}); refusing it.", code="skill_audit_failed")
        zf.extractall(dest)


def _extract_tar(archive: Path, dest: Path) -> None:
    try:
        with tarfile.open(archive) as tf:
            # The "data" filter refuses absolute paths, `..`, links out of the tree and devices.
            tf.extractall(dest, filter="data")
    except (tarfile.TarError, OSError) as exc:
        raise SkillError(f"Cannot unpack {archive.name}: {exc}. The archive reaches outside "
                         "its folder or is damaged; refusing it.",
                         code="skill_audit_failed") from None


def _skills_in(folder: Path) -> dict[str, Path]:
    if (folder / SKILL_FILE).exists():
        return {folder.name: folder}
    if not folder.is_dir():
        return {}
    return {p.name: p for p in sorted(folder.iterdir())
            if p.is_dir() and not p.is_symlink() and (p / SKILL_FILE).exists()}


def discover(root: Path) -> dict[str, Path]:
    """Skill folders in a checkout or package: the root itself, or the usual skills dirs."""
    if (root / SKILL_FILE).exists():
        return {root.name: root}
    for sub in _SKILL_ROOTS:
        found = _skills_in(root / sub) if sub else _skills_in(root)
        if found:
            return found
    return {}
