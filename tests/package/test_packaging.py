"""The environment is reproducible: every requirement pinned, the package installable and importable."""

from __future__ import annotations

import re
from pathlib import Path

import mlmtools

ROOT = Path(__file__).resolve().parents[2]


def requirement_lines() -> list[str]:
    lines = (ROOT / "requirements.txt").read_text().splitlines()
    return [line.strip() for line in lines if line.strip() and not line.lstrip().startswith("#")]


def test_every_requirement_is_pinned_exactly() -> None:
    packages = [line for line in requirement_lines() if not line.startswith("-e")]
    assert packages, "requirements.txt lists no packages"
    unpinned = [line for line in packages if not re.fullmatch(r"[A-Za-z0-9_.\-\[\],]+==[A-Za-z0-9_.+\-]+", line)]
    assert unpinned == []


def test_requirements_install_the_package_itself() -> None:
    assert "-e ." in requirement_lines()


def test_jupyter_book_is_the_1x_series() -> None:
    assert "jupyter-book==1.0.4.post1" in requirement_lines()


def test_runtime_is_python_311() -> None:
    assert (ROOT / "runtime.txt").read_text().strip() == "python-3.11"


def test_version_is_exposed() -> None:
    assert re.fullmatch(r"\d+\.\d+\.\d+", mlmtools.__version__)


def test_every_public_name_resolves() -> None:
    for name in mlmtools.__all__:
        assert getattr(mlmtools, name) is not None, name


def test_no_module_is_named_like_a_function_it_exports() -> None:
    """``import mlmtools.x as m`` always gives a module: no module file is named after a function it holds."""
    import importlib
    import pkgutil

    clashes = []
    for info in pkgutil.walk_packages(mlmtools.__path__, "mlmtools."):
        module = importlib.import_module(info.name)
        leaf = info.name.rsplit(".", 1)[1]
        if callable(getattr(module, leaf, None)):
            clashes.append(info.name)
    assert clashes == []
    for name in ("lmer", "glmer", "anova", "tidy"):
        assert callable(getattr(mlmtools, name)), name


def chapter_imports() -> list[tuple[str, str | None]]:
    """Every ``import mlmtools...`` and ``from mlmtools... import name`` in the chapters' code cells."""
    import ast
    import json

    found = []
    for path in sorted((ROOT / "notebooks").glob("*.ipynb")):
        for cell in json.loads(path.read_text(encoding="utf-8"))["cells"]:
            if cell["cell_type"] != "code":
                continue
            source = "".join(cell["source"])
            # IPython magics (``%pip install``) become ``pass`` at the same indentation
            code = "\n".join(line[:len(line) - len(line.lstrip())] + "pass" if line.lstrip().startswith(("%", "!"))
                             else line for line in source.splitlines())
            for node in ast.walk(ast.parse(code)):
                if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("mlmtools"):
                    found += [(node.module, alias.name) for alias in node.names]
                elif isinstance(node, ast.Import):
                    found += [(alias.name, None) for alias in node.names if alias.name.startswith("mlmtools")]
    return found


def test_every_import_of_the_chapters_resolves() -> None:
    """Every name a chapter imports from mlmtools resolves."""
    import importlib

    imports = chapter_imports()
    assert ("mlmtools", "lmer") in imports and ("mlmtools.rstyle", "format_number") in imports
    for module, name in imports:
        target = importlib.import_module(module)
        if name is not None:
            assert hasattr(target, name) or importlib.import_module(f"{module}.{name}"), (module, name)
