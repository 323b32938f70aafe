"""The package's layers: every import goes down, and no module imports itself back.

The layers are declared once, here (:data:`LAYERS`), and CONTRIBUTING.md draws the same
diagram (a test compares them). Each layer holds units (a subpackage or a module); a module
may import modules of its own unit and of any unit in a lower layer, never a unit of its own
layer or of a higher one. Imports are read from the source with :mod:`ast`, wherever they are:
at the top of a module, inside a function, or under ``if TYPE_CHECKING:``.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PACKAGE = ROOT / "mlmtools"

#: Lowest layer first. A unit is a subpackage or a module of ``mlmtools``.
LAYERS: list[tuple[str, ...]] = [
    ("_version", "_stacklevel", "_blas", "exceptions", "datasets"),
    ("formula", "rstyle", "_nlopt"),
    ("frame",),
    ("inference",),
    ("lmm",),
    ("glmm",),
    ("gee",),
    ("simulate",),
    ("broom", "plotting"),
    ("__init__", "design", "power", "rformat"),
]

#: Earlier short paths that still work; each only re-exports from its new home.
COMPATIBILITY_PATHS = ("design", "power", "rformat")

MAX_LINES = 500


def module_name(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


MODULES = {module_name(path): path for path in sorted(PACKAGE.rglob("*.py"))}


def unit_of(module: str) -> str:
    """``mlmtools.lmm.pls`` -> ``lmm``; the package itself is the unit ``__init__``."""
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else "__init__"


LAYER_OF = {unit: rank for rank, units in enumerate(LAYERS) for unit in units}


def resolve(importer: str, node: ast.ImportFrom) -> str:
    """The absolute module of a ``from ... import`` (relative imports resolved)."""
    if not node.level:
        return node.module or ""
    package = importer.split(".") if MODULES[importer].name == "__init__.py" else importer.split(".")[:-1]
    base = package[:len(package) - node.level + 1]
    return ".".join(base + ([node.module] if node.module else []))


def imports_of(module: str) -> set[str]:
    """The mlmtools modules ``module`` imports, anywhere in its source."""
    tree = ast.parse(MODULES[module].read_text(encoding="utf-8"))
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            source = resolve(module, node)
            found.add(source)
            found.update(f"{source}.{alias.name}" for alias in node.names if f"{source}.{alias.name}" in MODULES)
    return {name for name in found if name in MODULES}


def ancestors(module: str) -> list[str]:
    parts = module.split(".")
    return [".".join(parts[:k]) for k in range(2, len(parts))]


def import_graph() -> dict[str, set[str]]:
    """Edges from each module to what importing it executes: the modules it imports and their
    parent packages (the root package excepted, and packages the importer is already inside)."""
    graph = {}
    for module in MODULES:
        targets = set()
        inside = set(ancestors(module)) | {module}
        for target in imports_of(module):
            targets.add(target)
            targets.update(a for a in ancestors(target) if a not in inside)
        graph[module] = targets - {module}
    return graph


def test_every_module_belongs_to_a_declared_unit() -> None:
    undeclared = sorted(m for m in MODULES if unit_of(m) not in LAYER_OF)
    assert undeclared == [], "declare these modules' units in LAYERS (and CONTRIBUTING.md)"


def test_imports_only_go_down_the_layers() -> None:
    wrong = []
    for module in MODULES:
        unit = unit_of(module)
        for target in imports_of(module):
            other = unit_of(target)
            if other != unit and LAYER_OF[other] >= LAYER_OF[unit]:
                wrong.append(f"{module} imports {target} ({other} is not below {unit})")
    assert wrong == []


def test_there_is_no_import_cycle() -> None:
    graph = import_graph()
    state: dict[str, int] = {}  # 1: on the current path, 2: done
    cycles = []

    def visit(module: str, path: list[str]) -> None:
        state[module] = 1
        for target in sorted(graph[module]):
            if state.get(target) == 1:
                cycles.append(" -> ".join(path[path.index(target):] + [target]))
            elif target not in state:
                visit(target, path + [target])
        state[module] = 2

    for module in sorted(graph):
        if module not in state:
            visit(module, [module])
    assert cycles == []


def test_the_checks_see_every_kind_of_import(tmp_path: Path) -> None:
    """The walk finds imports inside functions and under TYPE_CHECKING too."""
    source = ("from typing import TYPE_CHECKING\n"
              "if TYPE_CHECKING:\n    from mlmtools.lmm import LmerResult\n"
              "def f():\n    import mlmtools.gee\n    from mlmtools.simulate import rng\n")
    probe = "mlmtools.inference._probe"
    MODULES[probe] = tmp_path / "_probe.py"
    MODULES[probe].write_text(source, encoding="utf-8")
    try:
        assert imports_of(probe) == {"mlmtools.lmm", "mlmtools.gee", "mlmtools.simulate", "mlmtools.simulate.rng"}
    finally:
        del MODULES[probe]


@pytest.mark.parametrize("unit", [unit for units in LAYERS for unit in units
                                  if (PACKAGE / unit / "__init__.py").exists()])
def test_each_subpackage_says_what_it_holds_and_may_import(unit: str) -> None:
    docstring = ast.get_docstring(ast.parse((PACKAGE / unit / "__init__.py").read_text(encoding="utf-8")))
    assert docstring and "May import" in docstring, f"mlmtools.{unit} needs a docstring with 'May import: ...'"


def test_no_module_is_named_like_a_function_it_exports() -> None:
    clashes = []
    for module, path in MODULES.items():
        name = module.rsplit(".", 1)[-1]
        if path.name == "__init__.py" or unit_of(module) in COMPATIBILITY_PATHS:
            continue
        tree = ast.parse(path.read_text(encoding="utf-8"))
        defined = {node.name for node in tree.body if isinstance(node, (ast.FunctionDef, ast.ClassDef))}
        if name in defined:
            clashes.append(module)
    assert clashes == []


def test_no_module_is_over_the_size_limit() -> None:
    sizes = {module: len(path.read_text(encoding="utf-8").splitlines()) for module, path in MODULES.items()}
    assert {module: size for module, size in sizes.items() if size > MAX_LINES} == {}


def test_compatibility_paths_only_re_export() -> None:
    """A compatibility module holds a docstring, imports and ``__all__``, nothing else."""
    for name in COMPATIBILITY_PATHS:
        tree = ast.parse((PACKAGE / f"{name}.py").read_text(encoding="utf-8"))
        kinds = {type(node).__name__ for node in tree.body[1:]}
        assert kinds <= {"ImportFrom", "Assign"}, name


def diagram() -> str:
    """The layers as CONTRIBUTING.md draws them: numbered, highest first, one line each."""
    return "\n".join(f"{rank + 1:>2}  {', '.join(units)}" for rank, units in reversed(list(enumerate(LAYERS))))


def test_contributing_draws_the_same_layers() -> None:
    text = (ROOT / "CONTRIBUTING.md").read_text(encoding="utf-8")
    assert diagram() in text, "update the layer diagram in CONTRIBUTING.md:\n" + diagram()
