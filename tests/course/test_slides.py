"""The chapters as reveal.js slides (``make slides``): MyST rendered, solutions removed, enough slides.

The first tests check the MyST-to-Markdown conversion on small pieces of text. The deck tests make the slides
of every chapter, as ``make slides`` does, from the executed notebooks that the session's book build wrote.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

import nbformat
import pytest
from ._book import ROOT
from bs4 import BeautifulSoup
from nbformat.v4 import new_code_cell, new_markdown_cell

SCRIPTS = ROOT / "scripts"
BIBLIOGRAPHY = ROOT / "book" / "references.bib"
SLIDES = ROOT / "_build" / "slides"
RAW_MYST = re.compile(r"```\{|:::\{|\{glue|\{cite|\{[a-z][\w:.+-]*\}`|^\s*\([\w-]+\)=\s*$", re.M)


sys.path.insert(0, str(SCRIPTS))
import make_slides  # noqa: E402
import myst_markdown as myst  # noqa: E402


def convert(text: str, glue: dict | None = None) -> str:
    return myst.convert_text(text, glue=glue, bibliography=BIBLIOGRAPHY)


# The conversion, piece by piece ---------------------------------------------------------------------------

def test_glue_text_pastes_the_value_without_quotes_and_formats_numbers() -> None:
    glue = {"r": {"text/plain": "'0.2385088'"}, "x": {"text/plain": "np.float64(2.5)"}, "n": {"text/plain": "12.3456"}}
    assert convert("r is {glue:text}`r`, n is {glue:text}`n:.1f`.", glue) == "r is 0.2385088, n is 12.3."
    assert convert("{glue:}`r`", glue) == "0.2385088"


def test_missing_glue_key_is_an_error() -> None:
    with pytest.raises(KeyError, match="nothing"):
        convert("{glue:text}`nothing`", {})


def test_citations_are_author_year() -> None:
    assert convert("see {cite:p}`bates2015`") == "see (Bates et al., 2015)"
    assert convert("{cite:t}`liang1986` showed") == "Liang and Zeger (1986) showed"
    assert convert("{cite:p}`bates2015,kuznetsova2017`") == "(Bates et al., 2015; Kuznetsova et al., 2017)"


def test_unknown_citation_key_is_an_error() -> None:
    with pytest.raises(KeyError, match="nobody2099"):
        convert("{cite:p}`nobody2099`")


def test_admonitions_become_block_quotes_with_a_title() -> None:
    text = "```{note}\nA *short* remark.\n```"
    assert convert(text) == "> **Note**\n>\n> A *short* remark."
    assert convert(":::{admonition} Watch out\nText.\n:::") == "> **Watch out**\n>\n> Text."


def test_targets_comments_and_cross_references_become_plain_text() -> None:
    text = "(sec-intro)=\n% a comment\nSee {doc}`../notebooks/02-clustered-data` and {ref}`the model <sec-model>`."
    assert convert(text) == "See 02 clustered data and the model."


def test_code_stays_verbatim() -> None:
    text = "Use `{glue:text}` roles:\n\n```python\nprint('{cite:p}`x`')\n```"
    assert convert(text) == text


def test_exercises_are_numbered_headed_blocks() -> None:
    text = ("```{exercise-start}\n:label: ex-one\n```\nDo this.\n```{exercise-end}\n```\n\n"
            "```{exercise} Two\nDo that.\n```")
    converted = convert(text)
    assert converted == "### Exercise 1\n\nDo this.\n\n### Exercise 2: Two\n\nDo that."


def test_labelled_equations_are_numbered_and_referenced() -> None:
    cells = [new_markdown_cell("$$\na = b\n$$ (eq-a)\n\n$$\nc = d\n$$ (eq-c)"),
             new_markdown_cell("By {eq}`eq-c` and {eq}`eq-a`.")]
    converter = myst.MarkdownConverter({}, myst.Bibliography(BIBLIOGRAPHY), myst.equation_labels(cells))
    assert converter.convert(cells[0].source) == "$$\na = b\n\\tag{1} $$\n\n$$\nc = d\n\\tag{2} $$"
    assert converter.convert(cells[1].source) == "By (2) and (1)."


def gated_exercise_cells() -> list:
    return [
        new_markdown_cell("```{exercise-start}\n:label: ex\n```\nQuestion.\n```{exercise-end}\n```"),
        new_markdown_cell("```{solution-start} ex\n:class: dropdown\n```"),
        new_code_cell("answer = 42", metadata={"tags": ["solution"]}),
        new_code_cell("check = answer + 1"),
        new_markdown_cell("The answer is 42.\n\n```{solution-end}\n```\n\nAfter the exercise."),
        new_markdown_cell("```{solution} ex\nAlso hidden.\n```\nVisible."),
    ]


def test_solutions_are_dropped_for_slides() -> None:
    cells = myst.strip_solutions(gated_exercise_cells(), keep_code=False)
    text = "\n".join(cell.source for cell in cells)
    assert [cell.cell_type for cell in cells] == ["markdown", "markdown", "markdown"]
    assert "Question." in text and "After the exercise." in text and "Visible." in text
    assert "42" not in text and "hidden" not in text and "solution" not in text


def test_solutions_are_hidden_but_still_run_for_the_student_book() -> None:
    cells = myst.strip_solutions(gated_exercise_cells(), keep_code=True)
    code = [cell for cell in cells if cell.cell_type == "code"]
    assert [cell.source for cell in code] == ["answer = 42", "check = answer + 1"]
    assert all("remove-cell" in cell.metadata["tags"] for cell in code)
    assert "42" not in "\n".join(cell.source for cell in cells if cell.cell_type == "markdown")


# The decks -----------------------------------------------------------------------------------------------

def chapters() -> list[Path]:
    return sorted((ROOT / "notebooks").glob("*.ipynb"))


@pytest.fixture(scope="module")
def decks(book_html: Path) -> dict[str, Path]:
    executed = book_html.parent / "jupyter_execute" / "notebooks"
    made = make_slides.make_all(chapters(), SLIDES, executed)
    return {deck.name.removesuffix(".slides.html"): deck for deck in made}


def deck_soup(deck: Path) -> BeautifulSoup:
    return BeautifulSoup(deck.read_text(encoding="utf-8"), "html.parser")


def solution_code_lines(chapter: Path) -> list[str]:
    cells = nbformat.read(chapter, as_version=4).cells
    kept = {id(cell) for cell in myst.strip_solutions(cells, keep_code=False)}
    lines = [line.strip() for cell in cells if cell.cell_type == "code" and id(cell) not in kept
             for line in cell.source.splitlines()]
    return [line for line in lines if len(line) > 25 and not line.startswith(("#", "import ", "from "))]


@pytest.mark.parametrize("chapter", chapters(), ids=lambda path: path.stem)
def test_every_chapter_has_a_deck_of_more_than_ten_slides(decks: dict[str, Path], chapter: Path) -> None:
    soup = deck_soup(decks[chapter.stem])
    leaves = [section for section in soup.select("div.slides section") if not section.find("section")]
    assert len(leaves) > 10, f"{chapter.stem} has only {len(leaves)} slides"


@pytest.mark.parametrize("chapter", chapters(), ids=lambda path: path.stem)
def test_no_myst_syntax_is_left_as_raw_text(decks: dict[str, Path], chapter: Path) -> None:
    text = deck_soup(decks[chapter.stem]).select_one("div.slides").get_text("\n")
    raw = sorted({match.group(0).strip() for match in RAW_MYST.finditer(text)})
    assert not raw, f"raw MyST in the {chapter.stem} slides: {raw}"


@pytest.mark.parametrize("chapter", chapters(), ids=lambda path: path.stem)
def test_solutions_are_not_in_the_slides(decks: dict[str, Path], chapter: Path) -> None:
    text = deck_soup(decks[chapter.stem]).select_one("div.slides").get_text()
    source = nbformat.read(chapter, as_version=4)
    exercises = sum(len(re.findall(r"\{exercise(?:-start)?\}", cell.source)) for cell in source.cells
                    if cell.cell_type == "markdown")
    assert len(re.findall(r"Exercise \d+", text)) >= exercises
    shown = [line for line in solution_code_lines(chapter) if line in text]
    assert not shown, f"solution code in the {chapter.stem} slides: {shown}"


def test_decks_use_the_local_reveal_js_when_installed(decks: dict[str, Path]) -> None:
    local = (SLIDES / "node_modules" / "reveal.js" / "dist" / "reveal.js").exists()
    for deck in decks.values():
        html = deck.read_text(encoding="utf-8")
        expected = "node_modules/reveal.js/dist/reveal.js" if local else "unpkg.com/reveal.js"
        assert expected in html, f"{deck.name} does not load reveal.js from {expected}"
