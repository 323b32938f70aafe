"""Sphinx extension: the book's search lists the chapters first and shows equations as text in its snippets.

Sphinx ranks a match in the name of a documented object (the API reference) above a match in a page's text, so
a search for "Satterthwaite" or "sandwich" used to list a dozen API entries before the chapters that teach the
idea. ``search_order.js``, next to this file, is given to Sphinx as its search scorer (``html_search_scorer``,
embedded in ``_static/language_data.js``): it raises the score of chapter pages above any API entry and of the
other pages of the book above the API reference, and turns the TeX source of equations in the result snippets
(``\\(\\sigma^2_u\\)``) into plain text (``σ²_u``).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from sphinx.application import Sphinx
from sphinx.config import Config

SCORER = Path(__file__).resolve().with_name("search_order.js")


def use_scorer(app: Sphinx, config: Config) -> None:
    """Give Sphinx the scorer by absolute path (Sphinx opens it from the working folder), unless the book's
    configuration names another."""
    if not config.html_search_scorer:
        config.html_search_scorer = str(SCORER)


def setup(app: Sphinx) -> dict[str, Any]:
    app.connect("config-inited", use_scorer)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
