"""Review fixes in the chapters' prose, checked against the values the notebooks computed.

Each test reads a stored notebook (its prose and the numbers its cells glued into that prose) and
checks that what the text claims agrees with what was computed.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pytest

from mlmtools import RRandom
from mlmtools.rstyle import format_number

ROOT = Path(__file__).resolve().parents[2]
NOTEBOOKS = ROOT / "notebooks"


def load_notebook(name: str) -> dict:
    """The stored notebook ``notebooks/<name>.ipynb`` as JSON."""
    return json.loads((NOTEBOOKS / f"{name}.ipynb").read_text(encoding="utf-8"))


def glued_values(notebook: dict) -> dict[str, str]:
    """The plain-text value of every ``glue(...)`` call stored in the notebook's outputs."""
    values = {}
    for cell in notebook["cells"]:
        for output in cell.get("outputs", []):
            name = output.get("metadata", {}).get("scrapbook", {}).get("name")
            if name is not None:
                text = output["data"]["application/papermill.record/text/plain"]
                values[name] = text.strip("'\"")
    return values


def markdown_containing(notebook: dict, needle: str) -> str:
    """The one markdown cell whose source contains ``needle``."""
    hits = [
        "".join(cell["source"])
        for cell in notebook["cells"]
        if cell["cell_type"] == "markdown" and needle in "".join(cell["source"])
    ]
    assert len(hits) == 1, f"{len(hits)} markdown cells contain {needle!r}"
    return hits[0]


def printed_tables(notebook: dict) -> list[str]:
    """The stream outputs of the notebook's code cells."""
    return [
        "".join(output["text"])
        for cell in notebook["cells"]
        if cell["cell_type"] == "code"
        for output in cell.get("outputs", [])
        if output.get("output_type") == "stream"
    ]


@pytest.fixture(scope="module")
def part_one() -> dict:
    return load_notebook("01-independence")


def test_part_one_prediction_had_a_basis(part_one: dict) -> None:
    """Exercise 1.1's solution agrees with Exercise 1.2: most null correlations lie closer to zero.

    The share is recomputed from R's streams (set.seed(2026) for the survey, set.seed(1) for the
    5,000 replicates) and compared with the value the notebook glued into the solution's prose.
    """
    depression = RRandom(2026).rnorm(100, 15, 5)
    observed = np.corrcoef(depression[:50], depression[50:])[0, 1]
    draws = RRandom(1).rnorm(5000 * 2 * 50, 15, 5).reshape(5000, 2, 50)
    nulls = np.array([np.corrcoef(x, y)[0, 1] for x, y in draws])
    share_closer = np.mean(np.abs(nulls) < abs(observed))

    glued = glued_values(part_one)
    assert glued["share_closer_percent"] == format_number(100 * share_closer, digits=2)
    assert share_closer > 0.5, "the solution says a closer correlation was the likely outcome"
    assert float(glued["surprise_simulated"]) == pytest.approx(1 - share_closer, abs=0.005)

    solution = markdown_containing(part_one, "{glue:text}`odd_even_correlation`")
    assert "{glue:text}`share_closer_percent`" in solution
    assert "had a basis" in solution
    assert "no basis" not in solution


def test_part_one_odd_even_pairing_is_nearer_zero(part_one: dict) -> None:
    """The solution says the odd/even correlation is nearer zero than the halves' one."""
    glued = glued_values(part_one)
    assert abs(float(glued["odd_even_correlation"])) < abs(float(glued["half_correlation"]))


def test_r_to_python_row_numbering_matches_the_chapters() -> None:
    """The R-to-Python page's sentence on row numbers matches the chapters' printed tables."""
    page = (ROOT / "book" / "r-to-python.md").read_text(encoding="utf-8")
    sentence = page[page.index("**Row names start at 0.**") :].split("\n- ")[0]
    assert "<planning>` (Part VII) start at\n  row 0" in sentence
    assert 'row_names="numbered"' in sentence

    def first_row_labels(tables: list[str]) -> set[str]:
        labels = set()
        for table in tables:
            lines = table.splitlines()
            if len(lines) > 1 and re.match(r"^\d+\s", lines[1]):
                labels.add(lines[1].split()[0])
        return labels

    planning = printed_tables(load_notebook("07-planning-a-study"))
    assert "0" in first_row_labels(planning)
    fitting = load_notebook("05-estimating-mixed-models")
    numbered = [
        "".join(output["text"])
        for cell in fitting["cells"]
        if 'row_names="numbered"' in "".join(cell["source"])
        for output in cell.get("outputs", [])
        if output.get("output_type") == "stream"
    ]
    assert numbered and first_row_labels(numbered) == {"1"}


def chapter_labels() -> dict[str, str]:
    """The MyST label that opens each chapter (its first ``(label)=``), mapped to the notebook's name."""
    labels = {}
    for path in sorted(NOTEBOOKS.glob("*.ipynb")):
        markdown = "\n".join("".join(cell["source"]) for cell in load_notebook(path.stem)["cells"]
                             if cell["cell_type"] == "markdown")
        labels[re.search(r"^\((?P<label>[\w-]+)\)=", markdown, re.M)["label"]] = path.stem
    return labels


def code_of(notebook: dict) -> str:
    return "\n".join("".join(cell["source"]) for cell in notebook["cells"] if cell["cell_type"] == "code")


def test_part_three_sends_the_reader_to_the_part_that_builds_a_model_up() -> None:
    """Part III closes with a sequence of steps that starts from the empty model and names the part that
    applies it; that part must be one that fits an empty model (``~ 1 + (1 | g)``), i.e. Part V, not Part IV."""
    cell = markdown_containing(load_notebook("03-mixed-effects-models"), "applies this sequence")
    sentence = next(part for part in re.split(r"(?<=[.;])\s+", cell) if "applies this sequence" in part)
    targets = re.findall(r"\{ref\}`[^`<]*<(?P<label>[\w-]+)>`", sentence)
    assert len(targets) == 1, f"the clause should link one part: {sentence!r}"
    applied_in = chapter_labels()[targets[0]]
    assert re.search(r"~\s*1\s*\+\s*\(1\s*\|", code_of(load_notebook(applied_in))), f"{applied_in} fits no empty model"
    assert not re.search(r"~\s*1\s*\+\s*\(1\s*\|", code_of(load_notebook("04-time"))), "Part IV fits one too"


def test_sleepstudy_axes_count_days_of_the_study() -> None:
    """The sleepstudy's days 0-9 include the training and baseline days (restriction began after day 2), so
    Part V labels its axes with the day of the study, never with days of restriction."""
    labels = re.findall(r"(?:xlabel|set_xlabel)\W+\"([^\"]+)\"", code_of(load_notebook("05-estimating-mixed-models")))
    assert labels, "Part V labels no x axis"
    assert all("restriction" not in label.lower() for label in labels), labels
    assert "restriction began after day 2" in "".join(
        "".join(cell["source"]) for cell in load_notebook("05-estimating-mixed-models")["cells"])
