"""Write the learner notebooks: the chapters as plain Jupyter shows them, with and without solutions.

``python scripts/learner_notebooks.py`` (``make learner``) regenerates ``learner/`` from the stored notebooks in
``notebooks/``; ``--check`` writes nothing and exits with 1 when a learner notebook is missing or out of date.

The chapters are written for Jupyter Book, whose MyST syntax plain Jupyter (JupyterLab, Colab, VS Code,
GitHub's preview, ``nbconvert``) shows as raw text. Each learner notebook is its chapter with:

- every glue role replaced by the glued value, as the book shows it, read from the notebook's stored glue
  outputs (the ``bookkeeping`` cells that compute those values are dropped, and so are the glue outputs);
- ``slide-only`` cells dropped (the Colab setup cell, hidden from the book only, stays);
- exercises turned into headed, numbered blocks ("Exercise 5.1: title (★☆☆)"), numbered as the book does;
- each solution folded: its prose in an HTML ``<details>`` block headed "Solution to Exercise 5.1", its code
  cells after it, marked by a first comment line and folded in JupyterLab (``jupyter.source_hidden``);
- citations as "(Snijders & Bosker, 2012)" linked to the book's bibliography, and a list of references at the
  end; cross-references (``{ref}``, ``{numref}``, ``{eq}``, ``{doc}``) as links into the book;
- admonitions, math and figure directives as plain Markdown; figure captions under their figures.

``learner/<chapter>.ipynb`` is the full edition, ``learner/student/<chapter>.ipynb`` the student edition, in
which the solutions (prose, code and outputs) are absent: an empty code cell stands where each was. Outputs are
those stored in ``notebooks/``. ``learner/README.md`` lists the notebooks with their Colab and Binder links.
"""

from __future__ import annotations

import argparse
import copy
import os
import re
import sys
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlparse

import nbformat
import yaml
from nbformat import NotebookNode
from nbformat.v4 import new_code_cell, new_markdown_cell

sys.path.insert(0, str(Path(__file__).resolve().parent))

from myst_markdown import (
    EXPLICIT_TITLE,
    FENCE_OPEN,
    GLUE_MIME_PREFIX,
    LABEL_TARGET,
    SOLUTION_TAG,
    Bibliography,
    MarkdownConverter,
    chapter_numbers,
    closing_fence_index,
    equation_labels,
    glue_outputs,
    toc_files,
)

ROOT = Path(__file__).resolve().parent.parent
LEARNER_FOLDER = "learner"
STUDENT_FOLDER = "student"
BIBLIOGRAPHY_PAGE = "book/bibliography"
DROPPED_TAGS = {"bookkeeping", "slide-only"}
HIDDEN_FROM_THE_BOOK = "remove-cell"
DROPPED_CELL_METADATA = {"execution", "slideshow", "mystnb"}
HEADING = re.compile(r"^(?P<hashes>#{1,6})\s+(?P<title>.+?)\s*#*\s*$")
EXERCISE_LABEL = re.compile(r"^\s*:label:\s*(?P<label>\S+)\s*$")
FIGURE_NAME = re.compile(r"^\s*:name:\s*(?P<name>\S+)\s*$")
FIGURE_DIRECTIVES = ("figure", "glue:figure")
PAGE_LINK = re.compile(r"\]\((?P<path>[^()\s:#]+\.(?:md|ipynb))(?:#(?P<anchor>[^()\s]*))?\)")


# The book's targets: where each label points and how the book numbers it -----------------------------------

@dataclass(frozen=True)
class Target:
    """Something a cross-reference can point at: a page (``docname``), an anchor on it, its text."""

    docname: str
    anchor: str
    text: str


@dataclass
class BookIndex:
    """The labels of the book's pages and chapters, their titles and numbers, and the book's address."""

    title: str
    url: str
    chapter_numbers: dict[str, int]
    targets: dict[str, Target] = field(default_factory=dict)
    titles: dict[str, str] = field(default_factory=dict)

    def page_url(self, docname: str, anchor: str = "") -> str:
        return f"{self.url}{docname}.html" + (f"#{anchor}" if anchor else "")

    def target(self, label: str) -> Target:
        if label not in self.targets:
            raise KeyError(f"cross-reference to {label!r}, which no page or chapter of the book defines")
        return self.targets[label]


def chapter_paths(root: Path = ROOT) -> list[Path]:
    """The chapters' notebooks, in the order of the table of contents."""
    return [root / f"{docname}.ipynb" for docname, _ in toc_files(root) if (root / f"{docname}.ipynb").exists()]


def book_config(root: Path) -> dict:
    return yaml.safe_load((root / "_config.yml").read_text(encoding="utf-8"))


def book_url(root: Path) -> str:
    """Where the HTML book is published: ``html.baseurl`` of ``_config.yml`` if set, else the GitHub Pages site
    of ``repository.url`` (``https://github.com/owner/name`` is published at ``https://owner.github.io/name/``)."""
    config = book_config(root)
    base = (config.get("html") or {}).get("baseurl")
    if base:
        return base.rstrip("/") + "/"
    owner, name = urlparse(config["repository"]["url"]).path.strip("/").split("/")[:2]
    return f"https://{owner}.github.io/{name}/"


def page_sources(root: Path) -> Iterator[tuple[str, list[str], list[NotebookNode]]]:
    """``(docname, markdown texts, cells)`` of every page of the table of contents as the book shows it (cells
    tagged ``remove-cell`` left out; no cells for a Markdown page)."""
    for docname, _ in toc_files(root):
        notebook_path, markdown_path = root / f"{docname}.ipynb", root / f"{docname}.md"
        if notebook_path.exists():
            cells = [cell for cell in nbformat.read(notebook_path, as_version=4).cells
                     if HIDDEN_FROM_THE_BOOK not in cell.metadata.get("tags", [])]
            yield docname, [cell.source for cell in cells if cell.cell_type == "markdown"], cells
        elif markdown_path.exists():
            yield docname, [markdown_path.read_text(encoding="utf-8")], []


def plain_title(title: str) -> str:
    """A heading's text without inline markup a link text cannot hold (roles keep their content)."""
    return re.sub(r"\{[\w:.+-]+\}`([^`]*)`", r"\1", title).strip()


def build_index(root: Path = ROOT) -> BookIndex:
    """Every label of the book: section targets ``(label)=``, figures, equations and exercises, numbered per
    chapter as the book numbers them (chapter N's third figure is "Figure N.3")."""
    index = BookIndex(book_config(root)["title"], book_url(root), chapter_numbers(root))
    for docname, texts, cells in page_sources(root):
        prefix = f"{index.chapter_numbers[docname]}." if docname in index.chapter_numbers else ""
        pending: str | None = None
        exercises = 0
        for text in texts:
            lines = text.split("\n")
            for position, line in enumerate(lines):
                target = LABEL_TARGET.match(line)
                heading = HEADING.match(line)
                if target:
                    pending = line.strip()[1:-2]
                elif heading:
                    title = plain_title(heading.group("title"))
                    index.titles.setdefault(docname, title)
                    if pending:
                        index.targets[pending] = Target(docname, pending, title)
                    pending = None
                elif line.strip():
                    pending = None
                fence = FENCE_OPEN.match(line)
                if fence and fence.group("name") in ("exercise", "exercise-start"):
                    exercises += 1
                    closing = closing_fence_index(lines, position, fence.group("fence"))
                    labels = [m.group("label") for m in map(EXERCISE_LABEL.match, lines[position + 1:closing]) if m]
                    if labels:
                        index.targets[labels[0]] = Target(docname, labels[0], f"Exercise {prefix}{exercises}")
        for number, label in enumerate(equation_labels(cells), start=1):
            index.targets[label] = Target(docname, f"equation-{label}", f"({prefix}{number})")
        for number, name in enumerate(figure_names(cells), start=1):
            if name:
                index.targets[name] = Target(docname, name, f"Figure {prefix}{number}")
    return index


def figure_names(cells: list[NotebookNode]) -> list[str | None]:
    """The names of a page's figures in order (None for a figure without one): code cells with myst-nb figure
    metadata, and ``{figure}`` and ``{glue:figure}`` directives."""
    names: list[str | None] = []
    for cell in cells:
        if cell.cell_type == "code" and "figure" in cell.metadata.get("mystnb", {}):
            names.append(cell.metadata["mystnb"]["figure"].get("name"))
        elif cell.cell_type == "markdown":
            lines = cell.source.split("\n")
            for position, line in enumerate(lines):
                fence = FENCE_OPEN.match(line)
                if fence and fence.group("name") in FIGURE_DIRECTIVES:
                    options = lines[position + 1:closing_fence_index(lines, position, fence.group("fence"))]
                    named = [m.group("name") for m in map(FIGURE_NAME.match, options) if m]
                    names.append(named[0] if named else None)
    return names


# MyST to plain Markdown, with links into the book ------------------------------------------------------------

class LinkedBibliography(Bibliography):
    """Author-year citations that name two authors with "&" and link to the book's bibliography page."""

    def __init__(self, path: Path, link: str) -> None:
        super().__init__(path)
        self.link = link

    def authors(self, key: str) -> str:
        return super().authors(key).replace(" and ", " & ")

    def cite(self, role: str, keys: str) -> str:
        names = [key.strip() for key in keys.split(",") if key.strip()]
        kind = role.split(":", 1)[1] if ":" in role else "p"
        if kind in ("t", "ts"):
            return ", ".join(f"[{self.authors(key)} ({self.year(key)})]({self.link})" for key in names)
        if kind in ("author", "year"):
            return f"[{super().cite(role, keys)}]({self.link})"
        return "(" + "; ".join(f"[{self.authors(key)}, {self.year(key)}]({self.link})" for key in names) + ")"


class LearnerConverter(MarkdownConverter):
    """MyST to plain Markdown for a learner notebook: numbers as the book numbers them, references as links."""

    def __init__(self, glue: Mapping[str, Mapping[str, object]], bibliography: Bibliography, index: BookIndex,
                 docname: str, source_folder: Path, learner_folder: Path) -> None:
        super().__init__(glue, bibliography, [], index.chapter_numbers.get(docname))
        self.index = index
        self.docname = docname
        self.equation_numbers = {label: target.text.strip("()") for label, target in index.targets.items()
                                 if target.docname == docname and target.anchor.startswith("equation-")}
        self.source_folder = source_folder
        self.learner_folder = learner_folder

    def link(self, text: str, target: Target) -> str:
        return f"[{text}]({self.index.page_url(target.docname, target.anchor)})"

    def inline(self, text: str) -> str:
        """Roles replaced, and Markdown links to another page of the book (``../book/notation.md``, which
        Jupyter Book resolves and plain Jupyter cannot) pointed at that page in the published book."""
        def book_link(match: re.Match) -> str:
            docname = self.resolve(match.group("path"))
            if docname not in self.index.titles:
                return match.group(0)
            return f"]({self.index.page_url(docname, match.group('anchor') or '')})"
        return PAGE_LINK.sub(book_link, super().inline(text))

    def resolve(self, path: str) -> str:
        """The docname that a path relative to this page names (without its suffix)."""
        joined = os.path.normpath(os.path.join(os.path.dirname(self.docname), path)).replace(os.sep, "/")
        return re.sub(r"\.(md|ipynb)$", "", joined)

    def role(self, name: str, content: str) -> str:
        explicit = EXPLICIT_TITLE.match(content)
        title, label = (explicit.group("title"), explicit.group("target")) if explicit else ("", content.strip())
        if name == "ref":
            target = self.index.target(label)
            return self.link(title or target.text, target)
        if name == "numref":
            target = self.index.target(label)
            number = target.text.rsplit(" ", 1)[-1]
            return self.link(title.replace("%s", number).replace("{number}", number) if title else target.text,
                             target)
        if name == "eq":
            return self.link(self.index.target(label).text, self.index.target(label))
        if name == "doc":
            docname = self.resolve(label)
            if docname not in self.index.titles:
                raise KeyError(f"{{doc}} link to {label!r}, which is not a page of the book")
            return f"[{title or self.index.titles[docname]}]({self.index.page_url(docname)})"
        return super().role(name, content)

    def directive(self, name: str, argument: str, content: list[str]) -> list[str]:
        if name in ("exercise", "exercise-start"):
            converted = super().directive(name, argument, content)
            return converted if any(line.strip() for line in converted[1:]) else converted[:1]
        if name in ("figure", "image") and not re.match(r"^[a-z]+://", argument):
            argument = os.path.relpath(self.source_folder / argument, self.learner_folder).replace(os.sep, "/")
        converted = super().directive(name, argument, content)
        label = self.options_and_body(content)[0].get("name")
        caption = next((position for position in range(2, len(converted)) if converted[position].strip()), None)
        if name in FIGURE_DIRECTIVES and label in self.index.targets and caption is not None:
            converted[caption] = f"*{self.index.targets[label].text}:* {converted[caption]}"
        return converted


# Solutions ---------------------------------------------------------------------------------------------------

@dataclass
class Solution:
    """One exercise's solution: the label of its exercise, its prose (MyST) and its code cells."""

    label: str
    prose: list[str] = field(default_factory=list)
    code: list[NotebookNode] = field(default_factory=list)


def chapter_parts(cells: list[NotebookNode]) -> Iterator[NotebookNode | Solution]:
    """The cells in order, each solution gathered into one :class:`Solution` (from ``{solution-start}`` to
    ``{solution-end}`` across cells, a ``{solution}`` directive, or a lone code cell tagged ``solution``).

    Markdown cells are split where a solution starts or ends; cells tagged ``bookkeeping`` or ``slide-only``
    are left out.
    """
    open_solution: Solution | None = None
    last_exercise = ""
    for cell in cells:
        tags = set(cell.metadata.get("tags", []))
        if tags & DROPPED_TAGS:
            continue
        if cell.cell_type == "code":
            if open_solution is not None:
                open_solution.code.append(cell)
            elif SOLUTION_TAG in tags:
                yield Solution(last_exercise, code=[cell])
            else:
                yield cell
            continue
        if cell.cell_type != "markdown":
            yield cell
            continue
        lines = cell.source.split("\n")
        if open_solution is not None and open_solution.prose:
            open_solution.prose.append("")  # a new cell starts a new paragraph
        outside: list[str] = []
        index = 0
        while index < len(lines):
            match = FENCE_OPEN.match(lines[index])
            name = match.group("name") if match else None
            closing = closing_fence_index(lines, index, match.group("fence")) if match else index
            if name in ("exercise", "exercise-start"):
                labels = [m.group("label") for m in map(EXERCISE_LABEL.match, lines[index + 1:closing]) if m]
                last_exercise = labels[0] if labels else last_exercise
            if open_solution is not None:
                if name == "solution-end":
                    yield open_solution
                    open_solution = None
                else:
                    open_solution.prose.append("\n".join(lines[index:closing + 1]))
                index = closing + 1
                continue
            if name in ("solution-start", "solution"):
                if "\n".join(outside).strip():
                    yield markdown_like(cell, "\n".join(outside))
                outside = []
                solution = Solution(match.group("argument").strip() or last_exercise)
                if name == "solution":
                    solution.prose.append("\n".join(MarkdownConverter.options_and_body(lines[index + 1:closing])[1]))
                    yield solution
                else:
                    open_solution = solution
            else:
                outside.extend(lines[index:closing + 1])
            index = closing + 1
        if "\n".join(outside).strip():
            yield markdown_like(cell, "\n".join(outside))
    if open_solution is not None:
        raise ValueError(f"the solution of {open_solution.label!r} has no {{solution-end}}")


def markdown_like(cell: NotebookNode, source: str) -> NotebookNode:
    part = copy.deepcopy(cell)
    part.source = source
    return part


# One learner notebook ----------------------------------------------------------------------------------------

def clean_outputs(outputs: list[NotebookNode]) -> list[NotebookNode]:
    """Outputs without the glue records (which plain Jupyter cannot show); outputs left empty are dropped."""
    cleaned = []
    for output in outputs:
        output = copy.deepcopy(output)
        if "data" in output:
            output.data = {mime: value for mime, value in output.data.items() if not mime.startswith(GLUE_MIME_PREFIX)}
            if not output.data:
                continue
            output.get("metadata", {}).pop("scrapbook", None)
        cleaned.append(output)
    return cleaned


def clean_code_cell(cell: NotebookNode) -> NotebookNode:
    cleaned = copy.deepcopy(cell)
    for key in DROPPED_CELL_METADATA:
        cleaned.metadata.pop(key, None)
    cleaned.outputs = clean_outputs(cell.get("outputs", []))
    return cleaned


def new_cell(source: str, cell_id: str) -> NotebookNode:
    cell = new_markdown_cell(source)
    cell.id = cell_id
    return cell


def figure_caption(cell: NotebookNode, converter: LearnerConverter) -> str | None:
    figure = cell.metadata.get("mystnb", {}).get("figure", {})
    if not figure.get("caption"):
        return None
    number = converter.index.targets[figure["name"]].text if figure.get("name") in converter.index.targets else "Figure"
    return f"*{number}: {converter.convert(figure['caption'])}*"


def learner_notebook(source_path: Path, student: bool, index: BookIndex, root: Path = ROOT) -> NotebookNode:
    """The learner notebook of one chapter (``student``: without solutions)."""
    source = nbformat.read(source_path, as_version=4)
    docname = source_path.relative_to(root).with_suffix("").as_posix()
    learner_folder = root / LEARNER_FOLDER / (STUDENT_FOLDER if student else "")
    bibliography = LinkedBibliography(root / "book" / "references.bib", index.page_url(BIBLIOGRAPHY_PAGE))
    converter = LearnerConverter(glue_outputs(source), bibliography, index, docname, source_path.parent,
                                 learner_folder)
    edition = "student edition, without solutions" if student else "solutions folded under each exercise"
    about = (f"A chapter of the course *{index.title}*, as a plain notebook ({edition}); "
             f"[the same chapter in the book]({index.page_url(docname)}). This file is written by "
             f"`scripts/learner_notebooks.py` from `{source_path.relative_to(root).as_posix()}`: edit that one.")
    cells = [new_cell(f"> {about}", "learner-about")]
    for part in chapter_parts(source.cells):
        if isinstance(part, Solution):
            edition_cells = answer_cells if student else solution_cells
            cells += edition_cells(part, converter, len(cells))
            continue
        if part.cell_type == "markdown":
            converted = copy.deepcopy(part)
            converted.source = converter.convert(part.source)
            converted.metadata = {key: value for key, value in part.metadata.items()
                                  if key not in DROPPED_CELL_METADATA and key != "tags"}
            cells.append(converted)
        elif part.cell_type == "code":
            cells.append(clean_code_cell(part))
            caption = figure_caption(part, converter)
            if caption:
                cells.append(new_cell(caption, f"{part.id}-caption"[:64]))
        else:
            cells.append(copy.deepcopy(part))
    if converter.unknown:
        raise ValueError(f"{source_path.name}: no plain Markdown for {sorted(converter.unknown)}")
    if bibliography.cited:
        references = "\n".join(f"- {bibliography.reference(key)}" for key in bibliography.cited)
        cells.append(new_cell(f"## References\n\n{references}\n\nThe book's [bibliography]"
                              f"({index.page_url(BIBLIOGRAPHY_PAGE)}) lists every work it cites.",
                              "learner-references"))
    notebook = nbformat.v4.new_notebook(metadata=copy.deepcopy(source.metadata))
    notebook.nbformat, notebook.nbformat_minor = source.nbformat, source.nbformat_minor
    notebook.cells = cells
    return notebook


def exercise_name(solution: Solution, converter: LearnerConverter) -> str:
    """"Exercise 5.1", the name the book gives the exercise that ``solution`` solves."""
    target = converter.index.targets.get(solution.label)
    return target.text if target is not None else "the exercise"


def answer_cells(solution: Solution, converter: LearnerConverter, position: int) -> list[NotebookNode]:
    """The student edition's cell in place of a solution: an empty code cell to work the exercise in."""
    cell = new_code_cell(f"# Your answer to {exercise_name(solution, converter)}")
    cell.id = f"learner-answer-{position}"
    return [cell]


def solution_cells(solution: Solution, converter: LearnerConverter, position: int) -> list[NotebookNode]:
    """The full edition's cells for one solution: its prose folded in ``<details>``, then its code cells,
    marked by a first comment line and folded in JupyterLab."""
    name = exercise_name(solution, converter)
    prose = converter.convert("\n".join(solution.prose)).strip()
    if solution.code:
        cells_word = "cells" if len(solution.code) > 1 else "cell"
        prose = (prose + "\n\n" if prose else "") + f"The code of this solution is in the {cells_word} below."
    cells = [new_cell(f"<details>\n<summary><strong>Solution to {name}</strong></summary>\n\n{prose}\n\n</details>",
                      f"learner-solution-{position}")]
    for code in solution.code:
        cell = clean_code_cell(code)
        cell.source = f"# Solution to {name}\n{cell.source}"
        cell.metadata["tags"] = sorted(set(cell.metadata.get("tags", [])) | {SOLUTION_TAG})
        cell.metadata["jupyter"] = {"source_hidden": True, "outputs_hidden": True}
        cells.append(cell)
    return cells


# The learner folder ------------------------------------------------------------------------------------------

def learner_path(source_path: Path, student: bool, root: Path = ROOT) -> Path:
    return root / LEARNER_FOLDER / (STUDENT_FOLDER if student else "") / source_path.name


def rendered(notebook: NotebookNode) -> str:
    nbformat.validate(notebook)
    return nbformat.writes(notebook) + "\n"


def folder_readme(index: BookIndex, root: Path = ROOT) -> str:
    """``learner/README.md``: what the folder holds, and each chapter's notebooks with Colab and Binder links."""
    repository = book_config(root)["repository"]
    slug = urlparse(repository["url"]).path.strip("/")
    branch = repository.get("branch", "main")
    lines = [
        "# The chapters as plain notebooks",
        "",
        f"Each chapter of [*{index.title}*]({index.url}) as a notebook that Jupyter, JupyterLab, Colab, VS Code "
        "and GitHub show as it is meant to read: numbers in the text, numbered exercises, citations and links.",
        "Those in this folder fold each solution under its exercise; those in `student/` have no solutions.",
        "",
        "Written by `scripts/learner_notebooks.py` (`make learner`) from the chapters in `notebooks/`: edit "
        "those, then regenerate. The outputs are the chapters' stored outputs.",
        "",
        "| Chapter | With solutions | Student edition |",
        "|---|---|---|",
    ]
    for path in chapter_paths(root):
        docname = path.relative_to(root).with_suffix("").as_posix()
        links = []
        for student in (False, True):
            relative = learner_path(path, student, root).relative_to(root).as_posix()
            in_folder = learner_path(path, student, root).relative_to(root / LEARNER_FOLDER).as_posix()
            links.append(f"[notebook]({in_folder}) · "
                         f"[Colab](https://colab.research.google.com/github/{slug}/blob/{branch}/{relative}) · "
                         f"[Binder](https://mybinder.org/v2/gh/{slug}/{branch}?urlpath=tree/{relative})")
        lines.append(f"| {index.titles.get(docname, docname)} | {links[0]} | {links[1]} |")
    return "\n".join(lines) + "\n"


def generate(root: Path = ROOT) -> dict[Path, str]:
    """Every file of ``learner/`` (the notebooks and the folder's README) and its text, made from the chapters
    as they are stored now."""
    index = build_index(root)
    generated = {learner_path(path, student, root): rendered(learner_notebook(path, student, index, root))
                 for path in chapter_paths(root) for student in (False, True)}
    return {**generated, root / LEARNER_FOLDER / "README.md": folder_readme(index, root)}


def stale(generated: Mapping[Path, str], root: Path = ROOT) -> list[Path]:
    """Files of ``learner/`` that differ from ``generated``, are missing, or no longer have a chapter."""
    present = {path for path in (root / LEARNER_FOLDER).rglob("*") if path.is_file()}
    differing = [path for path, text in generated.items()
                 if not path.exists() or path.read_text(encoding="utf-8") != text]
    return sorted(differing + sorted(present - set(generated)))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--check", action="store_true", help="write nothing; exit 1 when learner/ is out of date")
    arguments = parser.parse_args(argv)
    generated = generate(ROOT)
    outdated = stale(generated, ROOT)
    if arguments.check:
        for path in outdated:
            print(f"out of date: {path.relative_to(ROOT)}")
        if outdated:
            print("run `make learner` (python scripts/learner_notebooks.py) to regenerate them")
        return 1 if outdated else 0
    for path in outdated:
        if path in generated:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(generated[path], encoding="utf-8")
        else:
            path.unlink()
        print(f"wrote {path.relative_to(ROOT)}" if path in generated else f"removed {path.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
