"""The learner notebooks (``learner/``, ``make learner``) read cleanly in plain Jupyter and are up to date.

Every learner notebook is rendered as plain Jupyter renders it: nbconvert's HTML exporter, whose Markdown
renderer knows nothing of MyST. The rendered Markdown must hold no role, directive, target or exercise
marker; the same check on the chapters themselves must find some (so that it can fail). The learner notebooks
must equal what ``scripts/learner_notebooks.py`` makes from the chapters now, and the student editions must
hold none of the solutions' prose, code or outputs, all of which the full editions hold. Nothing is executed.
"""

from __future__ import annotations

import ast
import re
import sys
from functools import cache
from pathlib import Path

import nbformat
import pytest
from bs4 import BeautifulSoup
from nbconvert import HTMLExporter
from nbformat import NotebookNode

from ._book import ROOT

sys.path.insert(0, str(ROOT / "scripts"))
import learner_notebooks as learner
from myst_markdown import FENCE_OPEN, SOLUTION_TAG, MystMarkdownPreprocessor, glue_outputs, glue_text

CHAPTERS = learner.chapter_paths(ROOT)
EDITIONS = {"full": False, "student": True}
ROLE = re.compile(r"\{[a-z][\w:.+-]*\}")
MYST_MARKERS = re.compile(r"```\{|:::\{|^\s*\([\w.-]+\)=\s*$|\$\$\s*\([\w.-]+\)|\b(exercise|solution)-(start|end)\b"
                          r"|^\s*:(label|class|name):", re.M)
DISPLAY_MATH = re.compile(r"\$\$.*?\$\$|\\\[.*?\\\]", re.S)
INLINE_MATH = re.compile(r"\$[^$\n]+\$|\\\(.*?\\\)")
PLAIN_RUN = re.compile(r"[A-Za-z][A-Za-z ,;]{30,}[A-Za-z]")
SHORTEST_SNIPPET = 20


@cache
def plain_html(path: Path) -> str:
    """A notebook's markdown cells as plain nbconvert renders them (HTML, no MyST)."""
    notebook = nbformat.read(path, as_version=4)
    notebook.cells = [cell for cell in notebook.cells if cell.cell_type == "markdown"]
    return HTMLExporter().from_notebook_node(notebook)[0]


@cache
def rendered_markdown(path: Path) -> list[str]:
    """The text of each markdown cell of a notebook as plain nbconvert renders it, math and code left out."""
    soup = BeautifulSoup(plain_html(path), "html.parser")
    texts = []
    for cell in soup.select(".jp-MarkdownCell .jp-RenderedMarkdown"):
        leftover_fences = [code for code in cell.select("code") if "language-{" in " ".join(code.get("class", []))]
        for code in cell.select("code, pre"):
            code.decompose()
        text = INLINE_MATH.sub(" ", DISPLAY_MATH.sub(" ", cell.get_text()))
        texts.append(text + "".join(" ```{" for _ in leftover_fences))
    return texts


def leftover_myst(path: Path) -> list[str]:
    """Roles, directives, targets and exercise markers left in the rendered Markdown of a notebook."""
    found = []
    for text in rendered_markdown(path):
        found += ROLE.findall(text) + [match.group(0).strip() for match in MYST_MARKERS.finditer(text)]
    return found


def converter_for(docname: str) -> learner.LearnerConverter:
    """The learner converter of a chapter, with the book's real index and bibliography and no glued values."""
    index = learner.build_index(ROOT)
    bibliography = learner.LinkedBibliography(ROOT / "book" / "references.bib", index.page_url("book/bibliography"))
    return learner.LearnerConverter({}, bibliography, index, docname, ROOT / "notebooks", ROOT / "learner")


def test_citations_read_author_year_and_link_to_the_bibliography() -> None:
    converter = converter_for("notebooks/02-clustered-data")
    bibliography = converter.index.page_url("book/bibliography")
    assert converter.convert("as shown {cite:p}`snijders2012`.") == (
        f"as shown ([Snijders & Bosker, 2012]({bibliography})).")
    assert converter.convert("{cite:t}`liang1986` showed") == f"[Liang & Zeger (1986)]({bibliography}) showed"


def test_cross_references_become_links_into_the_book() -> None:
    converter = converter_for("notebooks/06-gee")
    index = converter.index
    label, target = next((label, target) for label, target in index.targets.items()
                         if target.anchor.startswith("equation-") and target.docname == "notebooks/06-gee")
    equation_url = index.page_url(target.docname, target.anchor)
    assert converter.convert(f"By {{eq}}`{label}`.") == f"By [{target.text}]({equation_url})."
    section = index.targets["gee-conditional-marginal"]
    assert converter.convert("{ref}`gee-conditional-marginal`") == (
        f"[{section.text}]({index.page_url('notebooks/06-gee', 'gee-conditional-marginal')})")
    assert converter.convert("{ref}`this part <gee>`") == f"[this part]({index.page_url('notebooks/06-gee', 'gee')})"
    assert converter.convert("{doc}`../book/wrap-up` and [the intro](../book/intro.md#why)") == (
        f"[{index.titles['book/wrap-up']}]({index.page_url('book/wrap-up')}) and "
        f"[the intro]({index.page_url('book/intro', 'why')})")


def test_directives_become_plain_markdown() -> None:
    """Admonitions (backtick and colon fences), math and figure directives, and layout containers."""
    myst = "\n".join([
        "```{note}", "A *short* remark.", "```", "",
        ":::{warning} Mind the boundary", "Variances cannot be negative.", ":::", "",
        "```{math}", ":label: eq-unused", "a = b", "```", "",
        "```{figure} ../book/benchmarks_scaling.png", ":alt: Fit times", "", "How fit times grow.", "```", "",
        "::::{tab-set}", ":::{tab-item} Python", "Use `lmer`.", ":::", "::::",
    ])
    converted = converter_for("notebooks/05-estimating-mixed-models").convert(myst)
    assert "> **Note**\n>\n> A *short* remark." in converted
    assert "> **Mind the boundary**\n>\n> Variances cannot be negative." in converted
    assert "$$\na = b\n$$" in converted
    assert "![Fit times](../book/benchmarks_scaling.png)" in converted, "the image path is not relative to learner/"
    assert "*How fit times grow.*" in converted and "Use `lmer`." in converted
    notebook = nbformat.v4.new_notebook(cells=[nbformat.v4.new_markdown_cell(converted)])
    text = BeautifulSoup(HTMLExporter().from_notebook_node(notebook)[0], "html.parser").get_text()
    assert not ROLE.findall(INLINE_MATH.sub(" ", DISPLAY_MATH.sub(" ", text))) and not MYST_MARKERS.search(text)


def test_a_reference_the_book_cannot_resolve_is_an_error() -> None:
    with pytest.raises(KeyError, match="no-such-label"):
        converter_for("notebooks/06-gee").convert("{ref}`no-such-label`")


def learner_files() -> list[Path]:
    return [learner.learner_path(chapter, student, ROOT) for chapter in CHAPTERS for student in EDITIONS.values()]


def test_every_chapter_has_both_learner_editions() -> None:
    assert CHAPTERS, "no chapter notebooks in the table of contents"
    missing = [path.relative_to(ROOT) for path in learner_files() if not path.exists()]
    assert not missing, f"missing learner notebooks (run `make learner`): {missing}"


@pytest.mark.parametrize("chapter", CHAPTERS, ids=lambda path: path.stem)
def test_the_check_sees_myst_in_the_chapters(chapter: Path) -> None:
    """The chapters themselves are MyST: rendered plainly they must show leftovers, or the check is blind."""
    assert leftover_myst(chapter), f"no MyST found in {chapter.name} rendered plainly: the check cannot fail"


@pytest.mark.parametrize("path", learner_files(), ids=lambda path: str(path.relative_to(ROOT / "learner")))
def test_learner_notebook_renders_without_myst(path: Path) -> None:
    assert not leftover_myst(path), f"{path.relative_to(ROOT)} shows MyST syntax in plain Jupyter"


def test_learner_notebooks_are_up_to_date() -> None:
    generated = learner.generate(ROOT)
    assert set(generated) == {*learner_files(), ROOT / "learner" / "README.md"}
    stale = learner.stale(generated, ROOT)
    assert not stale, f"out of date with notebooks/ (run `make learner`): {[str(p.relative_to(ROOT)) for p in stale]}"


def exercise_labels(chapter: Path) -> list[str]:
    """The exercises' titles in a chapter, in order (what follows ``{exercise-start}`` or ``{exercise}``)."""
    titles = []
    for cell in nbformat.read(chapter, as_version=4).cells:
        if cell.cell_type == "markdown":
            for line in cell.source.split("\n"):
                match = FENCE_OPEN.match(line)
                if match and match.group("name") in ("exercise", "exercise-start"):
                    titles.append(match.group("argument"))
    return titles


@pytest.mark.parametrize("chapter", CHAPTERS, ids=lambda path: path.stem)
@pytest.mark.parametrize("edition", EDITIONS)
def test_exercises_are_headed_and_numbered_within_the_chapter(chapter: Path, edition: str) -> None:
    number = learner.build_index(ROOT).chapter_numbers[chapter.relative_to(ROOT).with_suffix("").as_posix()]
    titles = exercise_labels(chapter)
    soup = BeautifulSoup(plain_html(learner.learner_path(chapter, EDITIONS[edition], ROOT)), "html.parser")
    headings = [h.get_text().rstrip("¶").strip() for h in soup.select("h3") if h.get_text().startswith("Exercise")]
    assert headings == [f"Exercise {number}.{k}" + (f": {title}" if title else "")
                        for k, title in enumerate(titles, start=1)]


@pytest.mark.parametrize("chapter", CHAPTERS, ids=lambda path: path.stem)
def test_slides_number_the_exercises_as_the_learner_notebooks(chapter: Path) -> None:
    """The slides' Markdown (``MystMarkdownPreprocessor``, given the deck's name as ``make_slides`` does)
    numbers the exercises within the chapter, as the learner notebooks and the book do."""
    preprocessor = MystMarkdownPreprocessor(bibliography_path=str(ROOT / "book" / "references.bib"))
    slides, _ = preprocessor.preprocess(nbformat.read(chapter, as_version=4), {"metadata": {"name": chapter.stem}})
    on_slides = re.findall(r"^### (Exercise \d+\.\d+)", "\n".join(cell.source for cell in slides.cells
                                                               if cell.cell_type == "markdown"), re.M)
    assert on_slides == numbers_in_learner(learner.learner_path(chapter, False, ROOT))["exercise"]


def glued_keys(chapter: Path) -> list[str]:
    return [key for cell in nbformat.read(chapter, as_version=4).cells if cell.cell_type == "markdown"
            for key in re.findall(r"\{glue:text\}`([^`:]+)`", cell.source)]


@pytest.mark.parametrize("chapter", CHAPTERS, ids=lambda path: path.stem)
def test_glued_numbers_appear_in_the_prose(chapter: Path) -> None:
    """Every ``{glue:text}`` value of the chapter is in the full learner edition's prose, unquoted."""
    values = glue_outputs(nbformat.read(chapter, as_version=4))
    prose = " ".join(rendered_markdown(learner.learner_path(chapter, False, ROOT)))
    for key in glued_keys(chapter):
        text = glue_text(values[key])
        assert text in prose, f"{chapter.name}: the value of {key!r} ({text}) is not in the learner notebook"


# Solutions ----------------------------------------------------------------------------------------------------

def solution_parts(chapter: Path) -> list[learner.Solution]:
    return [part for part in learner.chapter_parts(nbformat.read(chapter, as_version=4).cells)
            if isinstance(part, learner.Solution)]


def output_texts(cell: NotebookNode, rich: bool = True) -> list[str]:
    """A code cell's outputs as text: streams and plain text, and with ``rich`` also HTML and images."""
    kinds = ("text/", "image/") if rich else ("text/plain",)
    texts = []
    for output in cell.get("outputs", []):
        texts.append(str(output.get("text", "")))
        texts += [str(value) for mime, value in output.get("data", {}).items() if mime.startswith(kinds)]
    return texts


def squeezed(text: str) -> str:
    """``text`` without whitespace (HTML splits code into highlighted tokens and prose into lines)."""
    return re.sub(r"\s+", "", text)


def solution_snippets(chapter: Path, rich_outputs: bool = True) -> list[str]:
    """Pieces that only the solutions of a chapter contain: prose runs, code lines, output lines and (with
    ``rich_outputs``) HTML output lines and images. A piece found outside the solutions (whitespace ignored),
    such as a table header, is left out."""
    cells = nbformat.read(chapter, as_version=4).cells
    solution_cells = [cell for part in solution_parts(chapter) for cell in part.code]
    others = [part for part in learner.chapter_parts(cells) if not isinstance(part, learner.Solution)]
    elsewhere = squeezed("\n".join([part.source for part in others] + [
        text for part in others if part.cell_type == "code" for text in output_texts(part)]))
    pieces = [run.strip() for part in solution_parts(chapter) for text in part.prose for run in PLAIN_RUN.findall(text)]
    for cell in solution_cells:
        pieces += [line.strip() for line in cell.source.splitlines()
                   if not line.strip().startswith(("#", "import ", "from "))]
        pieces += [line.strip() for text in output_texts(cell, rich_outputs) for line in text.splitlines()]
    return [piece for piece in dict.fromkeys(pieces)
            if len(piece) >= SHORTEST_SNIPPET and squeezed(piece) not in elsewhere]


def notebook_text(path: Path) -> str:
    """Every source and output of a notebook, as one text (sources and outputs as stored, lines joined)."""
    notebook = nbformat.read(path, as_version=4)
    return "\n".join([cell.source for cell in notebook.cells]
                     + [text for cell in notebook.cells if cell.cell_type == "code" for text in output_texts(cell)])


@pytest.mark.parametrize("chapter", CHAPTERS, ids=lambda path: path.stem)
def test_student_edition_holds_no_solution(chapter: Path) -> None:
    snippets = solution_snippets(chapter)
    if not solution_parts(chapter):
        pytest.skip(f"{chapter.name} has no solutions")
    assert snippets, f"{chapter.name} has solutions but none of their text could be taken: the check is blind"
    full = notebook_text(learner.learner_path(chapter, False, ROOT))
    missing_from_full = [snippet for snippet in snippets if snippet not in full]
    assert not missing_from_full, f"solution pieces missing from the full learner edition: {missing_from_full}"
    student = notebook_text(learner.learner_path(chapter, True, ROOT))
    leaked = [snippet for snippet in snippets if snippet in student]
    assert not leaked, f"solution pieces in the student learner edition of {chapter.name}: {leaked}"


@pytest.mark.parametrize("chapter", CHAPTERS, ids=lambda path: path.stem)
def test_full_edition_folds_each_solution(chapter: Path) -> None:
    notebook = nbformat.read(learner.learner_path(chapter, False, ROOT), as_version=4)
    folded = [cell for cell in notebook.cells if cell.cell_type == "markdown"
              and re.match(r"<details>\n<summary><strong>Solution to Exercise \d+\.\d+</strong></summary>",
                           cell.source)]
    assert len(folded) == len(solution_parts(chapter))
    for cell in notebook.cells:
        if cell.cell_type == "code" and SOLUTION_TAG in cell.metadata.get("tags", []):
            assert re.match(r"# Solution to Exercise \d+\.\d+\n", cell.source), cell.source[:80]
            assert cell.metadata["jupyter"] == {"source_hidden": True, "outputs_hidden": True}


def assigned_names(source: str) -> set[str]:
    tree = ast.parse(re.sub(r"^(\s*)[%!].*$", r"\1pass", source, flags=re.M))
    names = {node.id for node in ast.walk(tree) if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store)}
    names |= {node.name for node in ast.walk(tree) if isinstance(node, (ast.FunctionDef, ast.ClassDef))}
    names |= {alias.asname or alias.name.split(".")[0] for node in ast.walk(tree)
              if isinstance(node, (ast.Import, ast.ImportFrom)) for alias in node.names}
    return names


def loaded_names(source: str) -> set[str]:
    tree = ast.parse(re.sub(r"^(\s*)[%!].*$", r"\1pass", source, flags=re.M))
    return {node.id for node in ast.walk(tree) if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Load)}


@pytest.mark.parametrize("chapter", CHAPTERS, ids=lambda path: path.stem)
def test_student_edition_needs_no_name_from_a_solution(chapter: Path) -> None:
    """Without the solutions' code the student notebook still runs: no later cell reads a name that only a
    solution defines."""
    notebook = nbformat.read(learner.learner_path(chapter, True, ROOT), as_version=4)
    defined_outside = set().union(*[assigned_names(cell.source) for cell in notebook.cells if cell.cell_type == "code"])
    only_in_solutions = set().union(set(), *[assigned_names(cell.source) for part in solution_parts(chapter)
                                             for cell in part.code]) - defined_outside
    used = set().union(set(), *[loaded_names(cell.source) for cell in notebook.cells if cell.cell_type == "code"])
    needed = used & only_in_solutions
    assert not needed, f"the student edition uses names defined only in solutions: {needed}"


# The book's numbers ------------------------------------------------------------------------------------------

def numbers_in_book(html_file: Path) -> dict[str, list[str]]:
    """The exercise, figure and equation numbers that a chapter's page shows, in order."""
    soup = BeautifulSoup(html_file.read_text(encoding="utf-8"), "html.parser")
    captions = [span.get_text().strip() for span in soup.select("span.caption-number")]
    return {"exercise": [text for text in captions if text.startswith("Exercise")],
            "figure": [text for text in captions if text.startswith(("Figure", "Fig."))],
            "equation": [span.find(string=True).strip() for span in soup.select("span.eqno")]}


def numbers_in_learner(path: Path) -> dict[str, list[str]]:
    text = "\n".join(cell.source for cell in nbformat.read(path, as_version=4).cells if cell.cell_type == "markdown")
    return {"exercise": re.findall(r"^### (Exercise \d+\.\d+)", text, re.M),
            "figure": re.findall(r"^\*(Figure \d+\.\d+):", text, re.M),
            "equation": [f"({number})" for number in re.findall(r"\\tag\{([\d.]+)\}", text)]}


@pytest.mark.parametrize("chapter", CHAPTERS, ids=lambda path: path.stem)
def test_learner_numbers_are_the_books(book_html: Path, chapter: str) -> None:
    """Exercises, figures and equations carry the numbers the book gives them (Exercise 2.1, Figure 2.1)."""
    page = book_html / chapter.relative_to(ROOT).with_suffix(".html")
    assert numbers_in_learner(learner.learner_path(chapter, False, ROOT)) == numbers_in_book(page)


GLUE_TEXT_ROLE = re.compile(r"\{glue:text\}`(?P<key>[^`:]+)(?::(?P<format>[^`]*))?`")
SMART_QUOTES = str.maketrans({"\u2018": "'", "\u2019": "'", "\u201c": '"', "\u201d": '"'})


def glued_lines(chapter: Path) -> list[str]:
    """The chapter's source lines that paste glued values and hold no other role, with the values pasted as
    the learner notebooks paste them and the Markdown markup and math left out. Cells the book removes
    (``remove-cell``: the slides' own cells) are left out."""
    values = glue_outputs(nbformat.read(chapter, as_version=4))
    lines = []
    shown = [cell for cell in nbformat.read(chapter, as_version=4).cells
             if cell.cell_type == "markdown" and "remove-cell" not in cell.metadata.get("tags", [])]
    for cell in shown:
        for line in cell.source.split("\n"):
            if GLUE_TEXT_ROLE.search(line) and not re.search(r"\{(?!glue:text\})[\w:.+-]+\}`", line):
                pasted = GLUE_TEXT_ROLE.sub(lambda m: glue_text(values[m["key"]], m["format"] or ""), line)
                lines += re.split(r"\s{2,}", re.sub(r"\$[^$]*\$|[*_`]|^\s*[-#>]+\s", "", pasted))
    return [line for line in lines if line.strip()]


@pytest.mark.parametrize("chapter", CHAPTERS, ids=lambda path: path.stem)
def test_glued_numbers_read_as_the_book_shows_them(book_html: Path, chapter: Path) -> None:
    """Every line of prose that pastes a glued value reads in the book's page as the learner notebooks paste
    it (markup, math and typographic quotes aside): the values are the text myst-nb put on the page."""
    soup = BeautifulSoup((book_html / chapter.relative_to(ROOT).with_suffix(".html")).read_text(encoding="utf-8"),
                         "html.parser")
    article = soup.find("article") or soup
    for math in article.select(".math"):
        math.decompose()
    page = squeezed(article.get_text("").translate(SMART_QUOTES))
    lines = glued_lines(chapter)
    assert lines, f"{chapter.name} pastes no glued value: nothing to compare"
    differing = [line for line in lines if squeezed(line) not in page]
    assert not differing, f"lines the book shows otherwise than the learner notebook: {differing}"


@cache
def page_ids(html_file: Path) -> set[str]:
    soup = BeautifulSoup(html_file.read_text(encoding="utf-8"), "html.parser")
    return {element["id"] for element in soup.select("[id]")}


@pytest.mark.parametrize("path", learner_files(), ids=lambda path: str(path.relative_to(ROOT / "learner")))
def test_links_into_the_book_reach_a_page_and_anchor(book_html: Path, path: Path) -> None:
    """Every link of a learner notebook into the published book (cross-references, citations, the chapter's
    page) names a page of the built book and, when it has one, an anchor on that page."""
    book_url = learner.book_url(ROOT)
    text = "\n".join(cell.source for cell in nbformat.read(path, as_version=4).cells if cell.cell_type == "markdown")
    links = re.findall(rf"\]\({re.escape(book_url)}([^)\s#]+)(?:#([^)\s]+))?\)", text)
    assert links, f"{path.name} links nowhere into the book"
    broken = [(page, anchor) for page, anchor in links
              if not (book_html / page).exists() or (anchor and anchor not in page_ids(book_html / page))]
    assert not broken, f"links from {path.relative_to(ROOT)} to no page or anchor of the book: {broken}"
