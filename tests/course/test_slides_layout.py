"""Nothing off the screen: every slide of every deck, opened at 1280x720 in Chromium, fits its slide.

Each deck (made by ``test_slides.built_decks``, as ``make slides`` makes it) is served on 127.0.0.1 and opened
with every other host blocked; each of its slides is shown in turn and measured: an element reaching outside
the slide, a box that scrolls or clips its content (a table or a printout wider than its box), a ``pre`` whose
lines wrap (an R-style ``Call:`` line broken in two), a figure drawn out of its proportions (unless its
``object-fit`` draws it whole and in proportion inside its box). Every slide is
photographed and the photos tiled into a contact sheet, ``_build/slides/contact-sheets/<chapter>.png``, with
the measurements in ``<chapter>.json`` beside it (slides, slides with notes, overflows). Every deck is measured
and photographed; the overflow check fails only decks cut by slide cells (a chapter without them yet gets the
book's pages cut into slides, which are known not to fit; the test says so when it skips). The PDFs of the
decks (``make slides``'s ``--print-to-pdf``) are checked last: one page a slide.
"""

from __future__ import annotations

import io
import json
import re
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from pathlib import Path

import nbformat
import pytest
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook, new_output
from PIL import Image, ImageDraw

from . import test_browser
from ._book import ROOT
from ._browser import PageReport, open_page, serve
from .test_slides import SLIDES, built_decks, chapters, deck_soup, leaf_sections, make_slides, requires_slide_cells

SLIDE_SIZE = {"width": make_slides.SLIDE_WIDTH, "height": make_slides.SLIDE_HEIGHT}
CONTACT_SHEETS = SLIDES / "contact-sheets"
THUMBNAIL = (320, 180)
SHEET_COLUMNS = 5
pytestmark = pytest.mark.browser
#: The headless Chromium of the book's browser tests (a module-scoped fixture, skipping without Chromium).
browser = test_browser.browser

# Waits until reveal.js is ready, MathJax has typeset and the images are decoded; returns every slide's indices.
DECK_READY_JS = """
async () => {
  await new Promise(resolve => {
    const check = () => (window.Reveal && Reveal.isReady() && window.MathJax && MathJax.Hub) ? resolve()
                                                                                             : setTimeout(check, 50);
    check();
  });
  await new Promise(resolve => MathJax.Hub.Register.StartupHook('End', resolve));
  await new Promise(resolve => MathJax.Hub.Queue(resolve));
  await Promise.all([...document.images].map(img => img.decode().catch(() => null)));
  return Reveal.getSlides().map(slide => { const at = Reveal.getIndices(slide); return [at.h, at.v || 0]; });
}
"""

# Shows one slide (after MathJax has re-rendered it) and measures what does not fit; see the module docstring.
MEASURE_SLIDE_JS = """
async ([h, v]) => {
  Reveal.slide(h, v);
  await new Promise(resolve => MathJax.Hub.Queue(resolve));
  await new Promise(resolve => requestAnimationFrame(() => requestAnimationFrame(resolve)));
  const slide = Reveal.getCurrentSlide();
  const frame = Reveal.getSlidesElement().getBoundingClientRect();
  const scale = Reveal.getScale();
  const tolerance = 1;
  const problems = [];
  const outside = new Set();
  const label = el => {
    const name = el.tagName.toLowerCase() + (typeof el.className === 'string' && el.className.trim()
                                             ? '.' + el.className.trim().split(/\\s+/)[0] : '');
    return `${name} "${(el.textContent || el.getAttribute('alt') || '').trim().replace(/\\s+/g, ' ').slice(0, 60)}"`;
  };
  if (slide.scrollHeight > slide.clientHeight + tolerance) {
    problems.push(`content ${slide.scrollHeight}px high on a ${slide.clientHeight}px slide`);
  }
  for (const el of slide.querySelectorAll('*')) {
    if (el.closest('aside.notes, .MJX_Assistive_MathML')) { continue; }  // notes; MathJax's copy for screen readers
    const style = getComputedStyle(el);
    const box = el.getBoundingClientRect();
    if (style.display === 'none' || style.visibility === 'hidden' || box.width === 0 || box.height === 0) { continue; }
    if (el.parentElement && outside.has(el.parentElement)) { outside.add(el); continue; }
    if (box.bottom > frame.bottom + tolerance || box.right > frame.right + tolerance
        || box.top < frame.top - tolerance || box.left < frame.left - tolerance) {
      outside.add(el);
      problems.push(`${label(el)} reaches outside the slide`);
      continue;
    }
    if (style.overflowX !== 'visible' && el.clientWidth > 0 && el.scrollWidth > el.clientWidth + tolerance) {
      problems.push(`${label(el)} clips or scrolls its content: ${el.scrollWidth}px wide in ${el.clientWidth}px`);
    }
    if (style.overflowY !== 'visible' && el.clientHeight > 0 && el.scrollHeight > el.clientHeight + tolerance) {
      problems.push(`${label(el)} clips or scrolls its content: ${el.scrollHeight}px high in ${el.clientHeight}px`);
    }
    if (el.tagName === 'PRE') {
      const wrapped = box.height;
      el.style.setProperty('white-space', 'pre', 'important');
      const unwrapped = el.getBoundingClientRect().height;
      el.style.removeProperty('white-space');
      if (unwrapped < wrapped - tolerance) {
        problems.push(`${label(el)} wraps its lines: ${Math.round(wrapped / scale)}px high, `
                      + `${Math.round(unwrapped / scale)}px unwrapped`);
      }
    }
    if (el.tagName === 'IMG' && el.naturalWidth > 0 && !['contain', 'scale-down'].includes(style.objectFit)) {
      const drawn = box.width / box.height, natural = el.naturalWidth / el.naturalHeight;
      if (Math.abs(drawn / natural - 1) > 0.02) { problems.push(`${label(el)} is drawn out of proportion`); }
    }
  }
  const notes = slide.querySelector('aside.notes');
  const heading = slide.querySelector('h1, h2, h3');
  const title = heading ? heading.cloneNode(true) : document.createElement('h2');
  title.querySelectorAll('script, .MathJax_Preview, .MJX_Assistive_MathML, a.anchor-link').forEach(el => el.remove());
  return {index: `${h + 1}.${v + 1}`, title: title.textContent.trim(),
          notes: Boolean(notes && notes.textContent.trim()), problems};
}
"""


@dataclass
class SlideLayout:
    index: str
    title: str
    notes: bool
    problems: list[str]


@dataclass
class DeckLayout:
    chapter: str
    slides: list[SlideLayout]
    external_requests: list[str]
    failed_requests: list[str]
    console_errors: list[str]

    @property
    def overflows(self) -> list[SlideLayout]:
        return [slide for slide in self.slides if slide.problems]

    def summary(self, sheets: Path) -> dict:
        return {"chapter": self.chapter, "slides": len(self.slides),
                "slides_with_notes": sum(slide.notes for slide in self.slides), "overflows": len(self.overflows),
                "contact_sheet": str(sheets / f"{self.chapter}.png"),
                "slide_details": [asdict(slide) for slide in self.slides]}


def contact_sheet(photos: list[bytes], layouts: list[SlideLayout]) -> Image.Image:
    """The slides' photos as thumbnails in rows, each with its number; a slide that overflows framed in red."""
    width, height = THUMBNAIL
    caption = 18
    rows = -(-len(photos) // SHEET_COLUMNS)
    sheet = Image.new("RGB", (SHEET_COLUMNS * (width + 8) + 8, rows * (height + caption + 8) + 8), "#d0d5dc")
    draw = ImageDraw.Draw(sheet)
    for number, (photo, layout) in enumerate(zip(photos, layouts)):
        left = 8 + (number % SHEET_COLUMNS) * (width + 8)
        top = 8 + (number // SHEET_COLUMNS) * (height + caption + 8)
        thumbnail = Image.open(io.BytesIO(photo)).convert("RGB").resize(THUMBNAIL, Image.LANCZOS)
        sheet.paste(thumbnail, (left, top + caption))
        colour = "#c62828" if layout.problems else "#222832"
        draw.text((left + 2, top + 3), f"{number + 1} ({layout.index}) {layout.title}"[:48], fill=colour)
        if layout.problems:
            draw.rectangle((left - 3, top + caption - 3, left + width + 2, top + caption + height + 2),
                           outline=colour, width=3)
    return sheet


@pytest.fixture(scope="module")
def slides_url() -> Iterator[str]:
    built_decks()
    url, stop = serve(SLIDES)
    yield url
    stop()


def lay_out(browser, url: str, chapter: str, sheets: Path = CONTACT_SHEETS) -> DeckLayout:
    """Open the deck at ``url``, measure and photograph each slide, write its contact sheet and measurements
    into ``sheets``."""
    report = PageReport(url)
    page = open_page(browser, url, SLIDE_SIZE, report)
    layouts, photos = [], []
    for indices in page.evaluate(DECK_READY_JS):
        measured = page.evaluate(MEASURE_SLIDE_JS, indices)
        layouts.append(SlideLayout(measured["index"], measured["title"], measured["notes"], measured["problems"]))
        photos.append(page.screenshot())
    page.context.close()
    deck = DeckLayout(chapter, layouts, report.external_requests, report.failed_requests, report.console_errors)
    sheets.mkdir(parents=True, exist_ok=True)
    contact_sheet(photos, layouts).save(sheets / f"{chapter}.png")
    (sheets / f"{chapter}.json").write_text(json.dumps(deck.summary(sheets), indent=1), encoding="utf-8")
    return deck


@pytest.fixture(scope="module")
def deck_layouts(browser, slides_url: str) -> dict[str, DeckLayout]:
    return {chapter: lay_out(browser, f"{slides_url}{deck.name}", chapter) for chapter, deck in built_decks().items()}


def check_deck_cells() -> list:
    """Slides made to overflow: a printout too long, lines that wrap (the deck's style lets them), a table too
    wide; then one that fits."""
    def slide(title: str, outputs: list, style: str = "") -> list:
        return [new_markdown_cell(f"{style}## {title}", metadata={"tags": ["slide-only"]}),
                new_code_cell("", metadata={"tags": ["slide-output"]}, outputs=outputs),
                new_markdown_cell(f"Notes on {title}.")]

    def printed(text: str) -> list:
        return [new_output("stream", name="stdout", text=text)]

    wide_table = "<table>" + "<tr>" + "".join(f"<td>column_{number}</td>" for number in range(40)) + "</tr></table>"
    wrapping = "<style>html .reveal pre { white-space: pre-wrap !important; }</style>\n\n"
    return [*slide("Too long", printed("\n".join(f"line {number}" for number in range(80)))),
            *slide("Wrapped", printed("Call: " + "x" * 400), wrapping),
            *slide("Too wide", [new_output("display_data", data={"text/html": wide_table, "text/plain": "table"})]),
            *slide("Fits", printed("a short printout"))]


def test_the_measurement_sees_what_does_not_fit(browser, slides_url: str, tmp_path: Path) -> None:
    source = tmp_path / "layout-check.ipynb"
    nbformat.write(new_notebook(cells=check_deck_cells()), source)
    deck = make_slides.make_deck(source, SLIDES, make_slides.LOCAL_ASSETS)
    try:
        layout = lay_out(browser, slides_url + deck.name, "layout-check", tmp_path)
    finally:
        deck.unlink()
    problems = {slide.title: " ".join(slide.problems) for slide in layout.slides}
    assert "high on a 720px slide" in problems["Too long"]
    assert "wraps its lines" in problems["Wrapped"]
    assert "reaches outside the slide" in problems["Too wide"] or "clips or scrolls" in problems["Too wide"]
    assert problems["Fits"] == ""


@pytest.mark.parametrize("chapter", [path.stem for path in chapters()])
def test_every_slide_fits_a_1280x720_screen(deck_layouts: dict[str, DeckLayout], chapter: str) -> None:
    deck = deck_layouts[chapter]
    requires_slide_cells(ROOT / "notebooks" / f"{chapter}.ipynb")
    slides_in_file = leaf_sections(deck_soup(built_decks()[chapter]))
    assert len(deck.slides) == len(slides_in_file), "the browser saw another number of slides than the file has"
    assert (CONTACT_SHEETS / f"{chapter}.png").exists()
    details = "\n".join(f"slide {slide.index} {slide.title!r}: {slide.problems[:4]}" for slide in deck.overflows)
    assert not deck.overflows, f"{chapter}: {len(deck.overflows)} of {len(deck.slides)} slides overflow:\n{details}"


@pytest.mark.parametrize("chapter", [path.stem for path in chapters()])
def test_decks_open_offline_without_errors(deck_layouts: dict[str, DeckLayout], chapter: str) -> None:
    deck = deck_layouts[chapter]
    assert not deck.external_requests, f"{chapter} asked other hosts: {deck.external_requests}"
    assert not deck.failed_requests, f"{chapter}: requests that failed: {deck.failed_requests}"
    assert not deck.console_errors, f"{chapter}: console errors: {deck.console_errors}"


def pdf_pages(pdf: Path) -> int:
    return len(re.findall(rb"/Type\s*/Page\b", pdf.read_bytes()))


def test_each_deck_prints_to_a_pdf_with_one_page_a_slide(deck_layouts: dict[str, DeckLayout]) -> None:
    pdfs = make_slides.make_pdfs(list(built_decks().values()), SLIDES)
    pages = {pdf.stem: pdf_pages(pdf) for pdf in pdfs}
    slides = {chapter: len(deck.slides) for chapter, deck in deck_layouts.items()}
    assert pages == slides
