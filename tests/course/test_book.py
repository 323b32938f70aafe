"""Build the Jupyter Book as `make book` does and check the pages readers see.

The build (see ``_pipeline``) runs ``make book``'s command, with warnings as errors, on the outputs of the
session's fresh runs of the notebooks (``execute_notebooks: cache``): a broken reference fails this test, and
so does a failing cell (its notebook is not in the cache, so the build executes it and stops on the error).
"""

from __future__ import annotations

from pathlib import Path

from ._book import notebooks_executed, notebooks_read_from_cache
from ._fresh_runs import NOTEBOOKS
from ._pipeline import BookBuild
from bs4 import BeautifulSoup


def page_text(html_file: Path) -> str:
    soup = BeautifulSoup(html_file.read_text(encoding="utf-8"), "html.parser")
    return soup.get_text(" ")


def prose_text(html_file: Path) -> str:
    """Text of the page's paragraphs only (not code cells or their outputs)."""
    soup = BeautifulSoup(html_file.read_text(encoding="utf-8"), "html.parser")
    article = soup.find("article") or soup
    return " ".join(p.get_text(" ") for p in article.find_all("p"))


def test_book_has_home_page(book_html: Path) -> None:
    assert (book_html / "index.html").exists()
    assert "Francisco Cardozo" in page_text(book_html / "book" / "intro.html")


def test_part_one_page_glues_the_lecture_correlation(book_html: Path) -> None:
    page = book_html / "notebooks" / "01-independence.html"
    assert page.exists()
    assert "0.2385088" in prose_text(page)


def test_math_is_served_locally(book_html: Path) -> None:
    assert (book_html / "_static" / "mathjax" / "tex-chtml.js").exists()
    html = (book_html / "notebooks" / "01-independence.html").read_text(encoding="utf-8")
    assert "cdn.jsdelivr.net/npm/mathjax" not in html


def test_the_build_takes_every_chapter_from_the_fresh_runs(book_build: BookBuild) -> None:
    """The notebooks run once per session: the build executes none of them."""
    assert notebooks_read_from_cache(book_build.log) == {path.name for path in NOTEBOOKS}
    assert not notebooks_executed(book_build.log)
