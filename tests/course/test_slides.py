"""The chapters as reveal.js slides (`make slides`): slides from the slide cells, prose as speaker notes,
MyST rendered, no bookkeeping code and no solutions, nothing loaded from another host.

The first tests check the MyST-to-Markdown conversion on small pieces of text, then how cells are cut into
slides, on small notebooks. The deck tests make the slides of every chapter, as `make slides` does, from the
notebooks as stored (no execution).
"""

from __future__ import annotations

import functools
import re
import shutil
import sys
from pathlib import Path
from types import SimpleNamespace

import nbformat
import pytest
from bs4 import BeautifulSoup
from nbformat.v4 import new_code_cell, new_markdown_cell

from ._book import ROOT

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


def test_a_solution_cell_already_hidden_keeps_valid_tags() -> None:
    """A tag listed twice makes the notebook invalid (nbformat refuses to read it, and so the decks' build)."""
    hidden = new_code_cell("answer = 42", metadata={"tags": ["solution", "remove-cell"]})
    [cell] = myst.strip_solutions([hidden], keep_code=True)
    assert cell.metadata["tags"] == ["solution", "remove-cell"]
    notebook = nbformat.v4.new_notebook(cells=[cell])
    nbformat.validate(notebook)


# Cutting a notebook into slides -----------------------------------------------------------------------------

def tagged_cells() -> list:
    """A small chapter with slide cells: what each kind of cell becomes."""
    slide = {"tags": ["slide-only", "remove-cell"], "slideshow": {"slide_type": "slide"}}
    return [
        new_markdown_cell("# The chapter\n\nOpening prose."),
        new_markdown_cell("## First slide\n\n- one point", metadata=slide),
        new_markdown_cell("Prose of the first part."),
        new_code_cell("hidden_setup = 1", outputs=[]),
        new_code_cell("glue('value', 3)", metadata={"tags": ["bookkeeping", "remove-cell"]}),
        new_code_cell("shown_code = 2", metadata={"tags": ["slide-show"]},
                      outputs=[nbformat.v4.new_output("stream", name="stdout", text="shown output\n")]),
        new_markdown_cell("More prose of the first part."),
        new_markdown_cell("## Second slide", metadata={**slide, "slideshow": {"slide_type": "subslide"}}),
        new_code_cell("only_the_output_shows = 3", metadata={"tags": ["slide-output"]},
                      outputs=[nbformat.v4.new_output("stream", name="stdout", text="the printout\n")]),
        new_markdown_cell("Prose of the second part."),
    ]


def leaf_sections(soup: BeautifulSoup) -> list:
    return [section for section in soup.select("div.slides section") if not section.find("section")]


def shown_text(section) -> str:
    """The text of a slide without its speaker notes."""
    copy = BeautifulSoup(str(section), "html.parser")
    for notes in copy.select("aside.notes"):
        notes.decompose()
    return copy.get_text(" ")


def deck_of(cells: list, folder: Path) -> BeautifulSoup:
    source = folder / "99-example.ipynb"
    nbformat.write(nbformat.v4.new_notebook(cells=cells), source)
    return deck_soup(make_slides.make_deck(source, folder, {}))


def test_slide_cells_open_slides_and_prose_becomes_their_notes(tmp_path: Path) -> None:
    slides = leaf_sections(deck_of(tagged_cells(), tmp_path))
    headings = [section.find(["h1", "h2"]) for section in slides]
    titles = [(heading.name, heading.get_text(strip=True)) for heading in headings]
    assert titles == [("h1", "First slide¶"), ("h2", "Second slide¶")], "the first slide's title is the deck's"
    notes = [[aside.get_text(" ", strip=True) for aside in section.select("aside.notes")] for section in slides]
    assert len(notes[0]) == 1 and len(notes[1]) == 1, "one notes block a slide (reveal.js shows only the first)"
    assert "Opening prose." in notes[0][0] and "Prose of the first part." in notes[0][0]
    assert "More prose of the first part." in notes[0][0] and "Prose of the second part." in notes[1][0]
    first, second = shown_text(slides[0]), shown_text(slides[1])
    assert "shown_code" in first and "shown output" in first and "Prose" not in first
    assert "the printout" in second and "only_the_output_shows" not in second
    assert "hidden_setup" not in first + second and "glue" not in first + second
    assert slides[1].parent.name == "section" and slides[1].parent is slides[0].parent, "a subslide stacks"


def test_a_chapter_without_slide_cells_keeps_its_cells_but_not_its_bookkeeping(tmp_path: Path) -> None:
    cells = [cell for cell in tagged_cells() if "slide-only" not in cell.metadata.get("tags", [])]
    text = deck_of(cells, tmp_path).select_one("div.slides").get_text(" ")
    assert "hidden_setup" in text and "Prose of the second part." in text
    assert "glue(" not in text


def test_escaped_pipes_in_the_code_of_table_cells_are_pipes() -> None:
    html = "<table><tr><td><code>(1 \\| g)</code>, <code>a \\| b</code></td></tr></table><p><code>x \\| y</code></p>"
    assert make_slides.unescape_table_pipes(html) == (
        "<table><tr><td><code>(1 | g)</code>, <code>a | b</code></td></tr></table><p><code>x \\| y</code></p>")


# The decks ------------------------------------------------------------------------------------------------

def chapters() -> list[Path]:
    return sorted((ROOT / "notebooks").glob("*.ipynb"))


@functools.cache
def built_decks() -> dict[str, Path]:
    """Every chapter's deck, made once per session into ``_build/slides`` as ``make slides`` makes it."""
    made = make_slides.make_decks(chapters(), SLIDES)
    return {deck.name.removesuffix(".slides.html"): deck for deck in made}


@pytest.fixture(scope="module")
def decks() -> dict[str, Path]:
    return built_decks()


def deck_soup(deck: Path) -> BeautifulSoup:
    return BeautifulSoup(deck.read_text(encoding="utf-8"), "html.parser")


def notebook_of(chapter: Path) -> nbformat.NotebookNode:
    return nbformat.read(chapter, as_version=4)


def long_code_lines(cells: list) -> list[str]:
    """The lines of these code cells long enough to be recognised in a deck's text."""
    lines = [line.strip() for cell in cells if cell.cell_type == "code" for line in cell.source.splitlines()]
    return [line for line in lines if len(line) > 25 and not line.startswith(("#", "import ", "from "))]


def solution_code_lines(chapter: Path) -> list[str]:
    cells = notebook_of(chapter).cells
    kept = {id(cell) for cell in myst.strip_solutions(cells, keep_code=False)}
    return long_code_lines([cell for cell in cells if id(cell) not in kept])


def requires_slide_cells(chapter: Path) -> nbformat.NotebookNode:
    notebook = notebook_of(chapter)
    if not make_slides.has_slide_cells(notebook):
        pytest.skip(f"{chapter.stem} has no slide-only cells yet (its deck is cut by its slideshow metadata)")
    return notebook


@pytest.mark.parametrize("chapter", chapters(), ids=lambda path: path.stem)
def test_every_chapter_has_a_deck_of_more_than_ten_slides(decks: dict[str, Path], chapter: Path) -> None:
    slides = leaf_sections(deck_soup(decks[chapter.stem]))
    assert len(slides) > 10, f"{chapter.stem} has only {len(slides)} slides"


@pytest.mark.parametrize("chapter", chapters(), ids=lambda path: path.stem)
def test_each_slide_cell_is_a_slide_with_speaker_notes(decks: dict[str, Path], chapter: Path) -> None:
    notebook = requires_slide_cells(chapter)
    titles = [re.search(r"^#+\s*(.+)$", cell.source, re.M).group(1).strip() for cell in notebook.cells
              if cell.cell_type == "markdown" and "slide-only" in cell.metadata.get("tags", [])]
    slides = leaf_sections(deck_soup(decks[chapter.stem]))
    shown = [section.find(re.compile("^h[1-3]$")).get_text(strip=True).removesuffix("¶") for section in slides]
    assert shown[:len(titles)] == [title.replace("`", "") for title in titles]
    assert shown[len(titles):] in ([], ["References"]), f"slides that no slide cell opened: {shown[len(titles):]}"
    without_notes = [title for title, section in zip(titles, slides)
                     if not any(notes.get_text(strip=True) for notes in section.select("aside.notes"))]
    assert not without_notes, f"{chapter.stem}: slides without speaker notes: {without_notes}"


@pytest.mark.parametrize("chapter", chapters(), ids=lambda path: path.stem)
def test_only_slide_code_is_shown(decks: dict[str, Path], chapter: Path) -> None:
    notebook = requires_slide_cells(chapter)
    shown = " ".join(shown_text(section) for section in leaf_sections(deck_soup(decks[chapter.stem])))
    off_slides = [cell for cell in notebook.cells if cell.cell_type == "code"
                  and "slide-show" not in cell.metadata.get("tags", [])]
    leaked = [line for line in long_code_lines(off_slides) if line in shown]
    assert not leaked, f"code of cells not tagged slide-show on the {chapter.stem} slides: {leaked}"


@pytest.mark.parametrize("chapter", chapters(), ids=lambda path: path.stem)
def test_no_bookkeeping_code_in_the_deck(decks: dict[str, Path], chapter: Path) -> None:
    text = deck_soup(decks[chapter.stem]).select_one("div.slides").get_text()
    bookkeeping = [cell for cell in notebook_of(chapter).cells if "bookkeeping" in cell.metadata.get("tags", [])]
    leaked = [line for line in long_code_lines(bookkeeping) if line in text]
    assert not leaked, f"bookkeeping code in the {chapter.stem} deck: {leaked}"


@pytest.mark.parametrize("chapter", chapters(), ids=lambda path: path.stem)
def test_no_myst_syntax_is_left_as_raw_text(decks: dict[str, Path], chapter: Path) -> None:
    text = deck_soup(decks[chapter.stem]).select_one("div.slides").get_text("\n")
    raw = sorted({match.group(0).strip() for match in RAW_MYST.finditer(text)})
    assert not raw, f"raw MyST in the {chapter.stem} slides: {raw}"


@pytest.mark.parametrize("chapter", chapters(), ids=lambda path: path.stem)
def test_exercises_are_numbered_as_in_the_book_and_solutions_are_not_in_the_slides(
        decks: dict[str, Path], chapter: Path) -> None:
    text = deck_soup(decks[chapter.stem]).select_one("div.slides").get_text()
    exercises = sum(len(re.findall(r"\{exercise(?:-start)?\}", cell.source)) for cell in notebook_of(chapter).cells
                    if cell.cell_type == "markdown")
    number = myst.chapter_numbers(ROOT)[f"notebooks/{chapter.stem}"]
    numbered = re.findall(rf"Exercise {number}\.(\d+)", text)
    assert sorted({int(index) for index in numbered}) == list(range(1, exercises + 1))
    shown = [line for line in solution_code_lines(chapter) if line in text]
    assert not shown, f"solution code in the {chapter.stem} slides: {shown}"
    assert not re.search(r"\bSolution\b", text), f"a solution heading in the {chapter.stem} slides"


def test_decks_load_reveal_js_mathjax_and_the_theme_from_beside_them(decks: dict[str, Path]) -> None:
    assert (SLIDES / "node_modules" / "reveal.js" / "dist" / "reveal.js").exists()
    assert (SLIDES / make_slides.THEME_CSS.name).read_text() == make_slides.THEME_CSS.read_text()
    for deck in decks.values():
        soup = deck_soup(deck)
        addresses = [tag.get("src") or tag.get("href") for tag in soup.select("script[src], link[href]")]
        remote = [address for address in addresses if re.match(r"(https?:)?//", address)]
        assert not remote, f"{deck.name} loads from other hosts: {remote}"
        assert "node_modules/reveal.js/dist/reveal.js" in deck.read_text(encoding="utf-8")
        assert make_slides.THEME_CSS.name in addresses and "node_modules/mathjax/MathJax.js" in " ".join(addresses)
        assert re.search(r'slideNumber: "c/t"', deck.read_text(encoding="utf-8")), f"{deck.name} has no slide numbers"


@pytest.mark.parametrize("chapter", chapters(), ids=lambda path: path.stem)
def test_figures_carry_the_books_alternative_text(decks: dict[str, Path], chapter: Path) -> None:
    alts = [cell.metadata["mystnb"]["image"]["alt"] for cell in notebook_of(chapter).cells
            if cell.metadata.get("mystnb", {}).get("image", {}).get("alt")]
    images = deck_soup(decks[chapter.stem]).select("div.slides img")
    missing = [image.get("src", "")[:40] for image in images if image.get("alt") not in alts]
    assert not missing, f"{chapter.stem}: figures without the book's alternative text: {missing}"


def test_the_instructors_page_links_every_deck_and_its_pdf(decks: dict[str, Path]) -> None:
    page = (ROOT / "book" / "instructors.md").read_text(encoding="utf-8")
    links = set(re.findall(r'href="\.\./slides/([^"]+)"', page))
    expected = {name for chapter in decks for name in (f"{chapter}.slides.html", f"pdf/{chapter}.pdf")}
    assert links == expected


def test_the_book_extension_makes_the_decks_inside_the_html_book(decks: dict[str, Path], tmp_path: Path,
                                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    sys.path.insert(0, str(ROOT / "slides"))
    import slide_decks

    shutil.copytree(SLIDES / "node_modules", tmp_path / "slides" / "node_modules")
    monkeypatch.setattr(make_slides, "CHROMIUM", str(tmp_path / "no-chromium"))
    app = SimpleNamespace(outdir=str(tmp_path), srcdir=str(ROOT), builder=SimpleNamespace(format="html"),
                          tags=set())
    slide_decks.set_tag(app, None)
    slide_decks.build_decks(app, None)
    assert app.tags == {"slide_decks"}, "the tag that shows the instructors page's links"
    assert sorted(path.name for path in (tmp_path / "slides").glob("*.slides.html")) == sorted(
        deck.name for deck in decks.values())
    assert not (tmp_path / "slides" / "pdf").exists(), "no PDFs without Chromium"
