"""Review fixes in the planning chapter (``notebooks/07-planning-a-study.ipynb``), on the stored notebook.

Issues 13 and 14: the chapter keeps its bookkeeping (``glue``) out of the code a reader sees, opens
with prerequisites, learning objectives and the book's notation, ends with a summary, further
reading from the bibliography and exercises marked by difficulty, numbers and captions its
figures with alt text, and is tagged for slides whose every content slide has speaker notes.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
CHAPTER = ROOT / "notebooks" / "07-planning-a-study.ipynb"
HIDDEN = frozenset({"remove-cell", "remove-input", "bookkeeping", "slide-only"})


def cells() -> list[dict]:
    return json.loads(CHAPTER.read_text(encoding="utf-8"))["cells"]


def tags(cell: dict) -> set[str]:
    return set(cell["metadata"].get("tags", []))


def text(cell: dict) -> str:
    return "".join(cell["source"])


def book_markdown() -> str:
    """The markdown a reader of the book sees (slide-only cells left out)."""
    return "\n".join(text(cell) for cell in cells()
                     if cell["cell_type"] == "markdown" and "remove-cell" not in tags(cell))


def test_visible_code_has_no_bookkeeping() -> None:
    visible = [text(cell) for cell in cells() if cell["cell_type"] == "code" and not HIDDEN & tags(cell)]
    assert visible
    assert not [source for source in visible if "glue(" in source or "format_rounded(" in source]
    glued = [cell for cell in cells() if cell["cell_type"] == "code" and "glue(" in text(cell)]
    assert glued and all({"bookkeeping", "remove-cell"} <= tags(cell) for cell in glued)


def test_opening_states_prerequisites_objectives_and_notation() -> None:
    markdown = book_markdown()
    opening = markdown[: markdown.index("## From the design effect to power")]
    assert "**Prerequisites.**" in opening
    assert "**Learning objectives.**" in opening
    assert "{doc}`notation page <../book/notation>`" in opening
    assert r"$\sigma^2_u$ is the variance between clusters" in opening
    assert r"$\sigma^2_e$ the variance within them" in opening


def test_summary_and_further_reading_cite_the_bibliography() -> None:
    markdown = book_markdown()
    assert markdown.index("## Summary") < markdown.index("## Further reading") < markdown.index("## Exercises")
    reading = markdown[markdown.index("## Further reading") : markdown.index("## Exercises")]
    keys = re.findall(r"\{cite:p\}`([^`]+)`", reading)
    bibliography = (ROOT / "book" / "references.bib").read_text(encoding="utf-8")
    known = set(re.findall(r"^@\w+\{([^,]+),", bibliography, re.M))
    assert len(keys) >= 2
    assert set(keys) <= known, set(keys) - known


def test_exercises_carry_difficulty_marks() -> None:
    starts = re.findall(r"\{exercise-start\}(.*)", book_markdown())
    assert len(starts) == 3
    marks = [re.search(r"\(([★☆]{3})\)\s*$", title) for title in starts]
    assert all(marks), starts
    assert [mark.group(1) for mark in marks] == ["★☆☆", "★★☆", "★★★"]


def test_figures_are_named_captioned_and_described() -> None:
    figures = [cell for cell in cells()
               if cell["cell_type"] == "code" and "plt.show()" in text(cell)]
    assert len(figures) == 2
    markdown = book_markdown()
    for cell in figures:
        figure = cell["metadata"]["mystnb"]["figure"]
        assert figure["caption"] and len(cell["metadata"]["mystnb"]["image"]["alt"]) > 80
        assert f"{{numref}}`{figure['name']}`" in markdown


def test_every_slide_has_notes_before_the_next() -> None:
    all_cells = cells()
    slides = [index for index, cell in enumerate(all_cells) if "slide-only" in tags(cell)]
    assert len(slides) > 10
    for start, end in zip(slides, slides[1:] + [len(all_cells)]):
        assert {"slide-only", "remove-cell"} <= tags(all_cells[start])
        assert text(all_cells[start]).startswith("## ")
        between = all_cells[start + 1 : end]
        assert any(cell["cell_type"] == "markdown" and not tags(cell) for cell in between), (
            f"slide {text(all_cells[start]).splitlines()[0]!r} has no speaker notes"
        )
        shown = [cell for cell in between if tags(cell) & {"slide-show", "slide-output"}]
        assert not [cell for cell in shown if "bookkeeping" in tags(cell)]
