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


# Inside nasco.evo (DESIGN.md §2): subpackages from the bottom up; a module imports only its own
# subpackage and those below it. The facade ``nasco.evo`` (its __init__) re-exports all of them.
EVO_LAYERS = ("errors", "lazy", "space", "train", "latency", "search", "results", "cli")


def _evo_unit(module: str) -> str:
    """``nasco.evo.search.campaign`` → ``search``; ``nasco.evo`` → ``""`` (the facade)."""
    parts = module.split(".")
    return parts[2] if len(parts) > 2 else ""


def _evo_modules() -> dict[str, Path]:
    modules = {}
    for path in sorted((ROOT / "evo").rglob("*.py")):
        parts = path.relative_to(ROOT / "evo").with_suffix("").parts
        if parts[-1] == "__init__":
            parts = parts[:-1]
        modules[".".join(("nasco", "evo", *parts))] = path
    return modules


def test_evo_subpackages_cover_every_module():
    for module in _evo_modules():
        unit = _evo_unit(module)
        assert module == "nasco.evo" or unit in EVO_LAYERS, f"{module} is outside the subpackages of DESIGN.md §2"


def test_evo_subpackages_import_only_downward():
    for module, path in _evo_modules().items():
        if module == "nasco.evo":
            continue
        level = EVO_LAYERS.index(_evo_unit(module))
        for name in _imports(path):
            if not name.startswith("nasco.evo"):
                continue
            target = _evo_unit(name)
            assert target, f"{path} imports the facade {name}; import the defining module instead"
            assert EVO_LAYERS.index(target) <= level, f"{path} imports {name}: upward ({target} is above)"


def _top_level_imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    names = set()
    for node in tree.body:
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.update([node.module, *(f"{node.module}.{alias.name}" for alias in node.names)])
    return names


def test_evo_modules_have_no_import_cycle():
    """Module-level imports between nasco.evo modules form no cycle (imports inside functions are lazy)."""
    modules = _evo_modules()
    graph = {m: {n for n in _top_level_imports(p) if n in modules and n != m} for m, p in modules.items()}
    state: dict[str, int] = {}

    def visit(node: str, trail: list[str]) -> None:
        state[node] = 1
        for nxt in graph[node]:
            if state.get(nxt) == 1:
                cycle = trail[trail.index(nxt):] if nxt in trail else trail
                raise AssertionError(f"import cycle: {' → '.join([*cycle, nxt])}")
            if nxt not in state:
                visit(nxt, [*trail, nxt])
        state[node] = 2

    for module in graph:
        if module not in state:
            visit(module, [module])


def test_optional_packages_skip_only_the_tests_that_need_them():
    """A module-level importorskip (ray, onnxruntime) used to drop every test after it when the optional
    package was missing: the campaign, resume and evaluator tests vanished silently."""
    import re

    tests = Path(__file__).parent
    offenders = [f"{path.name}:{i}" for path in sorted(tests.glob("*.py"))
                 for i, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1)
                 if re.match(r"\w+\s*=\s*pytest\.importorskip\(", line)]
    assert not offenders, offenders
