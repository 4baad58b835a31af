"""The wheel anyone can `pipx install`: built with `python -m build`, installed into a fresh
venv (no source tree on the path), and `tack demo` runs from it, static assets and all."""

from __future__ import annotations

import os
import subprocess
import sys
import venv
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

pytestmark = pytest.mark.slow


def _clean_env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in {"PYTHONPATH", "VIRTUAL_ENV"}}
    env["PIP_DISABLE_PIP_VERSION_CHECK"] = "1"
    return env


@pytest.fixture(scope="module")
def dist(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("dist")
    subprocess.run([sys.executable, "-m", "build", "--outdir", str(out), str(ROOT)],
                   check=True, capture_output=True, text=True, timeout=600, env=_clean_env())
    return out


def test_the_wheel_and_sdist_carry_what_tack_needs_at_run_time(dist: Path) -> None:
    wheels = list(dist.glob("tack_harness-*-py3-none-any.whl"))
    assert len(wheels) == 1, list(dist.iterdir())
    assert list(dist.glob("tack_harness-*.tar.gz"))
    names = set(zipfile.ZipFile(wheels[0]).namelist())
    for needed in ("tack/server/dashboard.html", "tack/server/static/htmx.min.js",
                   "tack/server/static/sse.min.js", "tack/workflow/default_WORKFLOW.md",
                   "tack/principles/starter_PRINCIPLES.md", "tack/py.typed"):
        assert needed in names, f"{needed} missing from the wheel"
    entry_points = next(n for n in names if n.endswith(".dist-info/entry_points.txt"))
    assert "tack = tack.cli:main" in zipfile.ZipFile(wheels[0]).read(entry_points).decode()


def test_tack_demo_runs_from_the_installed_wheel(dist: Path, tmp_path: Path) -> None:
    env_dir = tmp_path / "venv"
    venv.create(env_dir, with_pip=True)
    py = env_dir / "bin" / "python"
    wheel = next(dist.glob("tack_harness-*.whl"))
    subprocess.run([str(py), "-m", "pip", "install", "--quiet", str(wheel)], check=True,
                   capture_output=True, text=True, timeout=900, env=_clean_env())
    tack = env_dir / "bin" / "tack"
    version = subprocess.run([str(tack), "--version"], capture_output=True, text=True,
                             env=_clean_env(), cwd=tmp_path, timeout=60)
    assert version.returncode == 0, version.stderr
    assert version.stdout.strip().startswith("tack ")
    # The installed package, not the source tree, answers.
    where = subprocess.run([str(py), "-c", "import tack; print(tack.__file__)"], check=True,
                           capture_output=True, text=True, env=_clean_env(), cwd=tmp_path)
    assert str(env_dir) in where.stdout
    demo = subprocess.run([str(tack), "demo", "--dir", str(tmp_path / "demo")],
                          capture_output=True, text=True, env=_clean_env(), cwd=tmp_path,
                          timeout=300)
    assert demo.returncode == 0, demo.stdout[-2000:] + demo.stderr[-2000:]
    assert "Demo passed." in demo.stdout + demo.stderr
