"""Imports follow docs/ARCHITECTURE.md §2: arrows point only down the package table, and no circle."""

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


# Inside nasco.evo (docs/ARCHITECTURE.md §2): subpackages from the bottom up; a module imports only its own
# subpackage and those below it. The facade ``nasco.evo`` (its __init__) re-exports all of them.
EVO_LAYERS = ("errors", "lazy", "registry", "space", "train", "latency", "search", "testing", "results", "cli")


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
        assert module == "nasco.evo" or unit in EVO_LAYERS, \
            f"{module} is outside the subpackages of docs/ARCHITECTURE.md §2"


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


def _runtime_imports(path: Path) -> set[str]:
    """Every module (and ``module.name``) a file imports when it runs — at module level and inside
    functions alike; ``if TYPE_CHECKING:`` blocks (annotations only, never executed) are left out."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and getattr(node.test, "id", None) == "TYPE_CHECKING":
            node.body = []
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.update([node.module, *(f"{node.module}.{alias.name}" for alias in node.names)])
    return names


def _all_modules() -> dict[str, Path]:
    modules = {}
    for package in RULES:
        for path in sorted((ROOT / package).rglob("*.py")):
            parts = path.relative_to(ROOT).with_suffix("").parts
            modules[".".join(("nasco", *(parts[:-1] if parts[-1] == "__init__" else parts)))] = path
    return modules


def test_no_import_cycle_at_any_level():
    """Imports between nasco modules — module-level and inside functions — form no cycle: a function-level
    import that closes a circle still ties the modules into one unit that cannot be read or reused alone."""
    modules = _all_modules()
    graph = {m: sorted(n for n in _runtime_imports(p) if n in modules and n != m) for m, p in modules.items()}
    state: dict[str, int] = {}

    def visit(node: str, trail: list[str]) -> None:
        state[node] = 1
        for nxt in graph[node]:
            if state.get(nxt) == 1:
                raise AssertionError(f"import cycle: {' → '.join([*trail[trail.index(nxt):], nxt])}")
            if nxt not in state:
                visit(nxt, [*trail, nxt])
        state[node] = 2

    for module in graph:
        if module not in state:
            visit(module, [module])


CAMPAIGN_LOOP = ("campaign", "context", "plan", "proposals", "strategies", "inner", "executors", "warm_start", "api")
CONCRETE_EVALUATORS = ("train_evaluator", "builtin_evaluators", "supernet_evaluator", "supernet_feature",
                       "python_evaluator", "table_evaluator")


def test_the_campaign_loop_imports_no_concrete_evaluator():
    """The loop reaches evaluators through the contract (evaluators.py: registry, hooks, the plain-function
    adapter) only — at module level and inside functions (docs/ARCHITECTURE.md §7)."""
    for name in CAMPAIGN_LOOP:
        path = ROOT / "evo" / "search" / f"{name}.py"
        concrete = sorted(n for n in _runtime_imports(path)
                          if any(n == f"nasco.evo.search.{c}" or n.startswith(f"nasco.evo.search.{c}.")
                                 for c in CONCRETE_EVALUATORS))
        assert not concrete, f"evo/search/{name}.py imports {concrete}"


def test_the_cycle_check_sees_imports_inside_functions(tmp_path, monkeypatch):
    (tmp_path / "a.py").write_text("def f():\n    from nasco.evo.space.genome import decode\n")
    (tmp_path / "b.py").write_text("from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    import nasco.x\n")
    assert "nasco.evo.space.genome" in _runtime_imports(tmp_path / "a.py")
    assert "nasco.x" not in _runtime_imports(tmp_path / "b.py")


def test_optional_packages_skip_only_the_tests_that_need_them():
    """A module-level importorskip (ray, onnxruntime) used to drop every test after it when the optional
    package was missing: the campaign, resume and evaluator tests vanished silently."""
    import re

    tests = Path(__file__).parent
    offenders = [f"{path.name}:{i}" for path in sorted(tests.glob("*.py"))
                 for i, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1)
                 if re.match(r"\w+\s*=\s*pytest\.importorskip\(", line)]
    assert not offenders, offenders
