"""Every notebook prints the same text every time it runs.

Each notebook in ``notebooks/`` is executed twice, each time in a fresh kernel started in its
own empty folder, and the text outputs of the two runs are compared cell by cell: the text
of each stream (stdout, stderr), errors, and the ``text/plain``, ``text/html``,
``text/markdown`` and ``text/latex`` parts of results and displays. Images are ignored (their
bytes carry renderer details, not course content).

The two runs differ in what must not matter: the Python hash seed (1 and 2), the time, and
the folder they run in. BLAS and OpenMP are pinned to one thread in both runs, so the numbers
cannot depend on how a matrix product is split between threads. Runs go two at a time.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import nbformat
import pytest

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOKS = sorted((ROOT / "notebooks").glob("*.ipynb"))
TEXT_TYPES = ("text/plain", "text/html", "text/markdown", "text/latex")
CELL_TIMEOUT_SECONDS = 600
HASH_SEEDS = ("1", "2")
WORKERS = 2

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


def execute(source: Path, folder: Path, hash_seed: str) -> tuple[Path, str]:
    """Execute ``source`` in a fresh kernel inside ``folder``; return the executed copy and
    any error output."""
    folder.mkdir(parents=True)
    target = folder / source.name
    completed = subprocess.run(
        [sys.executable, "-c", EXECUTE, str(source), str(target), str(folder),
         str(CELL_TIMEOUT_SECONDS)],
        cwd=folder, env=kernel_environment(hash_seed), capture_output=True, text=True,
    )
    return target, "" if completed.returncode == 0 else completed.stderr[-4000:]


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
    """One cell's reproducible text: each stream joined into one text (how prints are split
    into messages, and interleaved with another stream, depends on when the kernel flushes),
    then the other outputs in order."""
    texts = [text_of(output) for output in outputs]
    return {
        "stdout": "".join(t["text"] for t in texts if t.get("stream") == "stdout"),
        "stderr": "".join(t["text"] for t in texts if t.get("stream") == "stderr"),
        "outputs": [t for t in texts if "stream" not in t],
    }


def cell_texts(path: Path) -> list[dict]:
    notebook = nbformat.read(path, as_version=4)
    return [cell_text(cell.get("outputs", [])) for cell in notebook.cells
            if cell.cell_type == "code"]


@pytest.fixture(scope="module")
def executions(tmp_path_factory) -> dict[str, list[tuple[Path, str]]]:
    """Both runs of every notebook, two executions at a time."""
    base = tmp_path_factory.mktemp("notebook-runs")
    jobs = [(notebook, base / f"{notebook.stem}-run{run}", seed)
            for notebook in NOTEBOOKS for run, seed in enumerate(HASH_SEEDS, start=1)]
    with ThreadPoolExecutor(max_workers=WORKERS) as pool:
        results = list(pool.map(lambda job: execute(*job), jobs))
    runs: dict[str, list[tuple[Path, str]]] = {notebook.stem: [] for notebook in NOTEBOOKS}
    for (notebook, _, _), result in zip(jobs, results):
        runs[notebook.stem].append(result)
    return runs


def test_there_are_notebooks():
    assert len(NOTEBOOKS) >= 6


@pytest.mark.parametrize("notebook", NOTEBOOKS, ids=lambda path: path.stem)
def test_two_fresh_runs_print_the_same_text(executions, notebook):
    (first, first_error), (second, second_error) = executions[notebook.stem]
    assert first_error == "", f"{notebook.name} failed in run 1:\n{first_error}"
    assert second_error == "", f"{notebook.name} failed in run 2:\n{second_error}"
    first_texts, second_texts = cell_texts(first), cell_texts(second)
    assert len(first_texts) == len(second_texts)
    differing = [index for index, (a, b) in enumerate(zip(first_texts, second_texts)) if a != b]
    details = "\n".join(
        f"code cell {index}:\n  run 1: {json.dumps(first_texts[index])[:600]}\n"
        f"  run 2: {json.dumps(second_texts[index])[:600]}" for index in differing[:3])
    assert not differing, f"{notebook.name}: outputs differ between two runs\n{details}"
    assert any(cell["stdout"] or cell["outputs"] for cell in first_texts), \
        f"{notebook.name} printed nothing to compare"
