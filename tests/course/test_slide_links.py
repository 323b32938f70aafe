"""The book links each chapter's slide deck and its PDF (issue 14.3), and the links lead to files the build made.

``slides/slide_decks.py`` (a Sphinx extension registered in ``_config.yml``) makes the decks into the built
book's ``slides/`` folder, puts a line under each chapter's title that links its deck and PDF, and shows the
instructors page's table of decks. The first tests check the extension's pieces without a build; the others
read the full and the student book as the session's builds made them.
"""

from __future__ import annotations

import sys
from pathlib import Path
from types import SimpleNamespace
from urllib.parse import urlparse

import pytest
from bs4 import BeautifulSoup
from docutils import nodes

from ._book import ROOT

sys.path.insert(0, str(ROOT / "slides"))
import slide_decks

CHAPTERS = sorted(path.stem for path in (ROOT / "notebooks").glob("*.ipynb"))


def hrefs(line) -> list[str]:
    """The addresses a rendered line links to."""
    return [link["href"] for link in line.find_all("a")]


def targets(line: nodes.paragraph) -> list[str]:
    """The addresses a line made by the extension links to, before rendering."""
    return [reference["refuri"] for reference in line.findall(nodes.reference)]


def test_the_line_links_the_deck_and_the_pdf_relative_to_the_chapter_page() -> None:
    line = slide_decks.chapter_deck_line("notebooks/04-time", with_pdf=True)
    assert targets(line) == ["../slides/04-time.slides.html", "../slides/pdf/04-time.pdf"]
    assert "speaker notes" in line.astext()


def test_without_chromium_the_line_links_the_deck_only() -> None:
    line = slide_decks.chapter_deck_line("notebooks/04-time", with_pdf=False)
    assert targets(line) == ["../slides/04-time.slides.html"]


def test_without_npm_the_book_has_neither_decks_nor_links(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(slide_decks.shutil, "which", lambda name: None)
    app = SimpleNamespace(outdir=str(tmp_path), srcdir=str(ROOT), builder=SimpleNamespace(format="html"),
                          tags=set())
    slide_decks.set_tag(app, None)
    assert app.tags == set()
    slide_decks.build_decks(app, None)
    assert not (tmp_path / "slides").exists()


def chapter_page(html: Path, chapter: str) -> BeautifulSoup:
    return BeautifulSoup((html / "notebooks" / f"{chapter}.html").read_text(encoding="utf-8"), "html.parser")


def resolved(page: Path, href: str) -> Path:
    return (page.parent / urlparse(href).path).resolve()


@pytest.mark.parametrize("edition", ["book_html", "student_html"])
@pytest.mark.parametrize("chapter", CHAPTERS)
def test_each_chapter_links_its_deck_and_pdf_under_its_title(chapter: str, edition: str,
                                                             request: pytest.FixtureRequest) -> None:
    html: Path = request.getfixturevalue(edition)
    soup = chapter_page(html, chapter)
    lines = soup.select(f"article p.{slide_decks.LINK_CLASS}")
    assert len(lines) == 1, f"{chapter}: {len(lines)} lines linking the deck"
    assert lines[0].find_previous(["h1", "h2"]).name == "h1", "the line sits under the chapter's title"
    links = hrefs(lines[0])
    assert [Path(link).name for link in links] == [f"{chapter}.slides.html", f"{chapter}.pdf"]
    for link in links:
        target = resolved(html / "notebooks" / f"{chapter}.html", link)
        assert target.is_file() and target.stat().st_size > 10_000, f"{chapter}: {link} leads nowhere"


@pytest.mark.parametrize("edition", ["book_html", "student_html"])
def test_the_instructors_page_shows_its_table_of_decks_and_every_link_resolves(edition: str,
                                                                             request: pytest.FixtureRequest) -> None:
    html: Path = request.getfixturevalue(edition)
    page = html / "book" / "instructors.html"
    links = [a["href"] for a in BeautifulSoup(page.read_text(encoding="utf-8"), "html.parser").select("article a")
             if "slides/" in a["href"]]
    expected = {f"{chapter}.slides.html" for chapter in CHAPTERS} | {f"{chapter}.pdf" for chapter in CHAPTERS}
    assert {Path(link).name for link in links} == expected
    missing = [link for link in links if not resolved(page, link).is_file()]
    assert not missing, f"links to files the build did not make: {missing}"

