"""Dependencies point one way: pages -> dashboard -> core. core never imports streamlit."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def _imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(), filename=str(path))
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
    return names


CORE = sorted((ROOT / "core").rglob("*.py"))


@pytest.mark.parametrize("path", CORE, ids=lambda p: str(p.relative_to(ROOT)))
def test_core_never_imports_streamlit_dashboard_or_pages(path: Path) -> None:
    bad = {n for n in _imports(path) if n.split(".")[0] in {"streamlit", "dashboard", "pages"}}
    assert not bad, f"{path.relative_to(ROOT)} imports {sorted(bad)}"


@pytest.mark.parametrize("path", sorted((ROOT / "pages").glob("*.py")), ids=lambda p: p.name)
def test_pages_do_not_touch_the_database_directly(path: Path) -> None:
    bad = {n for n in _imports(path) if n.startswith(("sqlalchemy", "core.db"))}
    assert not bad, f"{path.name} imports {sorted(bad)}: go through core use cases"
