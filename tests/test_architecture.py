"""The architecture, checked: imports run one way down the layers, in no circle, and no
module reaches into another's private names (docs/explanation/architecture.md)."""

from __future__ import annotations

import ast
import shutil
import subprocess
import sys
from pathlib import Path

import grimp
import pytest

ROOT = Path(__file__).resolve().parent.parent
SRC = ROOT / "src"
PACKAGE = SRC / "ketamine_guidance"


def _graph() -> grimp.ImportGraph:
    return grimp.build_graph(
        "ketamine_guidance", exclude_type_checking_imports=True, cache_dir=None
    )


def _cycle(graph: grimp.ImportGraph) -> list[str] | None:
    """One import circle between modules, or None (imports inside functions count)."""
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(module: str) -> list[str] | None:
        state[module] = 1
        stack.append(module)
        for target in sorted(graph.find_modules_directly_imported_by(module)):
            if state.get(target) == 1:
                return [*stack[stack.index(target) :], target]
            if target not in state and (found := visit(target)):
                return found
        stack.pop()
        state[module] = 2
        return None

    for module in sorted(graph.modules):
        if module not in state and (found := visit(module)):
            return found
    return None


def test_no_module_is_in_an_import_circle():
    graph = _graph()
    assert "ketamine_guidance._engine.plan" in graph.modules
    assert _cycle(graph) is None


def test_the_cycle_finder_finds_a_circle():
    graph = grimp.ImportGraph()
    for name in ("a", "a.x", "a.y", "a.z"):
        graph.add_module(name)
    graph.add_import(importer="a.x", imported="a.y")
    graph.add_import(importer="a.y", imported="a.z")
    assert _cycle(graph) is None
    graph.add_import(importer="a.z", imported="a.x")
    assert _cycle(graph) == ["a.x", "a.y", "a.z", "a.x"]


def _private_imports(root: Path) -> list[str]:
    found = []
    for path in sorted(root.rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text("utf-8"))):
            if isinstance(node, ast.ImportFrom) and (node.module or "").startswith(
                "ketamine_guidance"
            ):
                for alias in node.names:
                    private = alias.name.startswith("_") and not alias.name.startswith("__")
                    if private and not (PACKAGE / alias.name).is_dir():
                        found.append(f"{path.relative_to(root)}: {node.module}.{alias.name}")
    return found


def test_no_module_imports_another_modules_private_names(tmp_path: Path):
    assert _private_imports(PACKAGE) == []
    # The check sees such an import when there is one.
    (tmp_path / "bad.py").write_text("from ketamine_guidance._engine.windows import _PROBES\n")
    assert _private_imports(tmp_path) == ["bad.py: ketamine_guidance._engine.windows._PROBES"]


def _lint_imports(src: Path) -> subprocess.CompletedProcess[str]:
    lint = Path(sys.executable).with_name("lint-imports")
    return subprocess.run(
        [str(lint), "--config", str(ROOT / "pyproject.toml"), "--no-cache"],
        env={"PYTHONPATH": str(src), "PATH": "/usr/bin:/bin"},
        cwd=src,
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )


@pytest.mark.skipif(
    not Path(sys.executable).with_name("lint-imports").exists(),
    reason="import-linter is not installed here (pip install -e '.[test]')",
)
def test_the_layer_contracts_hold_and_fail_on_an_upward_import(tmp_path: Path):
    kept = _lint_imports(SRC)
    assert kept.returncode == 0, kept.stdout + kept.stderr
    assert "0 broken" in kept.stdout
    copy = tmp_path / "src"
    shutil.copytree(
        PACKAGE, copy / "ketamine_guidance", ignore=shutil.ignore_patterns("__pycache__")
    )
    model = copy / "ketamine_guidance" / "_rules" / "model.py"
    # The rule model reaching up into a format, lazily: the layers contract must fail.
    upward = "def _upward() -> None:\n    from ketamine_guidance._formats import text  # noqa\n"
    model.write_text(model.read_text("utf-8") + "\n\n" + upward, "utf-8")
    broken = _lint_imports(copy)
    assert broken.returncode == 1, broken.stdout + broken.stderr
    assert "ketamine_guidance._rules.model -> ketamine_guidance._formats.text" in broken.stdout
