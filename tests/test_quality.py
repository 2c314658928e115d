"""ruff (lint and format) and mypy --strict with the pydantic plugin are part of the suite."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

from conftest import REPO


def run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", *args], cwd=REPO, capture_output=True, text=True, check=False
    )


def test_ruff_lint() -> None:
    result = run("ruff", "check", "tuner", "tests", "bench")
    assert result.returncode == 0, result.stdout + result.stderr


def test_ruff_format() -> None:
    result = run("ruff", "format", "--check", "tuner", "tests", "bench")
    assert result.returncode == 0, result.stdout + result.stderr


def test_mypy_strict() -> None:
    result = run("mypy")
    assert result.returncode == 0, result.stdout + result.stderr


def _imports(path: Path) -> set[str]:
    """The tuner modules ``path`` imports at module level (not inside functions, not for typing)."""
    tree = ast.parse(path.read_text())
    found: set[str] = set()
    for node in tree.body:
        if isinstance(node, ast.If):  # if TYPE_CHECKING: imports for annotations only
            continue
        if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("tuner"):
            found.add(node.module)
            found.update(f"{node.module}.{a.name}" for a in node.names)
        elif isinstance(node, ast.Import):
            found.update(a.name for a in node.names if a.name.startswith("tuner"))
    return found


def _modules() -> dict[str, Path]:
    package = REPO / "tuner"
    return {
        ".".join(p.relative_to(REPO).with_suffix("").parts).removesuffix(".__init__"): p
        for p in package.rglob("*.py")
    }


def test_no_command_module_imports_another() -> None:
    commands = {name: path for name, path in _modules().items() if name.startswith("tuner.cli.")}
    for name, path in commands.items():
        others = {
            i for i in _imports(path) if i in commands and i not in (name, "tuner.cli.common")
        }
        assert not others, f"{name} imports {others}: share through an op, a view or _common"


def test_no_import_cycles() -> None:
    modules = _modules()
    graph = {
        name: {i for i in _imports(path) if i in modules and i != name}
        for name, path in modules.items()
    }
    state: dict[str, int] = {}

    def visit(node: str, trail: list[str]) -> None:
        state[node] = 1
        for nxt in graph[node]:
            if state.get(nxt) == 1:
                raise AssertionError("import cycle: " + " -> ".join([*trail, node, nxt]))
            if nxt not in state:
                visit(nxt, [*trail, node])
        state[node] = 2

    for name in graph:
        if name not in state:
            visit(name, [])
