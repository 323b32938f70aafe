"""Every code line a reader sees in a chapter fits the book's code column (88 characters).

Issue 13.3: the desktop code column holds 88 characters (``ruff format --line-length 88``); wider lines
scroll sideways.  Cells hidden from the page (``remove-cell``, ``remove-input``), bookkeeping cells and
slide-only cells are not seen by readers and are left out.  The check reads the notebooks' sources only:
nothing is executed.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from ._book import ROOT

NOTEBOOKS = ROOT / "notebooks"
CODE_COLUMN = 88
HIDDEN_TAGS = frozenset({"remove-cell", "remove-input", "bookkeeping", "slide-only"})


def visible_code_lines(notebook: Path) -> list[tuple[int, str]]:
    """The (cell index, line) pairs of every code line the book shows for ``notebook``."""
    cells = json.loads(notebook.read_text(encoding="utf-8"))["cells"]
    return [
        (index, line)
        for index, cell in enumerate(cells)
        if cell["cell_type"] == "code" and not HIDDEN_TAGS & set(cell.get("metadata", {}).get("tags", []))
        for line in "".join(cell["source"]).splitlines()
    ]


def chapter_params() -> list:
    return [pytest.param(notebook, id=notebook.stem) for notebook in sorted(NOTEBOOKS.glob("*.ipynb"))]


def test_chapters_exist() -> None:
    assert len(list(NOTEBOOKS.glob("*.ipynb"))) >= 7


def test_hidden_cells_are_left_out(tmp_path: Path) -> None:
    wide = "x = " + "1 + " * 40 + "1"
    cells = [
        {"cell_type": "code", "metadata": {"tags": ["remove-cell", "bookkeeping"]}, "source": [wide]},
        {"cell_type": "code", "metadata": {}, "source": ["y = 2\n", wide]},
        {"cell_type": "markdown", "metadata": {}, "source": [wide]},
    ]
    notebook = tmp_path / "example.ipynb"
    notebook.write_text(json.dumps({"cells": cells}), encoding="utf-8")
    assert visible_code_lines(notebook) == [(1, "y = 2"), (1, wide)]


@pytest.mark.parametrize("notebook", chapter_params())
def test_visible_code_fits_the_column(notebook: Path) -> None:
    wide = [
        f"cell {index}: {len(line)} characters: {line[:60]}..."
        for index, line in visible_code_lines(notebook)
        if len(line) > CODE_COLUMN
    ]
    assert not wide, f"{len(wide)} visible code lines wider than {CODE_COLUMN}:\n" + "\n".join(wide)
