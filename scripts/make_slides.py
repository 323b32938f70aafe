"""Make a reveal.js deck and a PDF of every chapter: ``python scripts/make_slides.py`` (``make slides``).

The decks are made from the notebooks as stored in ``notebooks/`` (with their outputs; nothing is executed).
What goes on a slide is decided by cell tags (see the instructors page, ``book/instructors.md``):

- a markdown cell tagged ``slide-only`` opens a slide (or a sub-slide, when its ``slideshow`` metadata says
  ``subslide``); the book and the learner notebooks leave it out;
- a code cell tagged ``slide-show`` puts its source and its output on the current slide, one tagged
  ``slide-output`` its output only;
- every other markdown cell (the book's prose) becomes the speaker notes of the slide it follows (reveal.js
  shows them in the speaker view, key ``s``); every other code cell is left off, ``bookkeeping`` cells too.

A notebook without ``slide-only`` cells is cut into slides by its cells' ``slideshow`` metadata as before, with
its ``remove-cell`` and ``bookkeeping`` cells left out. Either way, :class:`myst_markdown.MystMarkdownPreprocessor`
turns the MyST markdown into plain Markdown: glue roles become the values glued in the notebook's stored
outputs, citations author-year text, exercises "Exercise 5.1" as the book numbers them; solutions (text and
code) are removed, so no deck carries one.

The first slide's title becomes the deck's ``#`` title. Code and printouts get a smaller type on slides
where they are long or wide (``PRINTOUT_SIZES``), and figures take the height the slide leaves them.

The decks use a template of their own (``slides/templates/course-reveal``: nbconvert's reveal template with
slide numbers, 1280x720 slides, the notes plugin, the figures' alternative text, no MathJax in the notes)
and the course theme (``slides/course-slides.css``, the book's colours and fonts), copied next to them.
reveal.js, RequireJS, jQuery and MathJax 2 are installed from the npm registry into ``<output>/node_modules``
(less what the decks never load, ``UNUSED_ASSETS``); no deck loads anything from another host.

Each deck is then printed to ``<output>/pdf/<chapter>.pdf`` by headless Chromium (``--print-to-pdf`` on the
deck's ``?print-pdf`` view, reveal.js's print layout: one page per slide), unless ``--no-pdf`` is given.
"""

from __future__ import annotations

import argparse
import functools
import http.server
import re
import shutil
import subprocess
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import nbformat
from nbconvert import SlidesExporter
from nbconvert.preprocessors import Preprocessor
from nbformat import NotebookNode
from nbformat.v4 import new_markdown_cell
from traitlets.config import Config

sys.path.insert(0, str(Path(__file__).resolve().parent))

from myst_markdown import MystMarkdownPreprocessor, glue_outputs  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_OUTPUT = ROOT / "_build" / "slides"
BIBLIOGRAPHY = ROOT / "book" / "references.bib"
THEME_FOLDER = ROOT / "slides"
THEME_CSS = THEME_FOLDER / "course-slides.css"
TEMPLATE_NAME = "course-reveal"
SLIDE_WIDTH, SLIDE_HEIGHT = 1280, 720
CHROMIUM = "/usr/bin/chromium"
PDF_TIMEOUT_SECONDS = 300
#: Virtual time Chromium gives a deck to load and typeset its equations before printing it.
PDF_LOAD_BUDGET_MS = 30_000
# reveal.js 4.0.2 is the version nbconvert's reveal template is written for.
NPM_PACKAGES = {"reveal.js": "4.0.2", "requirejs": "2.3.8", "jquery": "3.7.1", "mathjax": "2.7.9"}
LOCAL_ASSETS = {
    "reveal_url_prefix": "node_modules/reveal.js",
    "require_js_url": "node_modules/requirejs/require.js",
    "jquery_url": "node_modules/jquery/dist/jquery.min.js",
    "mathjax_url": "node_modules/mathjax/MathJax.js?config=TeX-AMS_CHTML-full,Safe",
}
#: What the npm packages hold that the decks never load (MathJax's other outputs, fonts and configurations, its
#: unminified copy, reveal.js's demos), removed so that the book publishes about a fifth of it.
UNUSED_ASSETS = (
    "mathjax/unpacked", "mathjax/fonts/HTML-CSS/[!T]*", "mathjax/fonts/HTML-CSS/TeX/eot",
    "mathjax/fonts/HTML-CSS/TeX/svg", "mathjax/jax/output/[!CP]*", "mathjax/config/[!ST]*",
    "mathjax/config/TeX-[!A]*", "mathjax/config/TeX-AMS[-_][!C]*", "mathjax/config/TeX-AMS_CHTML.js",
    "reveal.js/demo.html", "reveal.js/index.html",
)

SLIDE_TAG = "slide-only"
SHOW_TAG = "slide-show"
OUTPUT_TAG = "slide-output"
BOOKKEEPING_TAG = "bookkeeping"
REMOVE_CELL_TAG = "remove-cell"
#: The printout type sizes of the theme (``slides/course-slides.css``), largest first: font size in pixels and
#: the most columns that fit across a slide in it.
PRINTOUT_SIZES = {"normal": (15, 128), "compact": (13, 150), "tiny": (11, 180)}
PRINTOUT_LINE_HEIGHT = 1.2
#: Room under a slide's title, and what a line of its text (a bullet, an equation, a table row) and each code
#: or output block take of it, in pixels (the theme's sizes, measured on the decks).
SLIDE_ROOM_PX, TEXT_LINE_PX, BLOCK_GAP_PX = 590, 46, 14
#: The cell metadata key where the deck's role of each cell is kept between the preprocessors.
ROLE_KEY = "course_slide_role"


class SlidesError(RuntimeError):
    """The decks cannot be made as asked (no npm for reveal.js, no Chromium for the PDFs); the message says why."""


def install_local_assets(output: Path) -> dict[str, str]:
    """Install reveal.js and its helpers into ``output/node_modules``; return the exporter settings for them.

    All packages are installed in one call (``npm install --no-save`` removes packages it was not given).
    Raises ``SlidesError`` when npm is missing or the install fails: the decks never fall back to a CDN.
    """
    modules = output / "node_modules"
    if any(not (modules / name).is_dir() for name in NPM_PACKAGES):
        if shutil.which("npm") is None:
            raise SlidesError("npm is needed to install reveal.js and MathJax next to the decks "
                              "(Debian: apt-get install npm)")
        output.mkdir(parents=True, exist_ok=True)
        result = subprocess.run(["npm", "install", "--prefix", str(output), "--no-audit", "--no-fund", "--no-save",
                                 *(f"{name}@{version}" for name, version in NPM_PACKAGES.items())],
                                capture_output=True, text=True, timeout=600)
        if result.returncode != 0:
            raise SlidesError(f"npm could not install reveal.js and MathJax:\n{result.stderr[-2000:]}")
    prune_assets(modules)
    missing = [url.split("?")[0] for name, url in LOCAL_ASSETS.items() if name != "reveal_url_prefix"
               and not (output / url.split("?")[0]).exists()]
    if missing:
        raise SlidesError(f"npm installed the packages but these files are missing: {', '.join(missing)}")
    return dict(LOCAL_ASSETS)


def prune_assets(modules: Path) -> None:
    """Remove the ``UNUSED_ASSETS`` from ``modules`` (a ``node_modules`` folder)."""
    for pattern in UNUSED_ASSETS:
        for path in modules.glob(pattern):
            if path.is_dir():
                shutil.rmtree(path)
            else:
                path.unlink()


# Which cells go on the slides ------------------------------------------------------------------------------

def tags(cell: NotebookNode) -> set[str]:
    return set(cell.get("metadata", {}).get("tags", []))


def has_slide_cells(notebook: NotebookNode) -> bool:
    """Whether the chapter marks its slides with ``slide-only`` cells (otherwise it falls back on the cells'
    own ``slideshow`` metadata)."""
    return any(cell.cell_type == "markdown" and SLIDE_TAG in tags(cell) for cell in notebook.cells)


def slide_role(cell: NotebookNode, tagged: bool) -> str:
    """The cell's part in the deck: ``slide`` (opens one), ``show`` (source and output on the slide),
    ``output`` (output only), ``notes`` (speaker notes), ``own`` (kept with its own ``slideshow`` metadata, in a
    chapter without slide cells) or ``drop``."""
    cell_tags = tags(cell)
    if BOOKKEEPING_TAG in cell_tags:
        return "drop"
    if not tagged:
        return "drop" if REMOVE_CELL_TAG in cell_tags else "own"
    if cell.cell_type == "markdown":
        return "slide" if SLIDE_TAG in cell_tags else "notes"
    if cell.cell_type == "code" and SHOW_TAG in cell_tags:
        return "show"
    if cell.cell_type == "code" and OUTPUT_TAG in cell_tags:
        return "output"
    return "drop"


def with_slide_roles(notebook: NotebookNode) -> NotebookNode:
    """A copy of ``notebook`` whose cells carry their role (``ROLE_KEY`` in their metadata)."""
    marked = nbformat.from_dict(notebook)
    tagged = has_slide_cells(marked)
    for cell in marked.cells:
        cell.metadata[ROLE_KEY] = slide_role(cell, tagged)
    return marked


def slideshow_type(cell: NotebookNode, default: str) -> str:
    return cell.metadata.get("slideshow", {}).get("slide_type", default)


def printed_texts(cell: NotebookNode) -> list[str]:
    """The monospaced text a cell puts on a slide: its source (unless hidden) and its text outputs."""
    if cell.cell_type != "code":
        return []
    texts = [] if cell.metadata.get("transient", {}).get("remove_source") else [cell.source]
    for output in cell.get("outputs", []):
        data = output.get("data", {})
        if output.get("output_type") == "stream":
            texts.append(output.get("text", ""))
        elif "text/plain" in data and not {"image/png", "image/svg+xml", "text/html"} & data.keys():
            texts.append(data["text/plain"])
    return texts


@dataclass
class Slide:
    """One slide while a deck is assembled: the cells shown on it and the markdown of its speaker notes."""

    cells: list[NotebookNode] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def printout_size(self) -> str:
        """``normal``, ``compact`` or ``tiny``: the largest printout type (``PRINTOUT_SIZES``) in which the
        slide's text, code and printouts fit its height and width (``tiny`` when none does, which the layout
        test then reports). Figures are left out: they take the height the rest leaves them."""
        opening = self.cells[0].source if self.cells and self.cells[0].cell_type == "markdown" else ""
        text_lines = sum(1 for line in opening.splitlines()[1:] if line.strip() and not line.startswith("|---"))
        blocks = [text for cell in self.cells for text in printed_texts(cell)]
        lines = [line for text in blocks for line in text.splitlines()]
        widest = max((len(line) for line in lines), default=0)
        taken = text_lines * TEXT_LINE_PX + len(blocks) * BLOCK_GAP_PX
        fitting = (size for size, (font, columns) in PRINTOUT_SIZES.items()
                   if widest <= columns and taken + len(lines) * font * PRINTOUT_LINE_HEIGHT <= SLIDE_ROOM_PX)
        return next(fitting, "tiny")

    def deck_cells(self) -> list[NotebookNode]:
        """The slide's cells, its notes last in one ``notes`` cell (reveal.js reads one notes block a slide)."""
        if self.cells and "slideshow" in self.cells[0].metadata:
            self.cells[0].metadata.slideshow.setdefault("data", {})["printout"] = self.printout_size()
        if not self.notes:
            return self.cells
        notes = new_markdown_cell("\n\n".join(self.notes), metadata={"slideshow": {"slide_type": "notes"}})
        return [*self.cells, notes]


def opening_cell(cell: NotebookNode, kind: str) -> NotebookNode:
    """The cell that opens a slide, its ``<section>`` marked ``data-kind="content"`` (or ``"references"``, the
    list of works cited that the MyST conversion adds) for the theme."""
    slide_type = slideshow_type(cell, "slide")
    cell.metadata["slideshow"] = {"slide_type": slide_type if slide_type in ("slide", "subslide") else "slide",
                                  "data": {"kind": kind}}
    return cell


def content_cell(cell: NotebookNode, role: str) -> NotebookNode:
    cell.metadata["slideshow"] = {"slide_type": "-"}
    if role == "output":
        cell.metadata["transient"] = {"remove_source": True}
    return cell


def tagged_deck_cells(cells: list[NotebookNode]) -> list[NotebookNode]:
    """The cells of a deck cut by ``slide-only`` cells: each slide's opening cell, its ``slide-show`` and
    ``slide-output`` cells, then its notes (the prose after it; prose before the first slide goes to the first).
    Cells without a role (added by the MyST conversion: the references) open a slide of their own. The first
    slide's ``##`` title becomes the deck's ``#`` title, so that the deck's headings nest."""
    slides: list[Slide] = []
    leading_notes: list[str] = []
    for cell in cells:
        role = cell.metadata.pop(ROLE_KEY, "added")
        if role in ("slide", "added"):
            slides.append(Slide([opening_cell(cell, "references" if role == "added" else "content")]))
        elif role in ("show", "output"):
            if not slides:
                slides.append(Slide())
            slides[-1].cells.append(content_cell(cell, role))
        elif role == "notes" and cell.source.strip():
            (slides[-1].notes if slides else leading_notes).append(cell.source)
    if slides:
        slides[0].notes[:0] = leading_notes
        title = slides[0].cells[0] if slides[0].cells else None
        if title is not None and title.cell_type == "markdown":
            title.source = re.sub(r"^## ", "# ", title.source, count=1)
    return [deck_cell for slide in slides for deck_cell in slide.deck_cells()]


def fallback_deck_cells(cells: list[NotebookNode]) -> list[NotebookNode]:
    """The cells of a deck from a chapter without slide cells: every cell not dropped, with its own metadata;
    ``remove-input`` and ``remove-output`` tags hide a cell's source or outputs."""
    kept = []
    for cell in cells:
        if cell.metadata.pop(ROLE_KEY, "own") == "drop":
            continue
        if "remove-input" in tags(cell):
            cell.metadata["transient"] = {"remove_source": True}
        if "remove-output" in tags(cell) and cell.cell_type == "code":
            cell.outputs = []
        kept.append(cell)
    return kept


class SlideLayoutPreprocessor(Preprocessor):
    """nbconvert preprocessor, run after :class:`MystMarkdownPreprocessor`: keeps the cells that go on the
    slides, in slides, with the prose as speaker notes (see the module docstring)."""

    def preprocess(self, nb: NotebookNode, resources: dict) -> tuple[NotebookNode, dict]:
        tagged = any(cell.metadata.get(ROLE_KEY) == "slide" for cell in nb.cells)
        nb.cells = tagged_deck_cells(nb.cells) if tagged else fallback_deck_cells(nb.cells)
        return nb, resources


# The decks --------------------------------------------------------------------------------------------------

def slides_config(assets: dict[str, str], glue: dict) -> Config:
    config = Config()
    config.SlidesExporter.preprocessors = [MystMarkdownPreprocessor, SlideLayoutPreprocessor]
    config.SlidesExporter.extra_template_basedirs = [str(THEME_FOLDER / "templates")]
    config.SlidesExporter.template_name = TEMPLATE_NAME
    config.SlidesExporter.reveal_scroll = False
    config.SlidesExporter.reveal_theme = "white"
    config.SlidesExporter.reveal_number = "c/t"
    config.SlidesExporter.reveal_width = str(SLIDE_WIDTH)
    config.SlidesExporter.reveal_height = str(SLIDE_HEIGHT)
    config.SlidesExporter.exclude_input_prompt = True
    config.SlidesExporter.exclude_output_prompt = True
    for name, value in assets.items():
        setattr(config.SlidesExporter, name, value)
    config.MystMarkdownPreprocessor.bibliography_path = str(BIBLIOGRAPHY)
    config.MystMarkdownPreprocessor.glue = glue
    config.TagRemovePreprocessor.enabled = False
    return config


TABLE_CELL = re.compile(r"<t([dh])\b[^>]*>.*?</t\1>", re.S)
INLINE_CODE = re.compile(r"(<code[^>]*>)(.*?)(</code>)", re.S)


def unescape_table_pipes(html: str) -> str:
    r"""``html`` with ``\|`` read as ``|`` in the code of table cells, as MyST (and GitHub) read it there: a
    Markdown table escapes the pipes in its code (``(1 \| g)``), and nbconvert's renderer leaves the escape in."""
    def unescape_code(code: re.Match) -> str:
        return code.group(1) + code.group(2).replace("\\|", "|") + code.group(3)

    return TABLE_CELL.sub(lambda cell: INLINE_CODE.sub(unescape_code, cell.group(0)), html)


def make_deck(source: Path, output: Path, assets: dict[str, str]) -> Path:
    """Write the slides of one chapter (its stored notebook) to ``output/<chapter>.slides.html``; return the path."""
    notebook = nbformat.read(source, as_version=4)
    exporter = SlidesExporter(config=slides_config(assets, glue_outputs(notebook)))
    resources = {"metadata": {"name": source.stem}, "course_slides": {"theme_css": THEME_CSS.name}}
    body, resources = exporter.from_notebook_node(with_slide_roles(notebook), resources=resources)
    unknown = resources.get("myst", {}).get("unknown_syntax")
    if unknown:
        print(f"{source.name}: MyST syntax shown as plain text: {', '.join(unknown)}", file=sys.stderr)
    output.mkdir(parents=True, exist_ok=True)
    deck = output / f"{source.stem}{exporter.file_extension}"
    deck.write_text(unescape_table_pipes(body), encoding="utf-8")
    return deck


def make_decks(notebooks: list[Path], output: Path = DEFAULT_OUTPUT) -> list[Path]:
    """The decks of every notebook in ``notebooks``, with reveal.js and the theme beside them in ``output``."""
    assets = install_local_assets(output)
    shutil.copy2(THEME_CSS, output / THEME_CSS.name)
    return [make_deck(source, output, assets) for source in notebooks]


# The PDFs ---------------------------------------------------------------------------------------------------

class QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: object) -> None:
        pass


@contextmanager
def served(folder: Path) -> Iterator[str]:
    """Serve ``folder`` on 127.0.0.1 while the block runs (MathJax's fonts do not load from ``file://``);
    yield its URL."""
    handler = functools.partial(QuietHandler, directory=str(folder))
    with http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler) as server:
        thread = threading.Thread(target=server.serve_forever, daemon=True)
        thread.start()
        try:
            yield f"http://127.0.0.1:{server.server_address[1]}/"
        finally:
            server.shutdown()
            thread.join()


def chromium() -> str:
    if not Path(CHROMIUM).exists():
        raise SlidesError(f"the PDFs are printed by Chromium, and {CHROMIUM} is missing "
                          "(Debian: apt-get install chromium), or make the decks alone with --no-pdf")
    return CHROMIUM


def print_pdf(deck_url: str, pdf: Path) -> Path:
    """Print the deck at ``deck_url`` in reveal.js's print layout (one page a slide) to ``pdf``."""
    pdf.parent.mkdir(parents=True, exist_ok=True)
    pdf.unlink(missing_ok=True)
    command = [chromium(), "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
               "--disable-background-networking", "--no-pdf-header-footer",
               f"--virtual-time-budget={PDF_LOAD_BUDGET_MS}", f"--print-to-pdf={pdf}", f"{deck_url}?print-pdf"]
    result = subprocess.run(command, capture_output=True, text=True, timeout=PDF_TIMEOUT_SECONDS)
    if result.returncode != 0 or not pdf.exists():
        raise SlidesError(f"Chromium did not print {deck_url} (exit {result.returncode}):\n{result.stderr[-2000:]}")
    return pdf


def make_pdfs(decks: list[Path], output: Path) -> list[Path]:
    """``output/pdf/<chapter>.pdf`` of every deck (all in ``output``)."""
    with served(output) as url:
        return [print_pdf(url + deck.name, output / "pdf" / f"{deck.name.removesuffix('.slides.html')}.pdf")
                for deck in decks]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("notebooks", nargs="*", type=Path, help="chapters (default: notebooks/*.ipynb)")
    parser.add_argument("--output", type=Path, default=DEFAULT_OUTPUT, help="folder for the decks")
    parser.add_argument("--no-pdf", action="store_true", help="make the decks only, no PDFs")
    arguments = parser.parse_args(argv)
    notebooks = arguments.notebooks or sorted((ROOT / "notebooks").glob("*.ipynb"))
    try:
        decks = make_decks(notebooks, arguments.output)
        pdfs = [] if arguments.no_pdf else make_pdfs(decks, arguments.output)
    except SlidesError as error:
        print(f"make_slides: {error}", file=sys.stderr)
        return 1
    for path in [*decks, *pdfs]:
        print(path)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
