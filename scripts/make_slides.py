"""Make reveal.js slides of every chapter: ``python scripts/make_slides.py`` (``make slides``).

Each ``notebooks/*.ipynb`` is executed (or taken already executed from ``--executed-dir``), its MyST markdown is
turned into plain Markdown by :class:`myst_markdown.MystMarkdownPreprocessor`, cells tagged ``solution`` or
``remove-cell`` are dropped by nbconvert's ``TagRemovePreprocessor``, and nbconvert's slides exporter (the
one behind ``jupyter nbconvert --to slides``) writes ``<output>/<chapter>.slides.html``. The cells'
``slideshow`` metadata decide where slides, sub-slides and fragments start.

reveal.js, RequireJS, jQuery and MathJax 2 are installed from the npm registry into ``<output>/node_modules``
when npm is available, and the decks load them from there (the ``white`` theme's fonts ship with reveal.js),
so they work offline; otherwise the decks load them from CDNs. Only nbconvert's Mermaid loader still points
at a CDN (no chapter draws Mermaid diagrams).
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
from pathlib import Path

import nbformat
from nbclient import NotebookClient
from nbconvert import SlidesExporter
from traitlets.config import Config

sys.path.insert(0, str(Path(__file__).resolve().parent))

from myst_markdown import MystMarkdownPreprocessor, glue_outputs  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_OUTPUT = ROOT / "_build" / "slides"
BIBLIOGRAPHY = ROOT / "book" / "references.bib"
CELL_TIMEOUT_SECONDS = 300
# reveal.js 4.0.2 is the version nbconvert's reveal template is written for (its CDN default).
NPM_PACKAGES = {"reveal.js": "4.0.2", "requirejs": "2.3.8", "jquery": "3.7.1", "mathjax": "2.7.9"}
LOCAL_ASSETS = {
    "reveal_url_prefix": "node_modules/reveal.js",
    "require_js_url": "node_modules/requirejs/require.js",
    "jquery_url": "node_modules/jquery/dist/jquery.min.js",
    "mathjax_url": "node_modules/mathjax/MathJax.js?config=TeX-AMS_CHTML-full,Safe",
}
REVEAL_THEME = "white"
REMOVED_CELL_TAGS = {"solution", "remove-cell"}


def install_local_assets(output: Path) -> dict[str, str]:
    """Install reveal.js and its helpers into ``output/node_modules``; return the exporter settings for them.

    All packages are installed in one call: ``npm install --no-save`` removes packages it was not given.
    Returns an empty mapping (so the decks use the CDNs) when npm is missing or the install fails.
    """
    modules = output / "node_modules"
    if any(not (modules / name).is_dir() for name in NPM_PACKAGES):
        if shutil.which("npm") is None:
            return {}
        output.mkdir(parents=True, exist_ok=True)
        result = subprocess.run(["npm", "install", "--prefix", str(output), "--no-audit", "--no-fund",
                                 "--no-save",
                                 *(f"{name}@{version}" for name, version in NPM_PACKAGES.items())], capture_output=True, text=True, timeout=600)
        if result.returncode != 0:
            print(f"npm install failed, the slides will use the CDN:\n{result.stderr[-2000:]}", file=sys.stderr)
            return {}
    files = ["node_modules/reveal.js/dist/reveal.js", *(url.split("?")[0] for name, url in LOCAL_ASSETS.items()
                                                       if name != "reveal_url_prefix")]
    present = all((output / path).exists() for path in files)
    return dict(LOCAL_ASSETS) if present else {}


def executed_notebook(source: Path, executed_dir: Path | None) -> tuple[nbformat.NotebookNode, dict]:
    """The chapter with its outputs, and its glued values.

    Jupyter Book's executed copy (in ``executed_dir``, with a ``.glue.json`` beside it) is used when given;
    otherwise the notebook runs here, in its own folder, from a fresh kernel.
    """
    if executed_dir is not None and (executed_dir / source.name).exists():
        notebook = nbformat.read(executed_dir / source.name, as_version=4)
        return notebook, glue_outputs(notebook, executed_dir / f"{source.stem}.glue.json")
    notebook = nbformat.read(source, as_version=4)
    NotebookClient(notebook, timeout=CELL_TIMEOUT_SECONDS, kernel_name="python3",
                   resources={"metadata": {"path": str(source.parent)}}).execute()
    return notebook, glue_outputs(notebook)


def slides_config(assets: dict[str, str], glue: dict) -> Config:
    config = Config()
    config.SlidesExporter.preprocessors = [MystMarkdownPreprocessor]
    config.SlidesExporter.reveal_scroll = True
    config.SlidesExporter.reveal_theme = REVEAL_THEME
    for name, value in assets.items():
        setattr(config.SlidesExporter, name, value)
    config.MystMarkdownPreprocessor.bibliography_path = str(BIBLIOGRAPHY)
    config.MystMarkdownPreprocessor.glue = glue
    config.TagRemovePreprocessor.enabled = True
    config.TagRemovePreprocessor.remove_cell_tags = REMOVED_CELL_TAGS
    config.TagRemovePreprocessor.remove_input_tags = {"remove-input"}
    config.TagRemovePreprocessor.remove_all_outputs_tags = {"remove-output"}
    return config


def make_deck(source: Path, output: Path, assets: dict[str, str], executed_dir: Path | None = None) -> Path:
    """Write the slides of one chapter to ``output/<chapter>.slides.html`` and return that path."""
    notebook, glue = executed_notebook(source, executed_dir)
    exporter = SlidesExporter(config=slides_config(assets, glue))
    body, resources = exporter.from_notebook_node(notebook, resources={"metadata": {"name": source.stem}})
    unknown = resources.get("myst", {}).get("unknown_syntax")
    if unknown:
        print(f"{source.name}: MyST syntax shown as plain text: {', '.join(unknown)}", file=sys.stderr)
    output.mkdir(parents=True, exist_ok=True)
    deck = output / f"{source.stem}{exporter.file_extension}"
    deck.write_text(body, encoding="utf-8")
    return deck


def make_all(notebooks: list[Path], output: Path = DEFAULT_OUTPUT, executed_dir: Path | None = None) -> list[Path]:
    """Slides of every notebook in ``notebooks``."""
    assets = install_local_assets(output)
    return [make_deck(source, output, assets, executed_dir) for source in notebooks]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("notebooks", nargs="*", type=Path, help="chapters (default: notebooks/*.ipynb)")
    parser.add_argument("--output", type=Path, default=DEFAULT_OUTPUT, help="folder for the decks")
    parser.add_argument("--executed-dir", type=Path, default=None,
                        help="folder of already executed copies (Jupyter Book's _build/jupyter_execute/notebooks)")
    arguments = parser.parse_args(argv)
    notebooks = arguments.notebooks or sorted((ROOT / "notebooks").glob("*.ipynb"))
    for deck in make_all(notebooks, arguments.output, arguments.executed_dir):
        print(deck)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
