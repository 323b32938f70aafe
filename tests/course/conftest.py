"""The course tests: the notebooks, the book, its student edition, the slides, the book in a browser.

Markers (select groups with ``-m``; ``-k "not book"`` would also drop every test under ``notebooks/``, since
``-k`` matches parts of names):

- ``course``: every test here and nbval's cells of ``notebooks/``;
- ``notebooks``: tests that execute the chapters (nbval's cells, the fresh runs);
- ``book``: tests that need a built book (the HTML book, its student edition, the slides made from it);
- ``browser``: tests that load the book in Chromium.

They are given from the fixtures each test uses, so they cannot drift from it. The course tests run after all
others, and the browser tests last: what they need from the session's pipeline (the notebooks' fresh runs, the
books, the crawl; see ``_pipeline``) starts in the background when collection ends, and overlaps the package
tests, nbval and the course tests that need less.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from ._book import ROOT
from ._browser import BrowserUnavailable, Crawl
from ._fresh_runs import FreshRun
from ._pipeline import PIPELINE, BookBuild

COURSE_TESTS = Path(__file__).resolve().parent
NOTEBOOKS = ROOT / "notebooks"
#: The fixtures that wait for a pipeline step, and the step each starts.
PIPELINE_STEPS = {
    "fresh_runs": PIPELINE.start_runs,
    "book_build": PIPELINE.start_book,
    "student_build": PIPELINE.start_student_book,
    "book_url": PIPELINE.start_serving,
    "crawl": PIPELINE.start_crawl,
}
#: The markers a test gets when it uses one of these fixtures (directly or through another fixture).
FIXTURE_MARKERS = {
    "fresh_runs": ("notebooks",),
    "book_build": ("book",),
    "student_build": ("book",),
    "book_url": ("book",),
    "crawl": ("book", "browser"),
    "browser": ("browser",),
}


def is_within(path: Path, folder: Path) -> bool:
    return Path(path).resolve().is_relative_to(folder)


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    for item in items:
        in_course = is_within(item.path, COURSE_TESTS)
        if not (in_course or is_within(item.path, NOTEBOOKS)):
            continue
        item.add_marker("course")
        if not in_course:
            item.add_marker("notebooks")
        for name in set(getattr(item, "fixturenames", ())) & FIXTURE_MARKERS.keys():
            for marker in FIXTURE_MARKERS[name]:
                item.add_marker(marker)
    items.sort(key=lambda item: (is_within(item.path, COURSE_TESTS), item.get_closest_marker("browser") is not None))


def pytest_collection_finish(session: pytest.Session) -> None:
    if session.config.option.collectonly:
        return
    needed = {name for item in session.items for name in getattr(item, "fixturenames", ())}
    for name in sorted(needed & PIPELINE_STEPS.keys()):
        PIPELINE_STEPS[name]()


def pytest_sessionfinish(session: pytest.Session) -> None:
    PIPELINE.stop()


@pytest.fixture(scope="session")
def fresh_runs() -> dict[str, FreshRun]:
    """Each notebook's fresh run, by notebook stem (see ``_fresh_runs``)."""
    return PIPELINE.runs()


@pytest.fixture(scope="session")
def book_build() -> BookBuild:
    """The book, built from the fresh runs' outputs with ``make book``'s command."""
    return PIPELINE.book()


@pytest.fixture(scope="session")
def student_build() -> BookBuild:
    """The student edition (``make book-student``), built from the fresh runs' outputs."""
    return PIPELINE.student_book()


@pytest.fixture(scope="session")
def book_html(book_build: BookBuild) -> Path:
    return book_build.html


@pytest.fixture(scope="session")
def student_html(student_build: BookBuild) -> Path:
    return student_build.html


@pytest.fixture(scope="session")
def book_url() -> str:
    """The URL of the HTML book, served on 127.0.0.1."""
    return PIPELINE.book_url()


@pytest.fixture(scope="session")
def crawl() -> Crawl:
    """Every page of the book opened in Chromium (see ``_browser``)."""
    try:
        return PIPELINE.crawl()
    except BrowserUnavailable as reason:
        pytest.skip(f"NO BROWSER CHECK: no Chromium could be had ({reason})")
