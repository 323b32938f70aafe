"""What a page's layout does to a reader at phone and desktop width (issue 13.4), measured in Chromium.

``LAYOUT_JS`` runs in a loaded page of the book, once its images and equations are in, and lists

- ``cut``: text outputs, tables, display equations and figures whose content a reader cannot reach: clipped
  by a box that hides its overflow, or running past the screen's edge;
- ``silent_scroll``: boxes that scroll sideways with no cue that they do: no scrollbar taking room (phones draw
  overlay scrollbars only while one scrolls, so a cut-off printout looks complete) and no shadow at the edge
  where content hides (``book/_static/course.css`` draws one with backgrounds that scroll with the content);
- ``number_overlaps``: equation numbers drawn over their equation;
- ``small_figure_text``: figures shown so small that their smallest regular text (the tick labels) falls under
  ``min_text_px`` screen pixels;
- ``page_width``: how wide the page is, against ``viewport`` (wider means the whole page scrolls sideways).

The phone is opened as a phone (``is_mobile``, touch), so that Chromium draws scrollbars as a phone does.
The crawl behind ``test_browser`` records this for every page at every size in ``SIZES`` and photographs every
chapter at desktop and phone size; ``test_page_layout`` checks both.
"""

from __future__ import annotations

from mlmtools.plotting.course_style import COURSE_RCPARAMS, FIGURE_DPI

from ._book import ROOT

#: How the phone is emulated besides its viewport: a touch screen with a phone's overlay scrollbars.
PHONE_DEVICE = {"is_mobile": True, "has_touch": True}
#: The sizes each page is measured at: the issue's desktop (1366x900), the crawl's own desktop (1280x800, a
#: narrower column) and a phone (390x844).
WIDE_DESKTOP = {"width": 1366, "height": 900}
SIZES = ("desktop", "laptop", "phone")
#: Where the crawl stores a full-page screenshot of every chapter at desktop and phone size.
SCREENSHOTS = ROOT / "_build" / "screenshots" / "pages"
#: The smallest text a figure should show on screen, in CSS pixels.
MIN_TEXT_PX = 9
#: The course's smallest regular figure text, in image pixels (points at the figures' resolution).
SMALLEST_FIGURE_TEXT_PX = min(COURSE_RCPARAMS["xtick.labelsize"], COURSE_RCPARAMS["ytick.labelsize"]) \
    * FIGURE_DPI / 72

LAYOUT_JS = """
async ({smallestTextPx, minTextPx}) => {
  for (const img of document.images) { img.loading = 'eager'; }
  await Promise.all([...document.images].map(img => img.decode().catch(() => null)));
  if (window.MathJax && MathJax.startup && MathJax.startup.promise) { await MathJax.startup.promise; }
  await new Promise(done => requestAnimationFrame(() => requestAnimationFrame(done)));
  const article = document.querySelector('article') || document.body;
  const screenWidth = document.documentElement.clientWidth;
  const scrolls = overflow => overflow === 'auto' || overflow === 'scroll';
  const shown = el => el.getClientRects().length > 0 && getComputedStyle(el).visibility !== 'hidden'
                      && !el.closest('.slider-figure');
  const section = el => {
    for (let node = el; node && node !== article; node = node.parentElement) {
      for (let before = node.previousElementSibling; before; before = before.previousElementSibling) {
        if (/^H[1-6]$/.test(before.tagName)) { return before.textContent.replace('#', '').trim().slice(0, 50); }
      }
    }
    return '';
  };
  const describe = el => {
    const text = (el.textContent || el.getAttribute('alt') || '').replace(/\\s+/g, ' ').trim().slice(0, 50);
    return `${el.tagName.toLowerCase()} under "${section(el)}" (${text})`;
  };
  // Where el's content ends on the right, and the first box (el or an ancestor) that cuts it off, if any.
  const cutOff = el => {
    let right = el.getBoundingClientRect().left + el.scrollWidth;
    if (getComputedStyle(el).overflowX === 'visible' && el.scrollWidth > el.clientWidth + 1) {
      return `its content (${el.scrollWidth}px) spills out of its ${el.clientWidth}px box`;
    }
    for (let box = el; box && box !== document.documentElement; box = box.parentElement) {
      const overflow = getComputedStyle(box).overflowX;
      if (overflow === 'visible') { continue; }
      const rect = box.getBoundingClientRect();
      if (scrolls(overflow)) { right = Math.min(right, rect.right); continue; }
      const visibleRight = rect.left + box.clientLeft + box.clientWidth;
      if (right > visibleRight + 1) {
        return `${box.tagName.toLowerCase()}.${[...box.classList].join('.')} (overflow-x ${overflow}) hides ` +
               `${Math.round(right - visibleRight)}px of it`;
      }
    }
    return right > screenWidth + 1 ? `it runs ${Math.round(right - screenWidth)}px past the screen` : null;
  };
  const blocks = new Set([
    ...article.querySelectorAll('.cell_output pre, .output pre, table, div.math, mjx-container[display="true"]'),
  ]);
  const cut = [];
  const silentScroll = [];
  for (const el of blocks) {
    if (!shown(el)) { continue; }
    const problem = cutOff(el);
    if (problem) { cut.push(`${describe(el)}: ${problem}`); }
  }
  for (const el of article.querySelectorAll('*')) {
    const style = getComputedStyle(el);
    if (!shown(el) || !scrolls(style.overflowX) || el.scrollWidth <= el.clientWidth + 1) { continue; }
    const scrollbar = el.offsetHeight - el.clientHeight - parseFloat(style.borderTopWidth)
                      - parseFloat(style.borderBottomWidth);
    const shadows = style.backgroundAttachment.includes('local') && style.backgroundImage.includes('gradient');
    if (scrollbar < 2 && !shadows) {
      const hidden = el.scrollWidth - el.clientWidth;
      silentScroll.push(`${describe(el)}: scrolls ${hidden}px sideways with neither a scrollbar nor a shadow`);
    }
  }
  const numberOverlaps = [];
  for (const number of article.querySelectorAll('div.math .eqno')) {
    const box = number.getBoundingClientRect();
    // Glyphs scrolled out of a scrolling equation's box are hidden: only their visible part counts.
    const visiblePart = glyph => {
      const rect = glyph.getBoundingClientRect();
      const scroller = glyph.closest('mjx-container');
      if (!scroller || !scrolls(getComputedStyle(scroller).overflowX)) { return rect; }
      const frame = scroller.getBoundingClientRect();
      const left = Math.max(rect.left, frame.left);
      const right = Math.min(rect.right, frame.right);
      return {left, right, top: rect.top, bottom: rect.bottom, width: Math.max(0, right - left)};
    };
    const glyphs = [...number.closest('div.math').querySelectorAll('mjx-math mjx-c')]
      .map(visiblePart).filter(rect => rect.width > 0);
    if (glyphs.some(rect => rect.left < box.right - 0.5 && rect.right > box.left + 0.5 &&
                            rect.top < box.bottom - 0.5 && rect.bottom > box.top + 0.5)) {
      numberOverlaps.push(`equation ${number.textContent.trim()} under "${section(number)}"`);
    }
  }
  const smallFigureText = [];
  for (const img of article.querySelectorAll('img')) {
    if (!shown(img) || !img.naturalWidth || /\\.svg(\\?|$)/.test(img.currentSrc || img.src)) { continue; }
    const width = img.getBoundingClientRect().width;
    const textPx = width / img.naturalWidth * smallestTextPx;
    if (textPx < minTextPx) {
      smallFigureText.push(`${describe(img)}: ${img.naturalWidth}px image drawn ${Math.round(width)}px wide, ` +
                           `its tick labels ${textPx.toFixed(1)}px high`);
    } else {
      const problem = cutOff(img);
      if (problem) { cut.push(`${describe(img)}: ${problem}`); }
    }
  }
  return {cut, silent_scroll: silentScroll, number_overlaps: numberOverlaps, small_figure_text: smallFigureText,
          page_width: document.documentElement.scrollWidth, viewport: screenWidth};
}
"""


def layout_arguments() -> dict[str, float]:
    """The arguments ``LAYOUT_JS`` takes."""
    return {"smallestTextPx": SMALLEST_FIGURE_TEXT_PX, "minTextPx": MIN_TEXT_PX}
