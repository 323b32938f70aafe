"""Sphinx extension: a chapter's launch and download buttons give its learner notebook, not its MyST source.

The chapters in ``notebooks/`` are written for Jupyter Book; plain Jupyter (Binder, Colab, a download opened
in JupyterLab) shows their MyST syntax as raw text. ``scripts/learner_notebooks.py`` writes each chapter as a
plain notebook to ``learner/`` (solutions folded) and ``learner/student/`` (no solutions). This extension

- points the Binder, JupyterHub, Colab and Deepnote buttons of sphinx-book-theme at the learner notebook in
  the repository, and
- puts the learner notebook where the download button fetches the page's source (``_sources/``),

taking the student edition when ``learner_edition`` is ``"student"`` (``scripts/student_book.py`` sets it). A
chapter without a learner notebook fails the build, so a button never opens a file the repository lacks.
"""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

from sphinx.application import Sphinx
from sphinx.errors import ExtensionError

LEARNER_FOLDER = "learner"
EDITION_FOLDERS = {"full": "", "student": "student"}
#: After sphinx-book-theme has made its buttons (its handlers run at priority 501).
AFTER_THE_THEME = 900


def learner_notebook(app: Sphinx, pagename: str) -> Path | None:
    """The learner notebook of a page (relative to the book's folder), or None when the page is no notebook."""
    source = Path(app.env.doc2path(pagename))
    if source.suffix != ".ipynb":
        return None
    edition = app.config.learner_edition
    if edition not in EDITION_FOLDERS:
        raise ExtensionError(f"learner_edition must be one of {sorted(EDITION_FOLDERS)}, not {edition!r}")
    relative = Path(LEARNER_FOLDER, EDITION_FOLDERS[edition], source.name)
    if not (Path(app.srcdir) / relative).exists():
        raise ExtensionError(f"{pagename} has no learner notebook {relative}: run `make learner`")
    return relative


def repository_path(app: Sphinx, relative: Path) -> str:
    """A path in the book's folder as a path in the repository (``path_to_docs`` in front)."""
    folder = app.config.html_theme_options.get("path_to_docs", "").strip("/")
    return "/".join(filter(None, [folder, relative.as_posix()]))


def point_launch_buttons(app: Sphinx, pagename: str, templatename: str, context: dict[str, Any],
                         doctree: object) -> None:
    """Rewrite the launch buttons' links from the page's source notebook to its learner notebook."""
    learner = learner_notebook(app, pagename)
    if learner is None:
        return
    source = repository_path(app, Path(app.env.doc2path(pagename, base=False)))
    target = repository_path(app, learner)
    for group in context.get("header_buttons", []):
        if group.get("label") != "launch-buttons":
            continue
        for button in group.get("buttons", []):
            if "url" in button:
                if source not in button["url"]:
                    raise ExtensionError(f"the {button.get('text')} button of {pagename} does not name {source}")
                button["url"] = button["url"].replace(source, target)


def serve_learner_downloads(app: Sphinx, exception: Exception | None) -> None:
    """Replace each notebook's copy in ``_sources`` (what the download button fetches) by its learner notebook."""
    if exception is not None or app.builder.format != "html" or not app.config.html_copy_source:
        return
    for pagename in app.env.found_docs:
        learner = learner_notebook(app, pagename)
        download = Path(app.outdir) / "_sources" / (str(app.env.doc2path(pagename, base=False))
                                                    + app.config.html_sourcelink_suffix)
        if learner is not None and download.exists():
            shutil.copyfile(Path(app.srcdir) / learner, download)


def setup(app: Sphinx) -> dict[str, Any]:
    app.add_config_value("learner_edition", "full", "html", types=[str])
    app.connect("html-page-context", point_launch_buttons, priority=AFTER_THE_THEME)
    app.connect("build-finished", serve_learner_downloads)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
