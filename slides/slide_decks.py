"""Sphinx extension: the chapters' slide decks and their PDFs inside the HTML book, in ``slides/``.

When the HTML book has been built, ``scripts/make_slides.py`` makes every chapter's deck (from the notebooks the
build read, as stored) into ``<html>/slides/<chapter>.slides.html`` and, when Chromium is installed, its PDF into
``<html>/slides/pdf/<chapter>.pdf``. The extension also sets the Sphinx tag ``slide_decks``, so that pages
link the decks inside an ``{only} slide_decks`` block: without the extension the links are left out rather
than broken. Register it in ``_config.yml``::

    sphinx:
      local_extensions:
        slide_decks: slides
"""

from __future__ import annotations

import sys
from pathlib import Path

from sphinx.application import Sphinx
from sphinx.config import Config

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "scripts"))

import make_slides  # noqa: E402

TAG = "slide_decks"
FOLDER = "slides"


def set_tag(app: Sphinx, config: Config) -> None:
    app.tags.add(TAG)


def build_decks(app: Sphinx, exception: Exception | None) -> None:
    """Make the decks (and, with Chromium, the PDFs) into the built HTML book's ``slides`` folder."""
    if exception is not None or app.builder.format != "html":
        return
    output = Path(app.outdir) / FOLDER
    # The notebooks the build read: the student edition's copy has its solutions removed.
    decks = make_slides.make_decks(sorted((Path(app.srcdir) / "notebooks").glob("*.ipynb")), output)
    if Path(make_slides.CHROMIUM).exists():
        make_slides.make_pdfs(decks, output)


def setup(app: Sphinx) -> dict[str, object]:
    app.connect("config-inited", set_tag)
    app.connect("build-finished", build_decks)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
