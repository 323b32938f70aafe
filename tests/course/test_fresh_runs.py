"""Each chapter notebook runs on its own, and prints the text stored in it.

This is what a reader who downloads a single chapter (or an instructor who lifts one into another course)
does: the session's fresh run of each notebook (see ``_fresh_runs``) ran it alone in an empty folder, from a
fresh kernel, in a shuffled order. It must finish, run every code cell, and print exactly the text stored in
the notebook, cell by cell.

nbval runs the same notebooks in ``notebooks/`` with the hash seed pytest's environment gives (random unless
``PYTHONHASHSEED`` is set), and checks that every output equals the stored one; the fresh run uses another
hash seed, another folder, another time, and one BLAS thread. So two runs that differ in what must not matter
print the same text, which is what every notebook must do.
"""

from __future__ import annotations

import json
from pathlib import Path

import nbformat
import pytest
from ._fresh_runs import NOTEBOOKS, ORDER_SEED, FreshRun, cell_texts, shuffled_notebooks


def test_there_are_notebooks() -> None:
    assert len(NOTEBOOKS) >= 6


def successful_run(fresh_runs: dict[str, FreshRun], source: Path) -> FreshRun:
    fresh_run = fresh_runs[source.stem]
    if not fresh_run.succeeded:
        pytest.fail(f"{source.name} fails when run alone (order seed {ORDER_SEED}):\n{fresh_run.error}")
    return fresh_run


@pytest.mark.parametrize("source", shuffled_notebooks(), ids=lambda path: path.stem)
def test_notebook_runs_alone(fresh_runs: dict[str, FreshRun], source: Path) -> None:
    notebook = nbformat.read(successful_run(fresh_runs, source).executed, as_version=4)
    code_cells = [cell for cell in notebook.cells if cell.cell_type == "code" and cell.source.strip()]
    assert all(cell.execution_count is not None for cell in code_cells), "some code cells did not run"


@pytest.mark.parametrize("source", shuffled_notebooks(), ids=lambda path: path.stem)
def test_fresh_run_prints_the_stored_text(fresh_runs: dict[str, FreshRun], source: Path) -> None:
    stored_texts = cell_texts(source)
    fresh_texts = cell_texts(successful_run(fresh_runs, source).executed)
    assert len(fresh_texts) == len(stored_texts)
    differing = [index for index, (a, b) in enumerate(zip(stored_texts, fresh_texts)) if a != b]
    details = "\n".join(
        f"code cell {index}:\n  stored: {json.dumps(stored_texts[index])[:600]}\n"
        f"  fresh:  {json.dumps(fresh_texts[index])[:600]}" for index in differing[:3])
    assert not differing, f"{source.name}: the fresh run prints other text than the stored outputs\n{details}"
    assert any(cell["stdout"] or cell["outputs"] for cell in stored_texts), \
        f"{source.name} stores no output to compare"
