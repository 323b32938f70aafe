"""Sphinx extension: the chapters' slide decks and their PDFs inside the HTML book, in ``slides/``.

When the HTML book has been built, ``scripts/make_slides.py`` makes every chapter's deck (from the notebooks the
build read, as stored) into ``<html>/slides/<chapter>.slides.html`` and, when Chromium is installed, its PDF into
``<html>/slides/pdf/<chapter>.pdf``. The extension also

- sets the Sphinx tag ``slide_decks``, so that pages link the decks inside an ``{only} slide_decks`` block
  (the instructors page does), and
- puts a line under each chapter's title that links the chapter's deck and, with Chromium, its PDF.

Both only when the decks can be made (npm is installed, or reveal.js already sits in the output folder):
otherwise the book is built without decks and without links to them, rather than with broken links. It is
registered in ``_config.yml``::

    sphinx:
      local_extensions:
        slide_decks: slides
"""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

from docutils import nodes
from sphinx.application import Sphinx
from sphinx.config import Config
from sphinx.util import logging

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "scripts"))

import make_slides  # noqa: E402

TAG = "slide_decks"
FOLDER = "slides"
CHAPTERS = "notebooks"
#: The class of the line under a chapter's title that links its deck (styled in ``book/_static/course.css``).
LINK_CLASS = "chapter-slides"

logger = logging.getLogger(__name__)


def decks_can_be_made(app: Sphinx) -> bool:
    """Whether reveal.js can be installed next to the decks (npm) or is there already."""
    installed = Path(app.outdir) / FOLDER / "node_modules" / "reveal.js"
    return shutil.which("npm") is not None or installed.is_dir()


def set_tag(app: Sphinx, config: Config) -> None:
    if decks_can_be_made(app):
        app.tags.add(TAG)
    else:
        logger.info("slide_decks: npm is not installed, so the book is built without the chapters' decks")


def chapter_deck_line(docname: str, with_pdf: bool) -> nodes.paragraph:
    """The line ``Slides of this chapter: the deck · the PDF`` for the page ``docname``, with links relative to it."""
    chapter = docname.rsplit("/", 1)[-1]
    up = "../" * docname.count("/")
    line = nodes.paragraph(classes=[LINK_CLASS])
    line += nodes.Text("Slides of this chapter: ")
    line += nodes.reference("", "the reveal.js deck", refuri=f"{up}{FOLDER}/{chapter}.slides.html")
    if with_pdf:
        line += nodes.Text(" · ")
        line += nodes.reference("", "the PDF", refuri=f"{up}{FOLDER}/pdf/{chapter}.pdf")
    line += nodes.Text(" (press s in the deck for the speaker notes).")
    return line


def link_chapter_deck(app: Sphinx, doctree: nodes.document, docname: str) -> None:
    """Put the line linking the chapter's deck right under the title of a chapter's page."""
    if TAG not in app.tags or not docname.startswith(f"{CHAPTERS}/"):
        return
    if Path(app.env.doc2path(docname)).suffix != ".ipynb":
        return
    section = next(iter(doctree.findall(nodes.section)), None)
    if section is None or not isinstance(section[0], nodes.title):
        return
    section.insert(1, chapter_deck_line(docname, with_pdf=Path(make_slides.CHROMIUM).exists()))


def build_decks(app: Sphinx, exception: Exception | None) -> None:
    """Make the decks (and, with Chromium, the PDFs) into the built HTML book's ``slides`` folder."""
    if exception is not None or app.builder.format != "html" or TAG not in app.tags:
        return
    output = Path(app.outdir) / FOLDER
    # The notebooks the build read: the student edition's copy has its solutions removed.
    decks = make_slides.make_decks(sorted((Path(app.srcdir) / CHAPTERS).glob("*.ipynb")), output)
    if Path(make_slides.CHROMIUM).exists():
        make_slides.make_pdfs(decks, output)


def setup(app: Sphinx) -> dict[str, object]:
    app.connect("config-inited", set_tag)
    app.connect("doctree-resolved", link_chapter_deck)
    app.connect("build-finished", build_decks)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
