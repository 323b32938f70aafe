"""The book's search finds the teaching first: chapters before the API reference, snippets without raw TeX.

Each query is typed into the served book's search page in Chromium, as a reader would; the test reads the
results in the order the page lists them and the snippet under each (``book/_ext/search_order.js``).
"""

from __future__ import annotations

import re
from urllib.parse import quote_plus

import pytest

from . import test_browser
from ._browser import DESKTOP, open_page

QUERIES = ("Satterthwaite", "design effect", "sandwich")
RAW_TEX = re.compile(r"\\[A-Za-z]+|\\[()[\]]")
SEARCH_DONE_MS = 120_000
#: The browser tests' fixture: one headless Chromium per module, or a skip that says why there is none.
browser = test_browser.browser
READ_RESULTS_JS = """
items => items.map(item => [item.querySelector('a').getAttribute('href'),
                            (item.querySelector('p.context') || {textContent: ''}).textContent])
"""


def search(browser, book_url: str, query: str) -> list[tuple[str, str]]:
    """``(page, snippet)`` of each result of a search, in the order the search page lists them."""
    page = open_page(browser, f"{book_url}search.html?q={quote_plus(query)}", DESKTOP)
    try:
        page.wait_for_function("() => (document.querySelector('#search-results p.search-summary') || {})"
                               ".textContent?.startsWith('Search finished')", timeout=SEARCH_DONE_MS)
        return [(href.split("#")[0], snippet) for href, snippet in
                page.eval_on_selector_all("#search-results ul.search li", READ_RESULTS_JS)]
    finally:
        page.context.close()


@pytest.mark.parametrize("query", QUERIES)
def test_search_lists_the_chapters_before_the_api_reference(browser, book_url: str, query: str) -> None:
    pages = [page for page, _ in search(browser, book_url, query)]
    chapters = [position for position, page in enumerate(pages) if page.startswith("notebooks/")]
    api = [position for position, page in enumerate(pages) if page.startswith("book/api")]
    assert chapters, f"no chapter found for {query!r}: {pages}"
    assert api, f"the API reference is not found for {query!r}, so the order cannot be checked: {pages}"
    assert max(chapters) < min(api), f"an API entry comes before a chapter for {query!r}: {pages}"


@pytest.mark.parametrize("query", QUERIES)
def test_search_snippets_show_no_raw_tex(browser, book_url: str, query: str) -> None:
    results = search(browser, book_url, query)
    assert any(snippet for _, snippet in results), f"no snippet shown for {query!r}"
    raw = {page: RAW_TEX.findall(snippet) for page, snippet in results if RAW_TEX.search(snippet)}
    assert not raw, f"snippets with TeX for {query!r}: {raw}"
