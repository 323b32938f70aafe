"""Build the Jupyter Book as `make book` does and check the pages readers see.

The build executes every notebook afresh (``execute_notebooks: force``) with warnings as errors, so a failing
cell or a broken reference fails this test.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from _book import build_book
from bs4 import BeautifulSoup


@pytest.fixture(scope="module")
def built_book() -> Path:
    return build_book()


def page_text(html_file: Path) -> str:
    soup = BeautifulSoup(html_file.read_text(encoding="utf-8"), "html.parser")
    return soup.get_text(" ")


def prose_text(html_file: Path) -> str:
    """Text of the page's paragraphs only (not code cells or their outputs)."""
    soup = BeautifulSoup(html_file.read_text(encoding="utf-8"), "html.parser")
    article = soup.find("article") or soup
    return " ".join(p.get_text(" ") for p in article.find_all("p"))


@pytest.mark.book
def test_book_has_home_page(built_book: Path) -> None:
    assert (built_book / "index.html").exists()
    assert "Francisco Cardozo" in page_text(built_book / "book" / "intro.html")


@pytest.mark.book
def test_part_one_page_glues_the_lecture_correlation(built_book: Path) -> None:
    page = built_book / "notebooks" / "01-independence.html"
    assert page.exists()
    assert "0.2385088" in prose_text(page)


@pytest.mark.book
def test_math_is_served_locally(built_book: Path) -> None:
    assert (built_book / "_static" / "mathjax" / "tex-chtml.js").exists()
    html = (built_book / "notebooks" / "01-independence.html").read_text(encoding="utf-8")
    assert "cdn.jsdelivr.net/npm/mathjax" not in html
