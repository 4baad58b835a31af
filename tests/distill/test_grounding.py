"""Grounding without a model: source layouts, API surfaces, test counts, verdicts, the score."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tack.distill import DistillError, round_score
from tack.distill.grounding import api_surface, diff_surfaces, run_tests
from tack.distill.source import resolve_source
from tack.distill.verdict import read_verdict

SERVICE = '''\
from starlette.applications import Starlette
from starlette.routing import Route

async def items(request): ...

app = Starlette(routes=[Route("/items", items), Route("/items", items, methods=["POST"])])

@app.route("/health")
async def health(request): ...
'''

CLI = '''\
import argparse

def main() -> None:
    parser = argparse.ArgumentParser(prog="greet", description="Say hello.")
    parser.add_argument("--name", default="world")
    print("hello", parser.parse_args().name)

if __name__ == "__main__":
    main()
'''


def test_package_layout_keeps_the_package_dir_and_finds_its_tests(tmp_path: Path) -> None:
    pkg = tmp_path / "src" / "shop"
    (pkg / "tests").mkdir(parents=True)
    (pkg / "__init__.py").write_text("__all__ = ['price']\nfrom shop.core import price\n")
    (pkg / "core.py").write_text("def price(cents: int) -> str: ...\n_hidden = 1\n")
    (pkg / "tests" / "test_core.py").write_text("def test(): pass\n")
    (tmp_path / "src" / "test_shop_extra.py").write_text("def test(): pass\n")
    layout = resolve_source(pkg, tmp_path)
    assert layout.root == tmp_path / "src"
    assert sorted(map(str, layout.members)) == ["shop/__init__.py", "shop/core.py"]
    assert sorted(map(str, layout.tests)) == ["shop/tests/test_core.py", "test_shop_extra.py"]
    surface = api_surface(layout.root, layout.python_members())
    assert surface == {"shop.core.price": "def price(cents: int) -> str"}


def test_routes_and_cli_help_are_part_of_the_surface(tmp_path: Path) -> None:
    original, rebuilt = tmp_path / "a", tmp_path / "b"
    for root in (original, rebuilt):
        root.mkdir()
        (root / "greet.py").write_text(CLI)
    (original / "service.py").write_text(SERVICE)
    (rebuilt / "service.py").write_text(SERVICE.replace(', Route("/items", items, methods=["POST"])', ""))
    (rebuilt / "greet.py").write_text(CLI.replace("Say hello.", "Greets."))
    files = [Path("greet.py"), Path("service.py")]
    before, after = api_surface(original, files), api_surface(rebuilt, files)
    assert {k for k in before if k.startswith("route")} == {
        "route GET /items", "route POST /items", "route GET /health"}
    assert "Say hello." in before["cli python -m greet --help"]
    diff = diff_surfaces(before, after)
    status = {i["name"]: i["status"] for i in diff["items"]}
    assert status["route POST /items"] == "missing"
    assert status["cli python -m greet --help"] == "differs"
    assert status["greet.main"] == "same"
    assert 0 < diff["match"] < 1


def test_a_custom_test_command_is_counted_from_its_output(tmp_path: Path) -> None:
    (tmp_path / "m.py").write_text("X = 1\n")
    layout = resolve_source(tmp_path / "m.py", tmp_path)
    impl = tmp_path / "impl"
    impl.mkdir()
    (impl / "m.py").write_text("X = 2\n")
    result = run_tests(layout, impl, tmp_path / "scratch",
                       "python -c 'import m; assert m.X == 1'")
    assert result["ran"] and (result["passed"], result["failed"]) == (0, 1)
    assert "AssertionError" in result["output"]
    none = run_tests(layout, impl, tmp_path / "scratch", None)
    assert not none["ran"] and none["pass_rate"] is None


def test_score_weights_drop_parts_that_do_not_apply() -> None:
    tests = {"ran": True, "total": 4, "pass_rate": 0.5}
    assert round_score(1.0, tests, {"match": 0.0}) == 0.6
    assert round_score(0.5, None, None) == 0.5
    assert round_score(1.0, {"ran": False, "total": 0}, {"match": 0.5}) == pytest.approx(0.833)


@pytest.mark.parametrize("content, error", [
    (None, "did not write findings.json"),
    ("{not json", "not valid JSON"),
    (json.dumps({"score": 1.5}), "`score` must be a number from 0 to 1"),
    (json.dumps({"score": 0.5, "findings": "none"}), "`findings` must be a list"),
])
def test_bad_verdicts_say_what_is_wrong(tmp_path: Path, content: str | None, error: str
                                        ) -> None:
    path = tmp_path / "findings.json"
    if content is not None:
        path.write_text(content)
    with pytest.raises(DistillError, match=error):
        read_verdict(path)
