"""The student edition (``make book-student``) keeps the exercises and shows no solution.

Solution text is taken from the chapters' sources: the lines of solution code cells and the prose between
``{solution-start}`` and ``{solution-end}``. Each piece must appear in the full book (so that the check can
fail) and must not appear in the student edition.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

import nbformat
import pytest
import yaml
from ._book import ROOT, notebooks_executed, notebooks_read_from_cache
from ._fresh_runs import NOTEBOOKS
from ._pipeline import BookBuild
from bs4 import BeautifulSoup

sys.path.insert(0, str(ROOT / "scripts"))
from myst_markdown import strip_solutions

PLAIN_RUN = re.compile(r"[A-Za-z][A-Za-z ,;]{30,}[A-Za-z]")


def toc_chapters() -> list[str]:
    toc = yaml.safe_load((ROOT / "_toc.yml").read_text(encoding="utf-8"))
    files = [chapter["file"] for part in toc.get("parts", []) for chapter in part.get("chapters", [])]
    return [name for name in files if (ROOT / f"{name}.ipynb").exists()]


def solution_snippets(notebook_path: Path) -> list[str]:
    """Pieces of text that only the solutions of a chapter contain."""
    cells = nbformat.read(notebook_path, as_version=4).cells
    stripped = strip_solutions(cells, keep_code=True)
    kept_lines = {line.strip() for cell in stripped if cell.cell_type == "markdown" for line in cell.source.split("\n")}
    def removed_code(cell_list: list) -> set[str]:
        return {cell.source for cell in cell_list
                if cell.cell_type == "code" and "remove-cell" in cell.metadata.get("tags", [])}

    hidden_code = removed_code(stripped) - removed_code(cells)
    snippets = [line.strip() for source in hidden_code for line in source.splitlines()
                if len(line.strip()) > 25 and not line.strip().startswith(("#", "import ", "from ", "glue("))]
    for cell in cells:
        if cell.cell_type == "markdown":
            removed = [line for line in cell.source.split("\n") if line.strip() not in kept_lines]
            snippets += [run.strip() for line in removed for run in PLAIN_RUN.findall(line)]
    return snippets


def page_text(html_file: Path) -> str:
    soup = BeautifulSoup(html_file.read_text(encoding="utf-8"), "html.parser")
    article = soup.find("article") or soup
    return re.sub(r"\s+", " ", article.get_text(" "))


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

    snippets = solution_snippets(ROOT / f"{chapter}.ipynb")
    if not snippets:
        pytest.skip(f"{chapter} has no solutions")
    full_text, student_text = page_text(book_html / f"{chapter}.html"), page_text(student_html / f"{chapter}.html")
    missing_from_full = [snippet for snippet in snippets if snippet not in full_text]
    assert len(missing_from_full) < len(snippets), "no solution text found in the full book: the check is blind"
    leaked = [snippet for snippet in snippets if snippet in student_text]
    assert not leaked, f"solution text in the student edition of {chapter}: {leaked}"
