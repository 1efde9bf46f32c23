"""Imports follow DESIGN.md §2: arrows point only down the package table."""

from __future__ import annotations

import ast
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
# package -> (nasco packages it may import, third-party top-level modules it may import)
RULES = {
    "kernels": (set(), {"numpy", "numba"}),
    "archive": (set(), {"numpy", "h5py"}),
    "surrogate": ({"kernels"}, {"numpy", "scipy", "sklearn", "torch"}),
    "evo": ({"kernels", "archive", "surrogate"}, None),  # evo may import everything
}


def _imports(path: Path) -> set[str]:
    names = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names.add(node.module)
        elif isinstance(node, ast.ImportFrom) and node.level > 0:
            names.add("<relative>")
    return names


@pytest.mark.parametrize("package", sorted(RULES))
def test_package_imports_follow_layering(package):
    allowed_nasco, allowed_third = RULES[package]
    files = sorted((ROOT / package).rglob("*.py"))
    assert files, f"no modules found under {package}/"
    for path in files:
        for name in _imports(path):
            assert name != "<relative>", f"{path}: use absolute nasco.* imports"
            top = name.split(".")[0]
            if top == "nasco":
                sub = name.split(".")[1]
                assert sub == package or sub in allowed_nasco, f"{path} imports {name}"
            elif top not in sys.stdlib_module_names and top != "__future__" and allowed_third is not None:
                assert top in allowed_third, f"{path} imports third-party {name}"


def test_no_root_conftest_and_no_nasco_init():
    assert not (ROOT / "conftest.py").exists()
    assert not list(ROOT.glob("*/nasco/__init__.py"))
