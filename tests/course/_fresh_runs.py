"""One fresh run of every chapter notebook: alone in an empty folder, from a fresh kernel, in a shuffled order.

Besides nbval's (which runs the notebooks in ``notebooks/`` and compares every output with the stored one),
this is the only execution of the notebooks in a test session: the tests check that each notebook runs alone
and prints the text stored in it, and the books and slides are built from these outputs (see ``_pipeline``).

Each notebook runs in a new interpreter started with exactly the environment given: a Python hash seed other
than the one nbval's kernel inherits from pytest, BLAS and OpenMP pinned to one thread (so the numbers cannot
depend on how a matrix product is split between threads), and its own empty folder as the working directory.
A notebook that reads a file next to it, or relies on state left by another notebook, fails here. Two
notebooks run at a time, started in an order shuffled with ``ORDER_SEED``, which failure messages report; set
``NOTEBOOK_ORDER_SEED`` to replay an order.

The text compared is what must be reproducible: the text of each stream (stdout, stderr), errors, and the
``text/plain``, ``text/html``, ``text/markdown`` and ``text/latex`` parts of results and displays. Images
are left out (their bytes carry renderer details, not course content).
"""

from __future__ import annotations

import copy
import os
import random
import subprocess
import sys
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import nbformat
from ._book import ROOT

NOTEBOOKS = sorted((ROOT / "notebooks").glob("*.ipynb"))
TEXT_TYPES = ("text/plain", "text/html", "text/markdown", "text/latex")
CELL_TIMEOUT_SECONDS = 300
WORKERS = 2
ORDER_SEED = int(os.environ.get("NOTEBOOK_ORDER_SEED", random.SystemRandom().randrange(10**6)))

#: Run in a separate interpreter, so that the kernel inherits exactly the environment given.
EXECUTE = """
import sys
import nbformat
from nbclient import NotebookClient

source, target, folder, timeout = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
notebook = nbformat.read(source, as_version=4)
NotebookClient(notebook, timeout=timeout, kernel_name="python3",
               resources={"metadata": {"path": folder}}).execute()
nbformat.write(notebook, target)
"""


@dataclass(frozen=True)
class FreshRun:
    """A notebook's fresh run: the executed copy (written only when every cell ran) and the error output."""

    source: Path
    executed: Path
    error: str

    @property
    def succeeded(self) -> bool:
        return self.error == ""


def shuffled_notebooks() -> list[Path]:
    notebooks = list(NOTEBOOKS)
    random.Random(ORDER_SEED).shuffle(notebooks)
    return notebooks


def fresh_run_hash_seed() -> str:
    """A hash seed other than the one nbval's kernel inherits (pytest's, random unless ``PYTHONHASHSEED`` is
    set), so that nbval's run and the fresh run differ in it."""
    return "2" if os.environ.get("PYTHONHASHSEED") != "2" else "3"


def kernel_environment(hash_seed: str) -> dict[str, str]:
    env = dict(os.environ)
    env.update({
        "PYTHONHASHSEED": hash_seed,
        "OMP_NUM_THREADS": "1",
        "OPENBLAS_NUM_THREADS": "1",
        "MKL_NUM_THREADS": "1",
        "VECLIB_MAXIMUM_THREADS": "1",
        "NUMEXPR_NUM_THREADS": "1",
    })
    return env


def run_alone(source: Path, folder: Path, run: Callable[..., subprocess.CompletedProcess]) -> FreshRun:
    """Execute ``source`` in a fresh kernel inside the new empty ``folder``; ``run`` is ``subprocess.run`` or
    a stand-in with its signature."""
    folder.mkdir(parents=True)
    target = folder / source.name
    completed = run([sys.executable, "-c", EXECUTE, str(source), str(target), str(folder), str(CELL_TIMEOUT_SECONDS)],
                    cwd=folder, env=kernel_environment(fresh_run_hash_seed()), capture_output=True, text=True)
    error = "" if completed.returncode == 0 else (completed.stderr[-4000:] or f"exit status {completed.returncode}")
    return FreshRun(source, target, error)


def run_all(folder: Path, run: Callable[..., subprocess.CompletedProcess]) -> dict[str, FreshRun]:
    """Every notebook run alone (see ``run_alone``), ``WORKERS`` at a time, in the shuffled order; by stem."""
    notebooks = shuffled_notebooks()
    with ThreadPoolExecutor(max_workers=WORKERS) as pool:
        runs = list(pool.map(lambda source: run_alone(source, folder / source.stem, run), notebooks))
    return {fresh_run.source.stem: fresh_run for fresh_run in runs}


def with_outputs(source: nbformat.NotebookNode, executed: nbformat.NotebookNode) -> nbformat.NotebookNode:
    """``source`` with the outputs and execution counts of its executed copy, and nothing else of it (so that
    its cells hash as the source's do in a jupyter-cache)."""
    merged = copy.deepcopy(source)
    source_code = [cell for cell in merged.cells if cell.cell_type == "code"]
    executed_code = [cell for cell in executed.cells if cell.cell_type == "code"]
    assert [cell.source for cell in source_code] == [cell.source for cell in executed_code], \
        "the executed copy has other code cells than its source"
    for cell, executed_cell in zip(source_code, executed_code):
        cell.outputs = executed_cell.outputs
        cell.execution_count = executed_cell.execution_count
    return merged


def text_of(output: dict) -> dict:
    """The parts of one output that must be reproducible."""
    kind = output["output_type"]
    if kind == "stream":
        return {"stream": output["name"], "text": output["text"]}
    if kind == "error":
        return {"error": output["ename"], "value": output["evalue"]}
    data = output.get("data", {})
    return {"kind": kind, **{mime: data[mime] for mime in TEXT_TYPES if mime in data}}


def cell_text(outputs: list[dict]) -> dict:
    """One cell's reproducible text: each stream joined into one text (how prints are split into messages,
    and interleaved with another stream, depends on when the kernel flushes), then the other outputs in
    order."""
    texts = [text_of(output) for output in outputs]
    return {
        "stdout": "".join(t["text"] for t in texts if t.get("stream") == "stdout"),
        "stderr": "".join(t["text"] for t in texts if t.get("stream") == "stderr"),
        "outputs": [t for t in texts if "stream" not in t],
    }


def cell_texts(path: Path) -> list[dict]:
    """The reproducible text of every code cell of the notebook at ``path``."""
    notebook = nbformat.read(path, as_version=4)
    return [cell_text(cell.get("outputs", [])) for cell in notebook.cells if cell.cell_type == "code"]
