"""Sphinx extension: list each script only once in the HTML pages.

Sphinx 7.4 registers an inline script added after the builder starts twice (once with filename ``None``, once
with ``''``), so sphinx-thebe's ``const THEBE_JS_URL`` is declared twice and the browser reports a
SyntaxError on every page. This keeps the first of any scripts that differ only in that way.
"""

from __future__ import annotations

from typing import Any

from sphinx.application import Sphinx


def drop_repeated_scripts(app: Sphinx, pagename: str, templatename: str, context: dict[str, Any],
                          doctree: object) -> None:
    """Remove later copies of a script (same file or body, priority and attributes) from the page."""
    seen: set[tuple] = set()
    unique = []
    for script in context.get("script_files", []):
        key = (script.filename or "", script.priority, tuple(sorted(script.attributes.items())))
        if key not in seen:
            seen.add(key)
            unique.append(script)
    context["script_files"] = unique


def setup(app: Sphinx) -> dict[str, Any]:
    app.connect("html-page-context", drop_repeated_scripts)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
