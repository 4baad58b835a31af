"""The orchestrator's seams stay seams: nothing outside `core.py` reaches into the
orchestrator's private members, and the orchestrator package has no import circle (every
import counts, including those under TYPE_CHECKING and inside functions)."""

from __future__ import annotations

import ast
from pathlib import Path

import tack

SRC = Path(tack.__file__).parent
PACKAGE = SRC / "orchestrator"
CORE = PACKAGE / "core.py"
# Names under which code outside the core holds the orchestrator.
ORCHESTRATOR_NAMES = {"orch", "orchestrator", "host"}


def module_name(path: Path) -> str:
    parts = list(path.relative_to(SRC.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def holder(node: ast.expr) -> str | None:
    """`orch` for `orch`, `self.orch`, `self.host`: the name an expression holds it under."""
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute):
        return node.attr
    return None


def private_uses(path: Path) -> list[str]:
    found = []
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if (isinstance(node, ast.Attribute) and node.attr.startswith("_")
                and not node.attr.startswith("__")
                and holder(node.value) in ORCHESTRATOR_NAMES):
            found.append(f"{path.relative_to(SRC.parent)}:{node.lineno}: .{node.attr}")
    return found


def imports(path: Path, modules: set[str]) -> set[str]:
    """The package's modules `path` imports."""
    name = module_name(path)
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    out: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            out |= {a.name for a in node.names}
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parent = package.rsplit(".", node.level - 1)[0] if node.level > 1 else package
                base = f"{parent}.{base}" if base else parent
            for alias in node.names:  # `from pkg import module` imports the module only
                sub = f"{base}.{alias.name}"
                out.add(sub if sub in modules else base)
    return {m for m in out if m in modules}


def cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One import circle in `graph`, or None."""
    state: dict[str, int] = {}  # 1 visiting, 2 done
    stack: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        stack.append(node)
        for nxt in sorted(graph[node]):
            if state.get(nxt) == 1:
                return stack[stack.index(nxt):] + [nxt]
            if nxt not in state and (found := visit(nxt)):
                return found
        stack.pop()
        state[node] = 2
        return None

    for node in sorted(graph):
        if node not in state and (found := visit(node)):
            return found
    return None


def test_nothing_outside_the_core_touches_the_orchestrators_private_members() -> None:
    uses = [use for path in sorted(SRC.rglob("*.py")) if path != CORE
            for use in private_uses(path)]
    assert uses == [], "use the orchestrator's public methods (tack.orchestrator.host):\n" \
        + "\n".join(uses)


def test_the_private_member_check_finds_a_reach_into_the_core(tmp_path: Path) -> None:
    sample = SRC / "orchestrator" / "_seams_sample.py"
    sample.write_text("def f(orch, self):\n    orch._notify()\n    self.orch._record()\n")
    try:
        assert [u.rsplit(": ", 1)[1] for u in private_uses(sample)] == [
            "._notify", "._record"]
    finally:
        sample.unlink()


def test_the_orchestrator_package_has_no_import_circle() -> None:
    paths = sorted(PACKAGE.rglob("*.py"))
    modules = {module_name(p) for p in paths}
    graph = {module_name(p): imports(p, modules) - {module_name(p)} for p in paths}
    assert graph["tack.orchestrator.core"] >= {"tack.orchestrator.handoff",
                                                "tack.orchestrator.recovery"}
    assert cycle(graph) is None, " -> ".join(cycle(graph) or [])


def test_the_circle_check_finds_a_circle() -> None:
    assert cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": set()}) == ["a", "b", "c", "a"]
    assert cycle({"a": {"b"}, "b": set()}) is None


def test_the_plugin_surface_adds_no_import_circle_to_tack() -> None:
    """The parts never import the plug-in manager; it fills their tables from above."""
    paths = sorted(SRC.rglob("*.py"))
    modules = {module_name(p) for p in paths}
    graph = {module_name(p): imports(p, modules) - {module_name(p)} for p in paths}
    # Known and older than the plug-in surface: the rule engine and its built-in checks.
    graph["tack.principles.rules"].discard("tack.principles.checks")
    assert cycle(graph) is None, " -> ".join(cycle(graph) or [])
    parts = ("tack.agents", "tack.tracker", "tack.workflow", "tack.feedback", "tack.principles")
    assert not [m for m in graph if m.startswith(parts)
                and any(i.startswith("tack.plugins") for i in graph[m])]
