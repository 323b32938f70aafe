"""Every page of the book reads well on a phone (390x844, as a phone) and on a desktop (1366x900 and 1280x800):
nothing cut off, every sideways-scrolling box shows that it scrolls, equation numbers clear of their equations,
figure text at least 9 px high, no page wider than the screen; every chapter photographed at desktop and phone
size into ``_build/screenshots/pages`` (issue 13.4).

The crawl behind ``test_browser`` measures each page with ``_layout.LAYOUT_JS``; these tests read its report.
The first test runs the same measurement on a small page built to break every rule, so that each check is
known to find what it looks for.
"""

from __future__ import annotations

import base64
import io
from collections.abc import Iterator

import pytest
from PIL import Image

from ._browser import PHONE, BrowserUnavailable, Crawl, chromium
from ._layout import LAYOUT_JS, PHONE_DEVICE, SCREENSHOTS, SIZES, WIDE_DESKTOP, layout_arguments

FINDINGS = ("cut", "silent_scroll", "number_overlaps", "small_figure_text")
#: The widest a desktop scrollbar is drawn (Chromium's classic one is 15 px).
SCROLLBAR_PX = 20

#: A page that breaks each rule once: a printout clipped by its box, one that scrolls with no cue, an equation
#: number drawn over its equation, a 1000 px figure squeezed to 200 px, and a line wider than the screen.
BROKEN_PAGE = """<!doctype html><html><head><meta name="viewport" content="width=device-width"></head><body>
<article>
  <h2>Clipped</h2>
  <div class="cell_output" style="overflow: hidden; width: 200px"><pre>{long}</pre></div>
  <h2>Silent</h2>
  <div class="cell_output"><pre style="overflow-x: auto; width: 200px">{long}</pre></div>
  <h2>Overlap</h2>
  <div class="math" style="position: relative"><span class="eqno" style="position: absolute; left: 0">(1.1)</span>
    <mjx-container display="true"><mjx-math><mjx-c style="display: inline-block; width: 40px">x</mjx-c>
    </mjx-math></mjx-container></div>
  <h2>Small</h2>
  <img alt="a figure" style="width: 200px" src="data:image/png;base64,{image}">
  <h2>Wide</h2>
  <p style="white-space: nowrap">{long}</p>
</article></body></html>
"""


@pytest.fixture(scope="module")
def browser() -> Iterator[object]:
    try:
        with chromium(show_scrollbars=True) as opened:
            yield opened
    except BrowserUnavailable as reason:
        pytest.skip(f"NO BROWSER CHECK: no Chromium could be had ({reason})")


def blank_png(width: int, height: int) -> str:
    """A blank PNG of ``width`` x ``height`` pixels, base64-encoded."""
    buffer = io.BytesIO()
    Image.new("RGB", (width, height), "white").save(buffer, format="PNG")
    return base64.b64encode(buffer.getvalue()).decode()


def test_the_measurement_finds_each_kind_of_problem(browser) -> None:
    page = browser.new_context(viewport=PHONE, **PHONE_DEVICE).new_page()
    page.set_content(BROKEN_PAGE.format(long="x" * 600, image=blank_png(1000, 600)))
    found = page.evaluate(LAYOUT_JS, layout_arguments())
    page.context.close()
    assert any("Clipped" in item for item in found["cut"]), found["cut"]
    assert any("Silent" in item for item in found["silent_scroll"]), found["silent_scroll"]
    assert found["number_overlaps"] == ['equation (1.1) under "Overlap"']
    assert len(found["small_figure_text"]) == 1 and "200px wide" in found["small_figure_text"][0]
    assert found["page_width"] > found["viewport"]


def layout_problems(crawl: Crawl, size: str, finding: str) -> dict[str, list[str]]:
    return {url: report.layout[size][finding] for url, report in crawl.pages.items()
            if report.layout[size][finding]}


def test_every_page_was_measured_at_every_size(crawl: Crawl) -> None:
    assert crawl.pages
    unmeasured = [url for url, report in crawl.pages.items() if set(report.layout) != set(SIZES)]
    assert not unmeasured


@pytest.mark.parametrize("finding", FINDINGS)
@pytest.mark.parametrize("size", SIZES)
def test_no_page_has_layout_problems(crawl: Crawl, size: str, finding: str) -> None:
    problems = layout_problems(crawl, size, finding)
    assert not problems, f"{finding} at {size} width:\n" + "\n".join(
        f"{url}: {item}" for url, items in problems.items() for item in items)


@pytest.mark.parametrize("size", SIZES)
def test_no_page_is_wider_than_the_screen(crawl: Crawl, size: str) -> None:
    wide = {url: f"{report.layout[size]['page_width']} px on a {report.layout[size]['viewport']} px screen"
            for url, report in crawl.pages.items()
            if report.layout[size]["page_width"] > report.layout[size]["viewport"] + 1}
    assert not wide, f"pages that scroll sideways at {size} width: {wide}"


def test_every_chapter_is_photographed_at_desktop_and_phone_size(crawl: Crawl, book_url: str) -> None:
    chapters = sorted(url.removeprefix(f"{book_url}notebooks/").removesuffix(".html") for url in crawl.pages
                      if url.startswith(f"{book_url}notebooks/"))
    assert len(chapters) >= 7
    for chapter in chapters:
        for size in ("desktop", "phone"):
            photo = SCREENSHOTS / f"{chapter}-{size}.png"
            assert photo.is_file() and photo.stat().st_size > 50_000, f"{photo} is missing or blank"
            with Image.open(photo) as image:
                width = image.width
            screen = PHONE["width"] if size == "phone" else WIDE_DESKTOP["width"]
            # as wide as the screen, less the desktop's vertical scrollbar (a phone draws it over the page)
            assert screen - SCROLLBAR_PX <= width <= screen, f"{photo.name} is {width} px wide"
