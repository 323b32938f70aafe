"""Build the student edition of the book, without solutions: ``python scripts/student_book.py`` (``make book-student``).

The book's sources are copied to ``<output>/source``; in the copied notebooks and pages every solution is
removed (see :func:`myst_markdown.strip_solutions`): solution prose disappears, and solution code cells are
tagged ``remove-cell`` so that they still run (later cells may use their results) but are not shown. The copy
is built with ``-W -n`` and sphinx-exercise's ``hide_solutions`` on, and the HTML is put in ``<output>/html``.
Its launch and download buttons give the student learner notebooks of ``learner/student/`` (``learner_edition``
of ``book/_ext/learner_links.py``), which hold no solution either.
"""

from __future__ import annotations

import argparse
import copy
import shutil
import subprocess
import sys
from pathlib import Path

import nbformat
import yaml

sys.path.insert(0, str(Path(__file__).resolve().parent))

from myst_markdown import strip_solution_text, strip_solutions

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_OUTPUT = ROOT / "_build" / "student"
NOT_COPIED = shutil.ignore_patterns(".git", ".venv", "_build", "node_modules", "__pycache__", "*.egg-info",
                                    ".ipynb_checkpoints", ".pytest_cache", ".hypothesis", "tests", "benchmarks")


def student_notebook(notebook: nbformat.NotebookNode) -> nbformat.NotebookNode:
    """``notebook`` as the student edition holds it: solutions removed, solution code cells hidden."""
    edition = copy.copy(notebook)
    edition.cells = strip_solutions(notebook.cells, keep_code=True)
    return edition


def prepare_source(root: Path, destination: Path, cache: Path | None = None) -> Path:
    """Copy the book to ``destination`` with the solutions removed, and switch on ``hide_solutions``; with
    ``cache``, the notebooks' outputs are read from that jupyter-cache."""
    if destination.exists():
        shutil.rmtree(destination)
    shutil.copytree(root, destination, ignore=NOT_COPIED)
    for notebook_path in destination.rglob("*.ipynb"):
        nbformat.write(student_notebook(nbformat.read(notebook_path, as_version=4)), notebook_path)
    for page in (destination / "book").rglob("*.md"):
        page.write_text(strip_solution_text(page.read_text(encoding="utf-8"), inside=False)[0], encoding="utf-8")
    config_path = destination / "_config.yml"
    config = yaml.safe_load(config_path.read_text(encoding="utf-8"))
    config["title"] = f"{config.get('title', '')} (student edition)".strip()
    config.setdefault("sphinx", {}).setdefault("config", {}).update({"hide_solutions": True,
                                                                     "learner_edition": "student"})
    if cache is not None:
        config.setdefault("execute", {}).update({"execute_notebooks": "cache", "cache": str(cache.resolve())})
    config_path.write_text(yaml.safe_dump(config, sort_keys=False), encoding="utf-8")
    return destination


def build(root: Path = ROOT, output: Path = DEFAULT_OUTPUT, cache: Path | None = None) -> Path:
    """Build the student edition into ``output/html`` and return that folder; raise if the build fails (the
    build's log goes to standard output and error, as ``make book``'s does).

    The notebooks are executed afresh, or, with ``cache``, their outputs come from that jupyter-cache.
    """
    output = output.resolve()  # the build runs in the source copy, so a relative path would point elsewhere
    source = prepare_source(root, output / "source", cache)
    jupyter_book = Path(sys.executable).parent / "jupyter-book"
    result = subprocess.run([str(jupyter_book), "build", str(source), "--path-output", str(source),
                             "--builder", "html", "-W", "-n", "--keep-going"], cwd=source)
    if result.returncode != 0:
        raise RuntimeError(f"the student book failed to build (exit {result.returncode}; its log is above)")
    html = output / "html"
    if html.exists():
        shutil.rmtree(html)
    shutil.copytree(source / "_build" / "html", html)
    return html


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--output", type=Path, default=DEFAULT_OUTPUT, help="folder for the source copy and html/")
    parser.add_argument("--cache", type=Path, default=None,
                        help="jupyter-cache holding the executed notebooks (default: execute them afresh)")
    arguments = parser.parse_args(argv)
    print(build(ROOT, arguments.output, arguments.cache))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
