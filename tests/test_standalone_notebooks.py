"""Each chapter notebook runs on its own: alone in an empty folder, from a fresh kernel, in a random order.

This is what a reader who downloads a single chapter (or an instructor who lifts one into another course)
does. A notebook that reads a file next to it, or relies on state left by another notebook, fails here.
The order is shuffled with a seed that failure messages report; set ``NOTEBOOK_ORDER_SEED`` to replay an
order.
"""

from __future__ import annotations

import os
import random
import shutil
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient
from nbclient.exceptions import CellExecutionError

ROOT = Path(__file__).resolve().parent.parent
CELL_TIMEOUT_SECONDS = 300
ORDER_SEED = int(os.environ.get("NOTEBOOK_ORDER_SEED", random.SystemRandom().randrange(10**6)))


def shuffled_notebooks() -> list[Path]:
    notebooks = sorted((ROOT / "notebooks").glob("*.ipynb"))
    random.Random(ORDER_SEED).shuffle(notebooks)
    return notebooks


def test_there_are_notebooks() -> None:
    assert shuffled_notebooks(), "no notebook in notebooks/"


@pytest.mark.slow
@pytest.mark.parametrize("source", shuffled_notebooks(), ids=lambda path: path.stem)
def test_notebook_runs_alone(source: Path, tmp_path: Path) -> None:
    copy = tmp_path / source.name
    shutil.copyfile(source, copy)
    notebook = nbformat.read(copy, as_version=4)
    client = NotebookClient(notebook, timeout=CELL_TIMEOUT_SECONDS, kernel_name="python3",
                            resources={"metadata": {"path": str(tmp_path)}})
    try:
        client.execute()
    except CellExecutionError as error:
        pytest.fail(f"{source.name} fails when run alone (order seed {ORDER_SEED}):\n{error}")
    code_cells = [cell for cell in notebook.cells if cell.cell_type == "code" and cell.source.strip()]
    assert all(cell.execution_count is not None for cell in code_cells), "some code cells did not run"
