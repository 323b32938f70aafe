"""The student edition (``make book-student``) keeps the exercises and shows no solution, anywhere a reader looks.

Solution pieces are taken from the chapters' sources (see ``test_learner_notebooks.solution_snippets``): prose
runs between ``{solution-start}`` and ``{solution-end}``, lines of solution code, and lines of their outputs.
Each piece must be in the full book (so that the check can fail) and in none of the student edition's pages,
its ``_sources`` downloads, the notebooks its launch buttons open, or (word by word) its search index.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from functools import cache
from pathlib import Path
from urllib.parse import parse_qs, urlparse

import nbformat
import pytest
import yaml
from bs4 import BeautifulSoup
from nbformat import NotebookNode
from sphinx.search.en import SearchEnglish

from ._book import ROOT, notebooks_executed, notebooks_read_from_cache
from ._fresh_runs import NOTEBOOKS
from ._pipeline import BookBuild
from .test_learner_notebooks import notebook_text, solution_parts, solution_snippets, squeezed

sys.path.insert(0, str(ROOT / "scripts"))
import learner_notebooks as learner
import student_book
from myst_markdown import glue_outputs, glue_text


def toc_chapters() -> list[str]:
    toc = yaml.safe_load((ROOT / "_toc.yml").read_text(encoding="utf-8"))
    files = [chapter["file"] for part in toc.get("parts", []) for chapter in part.get("chapters", [])]
    return [name for name in files if (ROOT / f"{name}.ipynb").exists()]


def found(snippets: list[str], text: str) -> list[str]:
    """The snippets that ``text`` holds, whitespace ignored."""
    haystack = squeezed(text)
    return [snippet for snippet in snippets if squeezed(snippet) in haystack]


def page_text(html_file: Path) -> str:
    soup = BeautifulSoup(html_file.read_text(encoding="utf-8"), "html.parser")
    article = soup.find("article") or soup
    return article.get_text(" ")


def test_the_build_takes_every_chapter_from_the_fresh_runs(student_build: BookBuild) -> None:
    """The notebooks run once per session: the student edition's build executes none of them either."""
    assert notebooks_read_from_cache(student_build.log) == {path.name for path in NOTEBOOKS}
    assert not notebooks_executed(student_build.log)


def test_student_book_has_every_page(book_html: Path, student_html: Path) -> None:
    full_pages = {path.relative_to(book_html) for path in book_html.rglob("*.html")}
    student_pages = {path.relative_to(student_html) for path in student_html.rglob("*.html")}
    assert full_pages == student_pages


@pytest.mark.parametrize("chapter", toc_chapters())
def test_student_chapter_keeps_exercises_and_drops_solutions(book_html: Path, student_html: Path,
                                                              chapter: str) -> None:
    full_soup = BeautifulSoup((book_html / f"{chapter}.html").read_text(encoding="utf-8"), "html.parser")
    student_soup = BeautifulSoup((student_html / f"{chapter}.html").read_text(encoding="utf-8"), "html.parser")
    assert len(student_soup.select("div.exercise")) == len(full_soup.select("div.exercise"))
    assert not student_soup.select("div.solution"), "the student edition still has solution blocks"

    if not solution_parts(ROOT / f"{chapter}.ipynb"):
        pytest.skip(f"{chapter} has no solutions")
    snippets = solution_snippets(ROOT / f"{chapter}.ipynb", rich_outputs=False)
    in_full = found(snippets, page_text(book_html / f"{chapter}.html"))
    assert in_full == snippets, f"solution pieces missing from the full book: {set(snippets) - set(in_full)}"
    leaked = found(snippets, page_text(student_html / f"{chapter}.html"))
    assert not leaked, f"solution text, code or output in the student edition of {chapter}: {leaked}"


def download_text(path: Path) -> str:
    """A file of ``_sources`` as text: a notebook's sources and outputs, any other file as it is."""
    if path.suffix == ".ipynb":
        return notebook_text(path)
    return path.read_text(encoding="utf-8", errors="replace")


@pytest.mark.parametrize("chapter", toc_chapters())
def test_student_downloads_hold_no_solution(book_html: Path, student_html: Path, chapter: str) -> None:
    """No file that the student edition serves for download (``_sources``) holds a solution of the chapter (the
    other chapters' notebooks are checked for their own); the full book's download of the chapter holds all."""
    if not solution_parts(ROOT / f"{chapter}.ipynb"):
        pytest.skip(f"{chapter} has no solutions")
    snippets = solution_snippets(ROOT / f"{chapter}.ipynb")
    full_download = book_html / "_sources" / f"{chapter}.ipynb"
    assert not set(snippets) - set(found(snippets, download_text(full_download))), "the check is blind"
    other_chapters = {student_html / "_sources" / f"{other}.ipynb" for other in toc_chapters() if other != chapter}
    downloads = sorted(path for path in (student_html / "_sources").rglob("*") if path.is_file()
                       and path not in other_chapters)
    assert student_html / "_sources" / f"{chapter}.ipynb" in downloads
    leaked = {path.name: found(snippets, download_text(path)) for path in downloads}
    leaked = {name: pieces for name, pieces in leaked.items() if pieces}
    assert not leaked, f"solution pieces in the student downloads: {leaked}"


def launch_targets(html_file: Path) -> list[str]:
    """The repository paths that a page's Binder and Colab buttons open."""
    soup = BeautifulSoup(html_file.read_text(encoding="utf-8"), "html.parser")
    paths = []
    for link in (a["href"] for a in soup.select("a[href]")):
        if "mybinder.org" in link:
            paths.append(re.sub(r"^(tree|lab/tree|notebooks)/", "", parse_qs(urlparse(link).query)["urlpath"][0]))
        elif "colab.research.google.com/github/" in link:
            paths.append(link.split("/blob/", 1)[1].split("/", 1)[1])
    return paths


@pytest.mark.parametrize("chapter", toc_chapters())
def test_student_launch_buttons_open_notebooks_without_solutions(student_html: Path, chapter: str) -> None:
    targets = launch_targets(student_html / f"{chapter}.html")
    assert len(targets) == 2, f"expected a Binder and a Colab button on {chapter}, found {targets}"
    expected = learner.learner_path(ROOT / f"{chapter}.ipynb", student=True, root=ROOT).relative_to(ROOT).as_posix()
    assert set(targets) == {expected}
    leaked = found(solution_snippets(ROOT / f"{chapter}.ipynb"), notebook_text(ROOT / expected))
    assert not leaked, f"{expected}, opened by the student edition's launch buttons, holds solutions: {leaked}"


@cache
def search_index(html: Path) -> dict:
    text = (html / "searchindex.js").read_text(encoding="utf-8")
    return json.loads(text[text.index("(") + 1:text.rindex(")")])


def indexed_terms(html: Path, docname: str) -> set[str]:
    """The search index's terms (words of the text and of the titles) of one page."""
    index = search_index(html)
    number = index["docnames"].index(docname)
    return {term for key in ("terms", "titleterms") for term, pages in index[key].items()
            if pages == number or (isinstance(pages, list) and number in pages)}


def index_terms(text: str) -> set[str]:
    """The terms Sphinx's English search index makes of ``text`` (stemmed words, stop words left out)."""
    language = SearchEnglish({})
    terms = set()
    for word in language.split(text):
        stemmed = language.stem(word).lower()
        if not language.word_filter(stemmed) and language.word_filter(word):
            stemmed = word
        if language.word_filter(stemmed):
            terms.add(stemmed)
    return terms


def non_solution_text(chapter: Path) -> str:
    """Everything of a chapter outside its solutions: prose, glued values, code, outputs and the captions and
    alt texts that cells' ``mystnb`` metadata give their figures."""
    notebook = nbformat.read(chapter, as_version=4)
    parts = [part for part in learner.chapter_parts(notebook.cells) if isinstance(part, NotebookNode)]
    texts = [part.source for part in parts]
    texts += [str(part.get("metadata", {}).get("mystnb", {}).get(kind, {}).get(key, ""))
              for part in parts for kind, key in (("figure", "caption"), ("image", "alt"))]
    texts += [text for part in parts if part.cell_type == "code" for output in part.get("outputs", [])
              for text in [str(output.get("text", ""))] + [str(value) for value in output.get("data", {}).values()]]
    return "\n".join(texts + [glue_text(value) for value in glue_outputs(notebook).values()])


def solution_text(chapter: Path) -> str:
    parts = solution_parts(chapter)
    return "\n".join([text for part in parts for text in part.prose]
                     + [cell.source for part in parts for cell in part.code]
                     + [str(output.get("text", "")) + str(output.get("data", {}).get("text/plain", ""))
                        for part in parts for cell in part.code for output in cell.get("outputs", [])])


@pytest.mark.parametrize("chapter", toc_chapters())
def test_student_search_index_holds_no_solution_word(book_html: Path, student_html: Path, chapter: str) -> None:
    """Words that only the chapter's solutions use are indexed for the chapter in the full book, and not in
    the student edition."""
    source = ROOT / f"{chapter}.ipynb"
    only_in_solutions = index_terms(solution_text(source)) - index_terms(non_solution_text(source))
    if not only_in_solutions:
        pytest.skip(f"{chapter}'s solutions use no word of their own")
    assert only_in_solutions & indexed_terms(book_html, chapter), "no solution word in the full index: blind check"
    leaked = only_in_solutions & indexed_terms(student_html, chapter)
    assert not leaked, f"the student edition's search index holds solution words of {chapter}: {sorted(leaked)}"


def test_make_book_student_works_with_a_relative_output_folder(tmp_path: Path,
                                                               monkeypatch: pytest.MonkeyPatch) -> None:
    """``make book-student`` passes ``--output _build/student``; the build runs inside the source copy, so the
    paths it is given must not be relative to the folder make was started in."""
    commands = []

    def record(command: list[str], cwd: Path) -> subprocess.CompletedProcess:
        commands.append((command, Path(cwd)))
        return subprocess.CompletedProcess(command, 1)

    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(student_book.subprocess, "run", record)
    with pytest.raises(RuntimeError, match="failed to build"):
        student_book.build(ROOT, Path("student"))
    [(command, cwd)] = commands
    source = Path(command[2])
    assert source.is_absolute() and (source / "_config.yml").is_file()
    assert Path(command[command.index("--path-output") + 1]) == source == cwd == tmp_path / "student" / "source"
