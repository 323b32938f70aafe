"""Results that print as R's text: the base of every printed summary and table.

A :class:`TextReport` holds computed tables; its ``format()`` lays them out as R prints
them. ``print()``, the REPL and notebooks (as preformatted HTML) all show that text.
"""

from __future__ import annotations

import html


class TextReport:
    """A result shown as the text of its ``format()``: printed, in the REPL and in
    notebooks (as preformatted HTML)."""

    def format(self) -> str:
        """The text of the report (subclasses define it)."""
        raise NotImplementedError

    def __str__(self) -> str:
        return self.format()

    def __repr__(self) -> str:
        return self.format()

    def _repr_html_(self) -> str:
        return "<pre>" + html.escape(self.format()) + "</pre>"
