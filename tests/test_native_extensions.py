"""nanobind extensions (duckdb through copairs, harmonypy) are imported only inside the functions using them.

A process holding them at exit can end with dozens of nanobind "leaked ..." lines, e.g. after a failed
``kedro run``; imported lazily, they are loaded only by a run that evaluates.
"""

from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[1] / "src" / "micon"
NATIVE = ("copairs", "duckdb", "harmonypy")


def _top_level_imports(path: Path) -> set[str]:
    names: set[str] = set()
    for node in ast.parse(path.read_text()).body:  # module level only, not inside functions
        if isinstance(node, ast.Import):
            names |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module.split(".")[0])
    return names


def test_no_module_imports_a_nanobind_extension_at_import_time():
    eager = {
        str(path.relative_to(PACKAGE)): sorted(_top_level_imports(path) & set(NATIVE))
        for path in sorted(PACKAGE.rglob("*.py"))
    }
    assert {path: names for path, names in eager.items() if names} == {}
