"""Load every page of the built book in headless Chromium, as a reader would, with the network cut off.

The session's book (see ``_pipeline``) is served on 127.0.0.1 and crawled in Debian's Chromium driven by
Playwright (see ``_browser``); any request to another host is blocked and reported: the book must work
offline. The checks: no console errors, no failed requests, images load and carry alt text, every equation is
typeset by MathJax, every same-host link resolves (anchors included), headings nest, the search page finds
results, and axe-core finds no contrast or image-alt violations in the text of the pages. Screenshots of the
home page and a chapter at desktop and phone widths go to ``_build/screenshots/``.
"""

from __future__ import annotations

from collections.abc import Iterator
from urllib.parse import urldefrag

import pytest
import yaml
from ._book import ROOT
from ._browser import DESKTOP, PAGE_TIMEOUT_MS, PHONE, BrowserUnavailable, Crawl, chromium, open_page, page_url

SCREENSHOTS = ROOT / "_build" / "screenshots"


@pytest.fixture(scope="module")
def browser() -> Iterator[object]:
    try:
        with chromium() as opened:
            yield opened
    except BrowserUnavailable as reason:
        pytest.skip(f"NO BROWSER CHECK: no Chromium could be had ({reason})")


def describe(problems: dict[str, list]) -> str:
    return "\n".join(f"{url}: {items}" for url, items in problems.items() if items)


def test_every_chapter_in_the_toc_is_crawled(crawl: Crawl, book_url: str) -> None:
    toc = yaml.safe_load((ROOT / "_toc.yml").read_text(encoding="utf-8"))
    files = [toc["root"]]
    for part in toc.get("parts", []):
        files += [chapter["file"] for chapter in part.get("chapters", [])]
    missing = [name for name in files if f"{book_url}{name}.html" not in crawl.pages]
    assert not missing, f"toc pages not served or not reached: {missing}"


def test_no_console_errors(crawl: Crawl) -> None:
    problems = {url: report.console_errors for url, report in crawl.pages.items()}
    assert not any(problems.values()), "console errors:\n" + describe(problems)


def test_book_works_offline(crawl: Crawl) -> None:
    problems = {url: sorted(set(report.external_requests)) for url, report in crawl.pages.items()}
    assert not any(problems.values()), "pages request other hosts (blocked):\n" + describe(problems)


def test_no_failed_requests(crawl: Crawl) -> None:
    problems = {url: report.failed_requests for url, report in crawl.pages.items()}
    assert not any(problems.values()), "failed requests:\n" + describe(problems)


def test_images_load_and_have_alt_text(crawl: Crawl) -> None:
    broken = {url: [image["src"] for image in report.inspection["images"] if image["width"] == 0]
              for url, report in crawl.pages.items()}
    no_alt = {url: [image["src"][:120] for image in report.inspection["images"] if not (image["alt"] or "").strip()]
              for url, report in crawl.pages.items()}
    assert not any(broken.values()), "images that did not load:\n" + describe(broken)
    assert not any(no_alt.values()), "images without alt text:\n" + describe(no_alt)


def test_chapters_show_their_figures(crawl: Crawl, book_url: str) -> None:
    chapters = [url for url in crawl.pages if url.startswith(book_url + "notebooks/")]
    assert chapters, "no chapter page was crawled"
    assert all(crawl.pages[url].inspection["images"] for url in chapters), "a chapter page shows no figure"


def test_math_is_typeset(crawl: Crawl) -> None:
    with_math = {url: report.inspection for url, report in crawl.pages.items() if report.inspection["mathCount"]}
    assert with_math, "no page has math, so the MathJax check checks nothing"
    untypeset = {url: page["untypesetMath"] for url, page in with_math.items()}
    assert not any(untypeset.values()), "math left untypeset:\n" + describe(untypeset)
    assert all(page["mjxCount"] >= page["mathCount"] for page in with_math.values())
    raw = {url: [marker for marker in ("$$", "\\[", "\\(", "\\begin{") if marker in report.inspection["prose"]]
           for url, report in crawl.pages.items()}
    assert not any(raw.values()), "raw TeX left in the text:\n" + describe(raw)


def test_internal_links_resolve(crawl: Crawl, book_url: str) -> None:
    statuses = dict.fromkeys(crawl.pages, 200) | crawl.other_statuses
    not_found = sorted(url for url, status in statuses.items() if status >= 400)
    assert not not_found, f"same-host links that fail: {not_found}"
    assert all(report.inspection["ids"] for report in crawl.pages.values())
    missing_anchors = {}
    for url, report in crawl.pages.items():
        for link in report.inspection["links"]:
            target, fragment = urldefrag(link)
            target = page_url(target)
            if fragment and target in crawl.pages and fragment not in crawl.pages[target].inspection["ids"]:
                missing_anchors.setdefault(url, []).append(link)
    assert not missing_anchors, "links to anchors that do not exist:\n" + describe(missing_anchors)


def test_headings_nest(crawl: Crawl) -> None:
    jumps = {}
    for url, report in crawl.pages.items():
        levels = [level for level, _ in report.inspection["headings"]]
        for (previous, _), (level, text) in zip(report.inspection["headings"], report.inspection["headings"][1:]):
            if level > previous + 1:
                jumps.setdefault(url, []).append(f"h{previous} -> h{level} at {text!r}")
        if levels and levels[0] != 1 and not url.endswith(("search.html", "genindex.html")):
            jumps.setdefault(url, []).append(f"the page starts at h{levels[0]}")
    assert not jumps, "headings skip levels:\n" + describe(jumps)


def test_search_finds_clusters(browser, book_url: str) -> None:
    page = open_page(browser, book_url + "search.html?q=cluster", DESKTOP)
    page.wait_for_selector("#search-results ul.search li", timeout=PAGE_TIMEOUT_MS)
    results = page.eval_on_selector_all("#search-results ul.search li a", "links => links.map(a => a.href)")
    page.context.close()
    assert any("/notebooks/" in link for link in results), f"search for 'cluster' found no chapter: {results}"


def test_screenshots_at_desktop_and_phone_width(browser, book_url: str, crawl: Crawl) -> None:
    chapter = sorted(url for url in crawl.pages if url.startswith(book_url + "notebooks/"))[0]
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    overflowing = []
    for name, url in (("intro", book_url + "book/intro.html"), ("chapter", chapter)):
        for width_name, viewport in (("desktop", DESKTOP), ("phone", PHONE)):
            page = open_page(browser, url, viewport)
            path = SCREENSHOTS / f"{name}-{width_name}.png"
            page.screenshot(path=str(path))
            if page.evaluate("() => document.documentElement.scrollWidth > window.innerWidth + 1"):
                overflowing.append(f"{name} at {width_name} width")
            page.context.close()
            assert path.stat().st_size > 10_000, f"{path.name} looks empty"
    assert not overflowing, f"pages scroll sideways: {overflowing}"


def test_axe_finds_no_contrast_or_alt_problems(crawl: Crawl) -> None:
    if not crawl.axe_checked:
        pytest.skip("NO AXE CHECK: axe-core could not be installed from the npm registry (is npm on PATH?)")
    assert crawl.pages, "no page was crawled, so axe-core checked nothing"
    violations = {url: report.axe_violations for url, report in crawl.pages.items() if report.axe_violations}
    assert not violations, "axe-core violations:\n" + describe(violations)
