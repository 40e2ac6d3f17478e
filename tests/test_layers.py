"""The layers point one way: pages -> ui / queries / operations -> models -> data.

The read side does not use the write side either (queries never import operations). Every
import in the packages' source is read with ``ast``, the late ones inside functions too, so an
import moved into a function body to dodge a cycle still counts.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent

# Package -> the packages it must not import: those above it (and, for queries, the write side).
FORBIDDEN = {
    "data": {"models", "queries", "operations", "ui", "pages"},
    "models": {"queries", "operations", "ui", "pages"},
    "queries": {"operations", "ui", "pages"},
    "operations": {"ui", "pages"},
    "ui": {"pages"},
}


def imported_packages(source: str) -> list[tuple[int, str]]:
    """(line, top-level package) of every absolute import in the source, nested ones included."""
    found = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            found.extend((node.lineno, alias.name.split(".")[0]) for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            found.append((node.lineno, node.module.split(".")[0]))
    return sorted(found)


def upward_imports(package: str) -> list[str]:
    """``path:line imports pkg`` for every import ``package`` must not make."""
    wrong = []
    for path in sorted((ROOT / package).rglob("*.py")):
        for line, imported in imported_packages(path.read_text(encoding="utf-8")):
            if imported in FORBIDDEN[package]:
                wrong.append(f"{path.relative_to(ROOT)}:{line} imports {imported}")
    return wrong


def test_the_reader_sees_late_and_nested_imports():
    source = (
        "import data.schema\n"
        "from operations.allocation import priority_score\n"
        "def f():\n"
        "    import ui.theme as theme\n"
        "    class C:\n"
        "        def g(self):\n"
        "            from pages import shop\n"
        "from . import sibling\n"
    )
    assert imported_packages(source) == [
        (1, "data"),
        (2, "operations"),
        (4, "ui"),
        (7, "pages"),
    ]


@pytest.mark.parametrize("package", sorted(FORBIDDEN))
def test_no_import_points_up_a_layer(package):
    """Late imports inside functions count: moving one there does not make it right."""
    assert (ROOT / package / "__init__.py").is_file()
    assert upward_imports(package) == []
