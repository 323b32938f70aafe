"""Turn the MyST syntax of the chapters into plain Markdown that nbconvert (and any notebook viewer) renders.

Jupyter Book understands roles such as ``{glue:text}`key``` and ``{cite:p}`key``` and directives such as
```` ```{note} ````; nbconvert's Markdown renderer shows them as raw text. :class:`MystMarkdownPreprocessor`
rewrites every markdown cell of an executed notebook:

- glue roles and directives become the glued values, read from the notebook's glue outputs;
- citations become author-year text from the BibTeX file, and a references slide lists the works cited;
- ``$$ ... $$ (label)`` equations get numbers and ``{eq}`` references point at them;
- exercises become headed blocks numbered within the chapter as the book numbers them ("Exercise 2.1"), and
  solutions are removed (see :func:`strip_solutions`);
- admonitions (``{note}``, ``{warning}``, ...) become block quotes with a bold title;
- ``(label)=`` targets and ``%`` comments are removed, cross-reference roles become their plain text.

:func:`strip_solutions` is shared with the student build of the book, which hides the same solutions.
"""

from __future__ import annotations

import copy
import functools
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

import yaml
from nbconvert.preprocessors import Preprocessor
from nbformat import NotebookNode
from nbformat.v4 import new_markdown_cell
from pybtex.database import parse_file
from pybtex.richtext import Text
from traitlets import Dict, Integer, Unicode

ROOT = Path(__file__).resolve().parent.parent
GLUE_MIME_PREFIX = "application/papermill.record/"
SOLUTION_TAG = "solution"
FENCE_OPEN = re.compile(r"^(?P<indent> {0,3})(?P<fence>`{3,}|:{3,})\s*(?:\{(?P<name>[^}\s]+)\})?\s*(?P<argument>.*?)\s*$")
LABEL_TARGET = re.compile(r"^\s*\([^()\s]+\)=\s*$")
DISPLAY_MATH_LABEL = re.compile(r"^(?P<math>.*)\$\$\s*\((?P<label>[^()\s]+)\)\s*$")
INLINE = re.compile(r"(?P<code>(?<![}\w])`[^`\n]+`)|\{(?P<role>[A-Za-z][\w:.+-]*)\}`(?P<content>[^`\n]*)`")
EXPLICIT_TITLE = re.compile(r"^(?P<title>.*?)\s*<(?P<target>[^<>]+)>$")
ADMONITION_TITLES = {
    "admonition": "", "attention": "Attention", "caution": "Caution", "danger": "Danger", "error": "Error",
    "hint": "Hint", "important": "Important", "note": "Note", "seealso": "See also", "tip": "Tip",
    "warning": "Warning", "dropdown": "", "margin": "", "sidebar": "", "topic": "", "epigraph": "",
    "pull-quote": "", "highlights": "", "card": "", "tab-item": "", "grid-item-card": "",
}
#: Layout containers (sphinx-design): their content stays, the container goes.
CONTAINER_DIRECTIVES = {"tab-set", "grid", "grid-item", "container", "div"}
DROPPED_DIRECTIVES = {"bibliography", "tableofcontents", "toctree", "exercise-end", "glossary", "only", "raw"}


def toc_files(root: Path = ROOT) -> list[tuple[str, bool]]:
    """``(docname, numbered)`` of every entry of the book's ``_toc.yml``, in order."""
    toc = yaml.safe_load((root / "_toc.yml").read_text(encoding="utf-8"))
    entries = [(toc["root"], False)]
    for part in toc.get("parts", []):
        entries += [(chapter["file"], bool(part.get("numbered"))) for chapter in part.get("chapters", [])]
    return entries


def chapter_numbers(root: Path = ROOT) -> dict[str, int]:
    """The number the book gives each chapter, by docname: the chapters of the numbered parts count from 1."""
    numbered = [docname for docname, is_numbered in toc_files(root) if is_numbered]
    return {docname: number for number, docname in enumerate(numbered, start=1)}


def closing_fence_index(lines: list[str], start: int, fence: str) -> int:
    """Index of the line that closes the fence opened on ``lines[start]`` (``len(lines)`` when unclosed)."""
    closing = re.compile(rf"^\s*{re.escape(fence[0])}{{{len(fence)},}}\s*$")
    for index in range(start + 1, len(lines)):
        if closing.match(lines[index]):
            return index
    return len(lines)


def strip_solutions(cells: list[NotebookNode], keep_code: bool) -> list[NotebookNode]:
    """The cells without their solutions.

    A solution is a ``{solution}`` directive, everything from a ``{solution-start}`` to its ``{solution-end}``
    (which may span several cells), or a code cell tagged ``solution``. With ``keep_code`` the solution's
    code cells stay but are tagged ``remove-cell``, so that they still run and later cells can use their
    results; otherwise they are dropped. Markdown cells left empty are dropped.
    """
    kept: list[NotebookNode] = []
    inside = False
    for cell in cells:
        if cell.cell_type == "code":
            if inside or SOLUTION_TAG in cell.metadata.get("tags", []):
                if keep_code:
                    hidden = copy.deepcopy(cell)
                    tags = hidden.metadata.get("tags", [])
                    hidden.metadata["tags"] = tags if "remove-cell" in tags else [*tags, "remove-cell"]
                    kept.append(hidden)
                continue
            kept.append(cell)
            continue
        if cell.cell_type != "markdown":
            kept.append(cell)
            continue
        text, inside = strip_solution_text(cell.source, inside)
        if text.strip():
            edited = copy.deepcopy(cell)
            edited.source = text
            kept.append(edited)
    return kept


def strip_solution_text(text: str, inside: bool) -> tuple[str, bool]:
    """``text`` without solution blocks, and whether a gated solution is still open at its end."""
    lines = text.split("\n")
    kept: list[str] = []
    index = 0
    while index < len(lines):
        match = FENCE_OPEN.match(lines[index])
        name = match.group("name") if match else None
        closing = closing_fence_index(lines, index, match.group("fence")) if match else index
        if inside:
            if name == "solution-end":
                inside = False
                index = closing
            elif match:
                index = closing
        elif name == "solution-start":
            inside = True
            index = closing
        elif name == "solution":
            index = closing
        elif match:
            kept.extend(lines[index:closing + 1])
            index = closing
        else:
            kept.append(lines[index])
        index += 1
    return "\n".join(kept), inside


def glue_outputs(notebook: NotebookNode, sidecar: Path | None = None) -> dict[str, dict[str, object]]:
    """Glued values by key, each a mime bundle (``{"text/plain": ..., "image/png": ...}``).

    Values come from the outputs of ``myst_nb.glue`` in the executed notebook and, when given, from the
    ``.glue.json`` file that Jupyter Book writes next to the notebooks it executes.
    """
    values: dict[str, dict[str, object]] = {}
    outputs = [output for cell in notebook.cells if cell.cell_type == "code" for output in cell.get("outputs", [])]
    if sidecar is not None and sidecar.exists():
        outputs += list(json.loads(sidecar.read_text(encoding="utf-8")).values())
    for output in outputs:
        name = output.get("metadata", {}).get("scrapbook", {}).get("name")
        if name is None:
            continue
        values[name] = {mime.removeprefix(GLUE_MIME_PREFIX): data for mime, data in output.get("data", {}).items()}
    return values


def glue_text(bundle: Mapping[str, object], format_spec: str = "") -> str:
    """The text a ``{glue:text}`` role shows: the value's repr without string quotes, formatted on request."""
    text = str(bundle.get("text/plain", "")).strip()
    if len(text) >= 2 and text[0] == text[-1] and text[0] in "'\"":
        text = text[1:-1]
    return format(float(text), format_spec) if format_spec else text


def glued_latex(bundle: Mapping[str, object]) -> str:
    """The LaTeX of a glued value, without the dollar signs around it."""
    return str(bundle.get("text/latex", glue_text(bundle))).strip().strip("$")


def glue_block(bundle: Mapping[str, object], alt: str) -> str:
    """Markdown (or inline HTML) for a pasted glue value: a figure, an HTML table or text."""
    if "image/png" in bundle:
        return f'<img src="data:image/png;base64,{str(bundle["image/png"]).strip()}" alt="{alt}">'
    if "text/html" in bundle:
        return str(bundle["text/html"])
    return glue_text(bundle)


@dataclass
class Bibliography:
    """Author-year citations from a BibTeX file, as sphinxcontrib-bibtex's ``author_year`` style writes them."""

    path: Path
    cited: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.entries = parse_file(str(self.path)).entries if self.path.exists() else {}

    def _entry(self, key: str):
        if key not in self.entries:
            raise KeyError(f"citation key {key!r} is not in {self.path.name}")
        if key not in self.cited:
            self.cited.append(key)
        return self.entries[key]

    @staticmethod
    @functools.cache
    def _plain(latex: str) -> str:
        return Text.from_latex(latex).render_as("text")

    def authors(self, key: str) -> str:
        entry = self._entry(key)
        people = entry.persons.get("author") or entry.persons.get("editor") or []
        names = [self._plain(" ".join(person.prelast_names + person.last_names)) for person in people]
        if len(names) > 2:
            return f"{names[0]} et al."
        return " and ".join(names) or self._plain(entry.fields.get("title", key))

    def year(self, key: str) -> str:
        return self._entry(key).fields.get("year", "n.d.")

    def cite(self, role: str, keys: str) -> str:
        """Text of a ``{cite:p}`` (parenthetical) or ``{cite:t}`` (textual) citation of comma-separated keys."""
        names = [key.strip() for key in keys.split(",") if key.strip()]
        kind = role.split(":", 1)[1] if ":" in role else "p"
        if kind in ("t", "ts"):
            return ", ".join(f"{self.authors(key)} ({self.year(key)})" for key in names)
        if kind == "author":
            return ", ".join(self.authors(key) for key in names)
        if kind == "year":
            return ", ".join(self.year(key) for key in names)
        return "(" + "; ".join(f"{self.authors(key)}, {self.year(key)}" for key in names) + ")"

    def reference(self, key: str) -> str:
        """One line of a reference list: authors, year, title and where it appeared."""
        entry = self.entries[key]
        people = entry.persons.get("author") or entry.persons.get("editor") or []
        authors = ", ".join(self._plain(" ".join(person.last_names)) for person in people)
        venue = entry.fields.get("journal") or entry.fields.get("publisher") or entry.fields.get("booktitle") or ""
        parts = [f"{authors} ({self.year(key)}).", f"*{self._plain(entry.fields.get('title', ''))}*."]
        if venue:
            parts.append(f"{self._plain(venue)}.")
        return " ".join(parts)


class MarkdownConverter:
    """Converts the MyST text of one notebook's markdown cells, keeping counters across cells."""

    def __init__(self, glue: Mapping[str, Mapping[str, object]], bibliography: Bibliography,
                 equation_labels: list[str], chapter_number: int | None = None) -> None:
        self.glue = glue
        self.bibliography = bibliography
        self.equation_numbers = {label: number for number, label in enumerate(equation_labels, start=1)}
        self.exercises = 0
        #: Exercises are numbered within the chapter as the book numbers them ("Exercise 2.1") when it is given.
        self.exercise_prefix = f"{chapter_number}." if chapter_number is not None else ""
        self.unknown: set[str] = set()

    # Inline roles ---------------------------------------------------------------------------------------

    def glued(self, key: str) -> Mapping[str, object]:
        if key not in self.glue:
            raise KeyError(f"no glued value named {key!r}; was the notebook executed?")
        return self.glue[key]

    def role(self, name: str, content: str) -> str:
        explicit = EXPLICIT_TITLE.match(content)
        title, target = (explicit.group("title"), explicit.group("target")) if explicit else ("", content)
        if name in ("glue", "glue:", "glue:any"):
            return glue_block(self.glued(content.strip()), content.strip())
        if name == "glue:text":
            key, _, format_spec = content.strip().partition(":")
            return glue_text(self.glued(key), format_spec)
        if name == "glue:md":
            return glue_text(self.glued(content.strip()))
        if name == "glue:math":
            return f"${glued_latex(self.glued(content.strip()))}$"
        if name == "cite" or name.startswith("cite:"):
            return self.bibliography.cite(name, content)
        if name == "eq":
            number = self.equation_numbers.get(target.strip())
            return f"({number})" if number else f"({target.strip()})"
        if name == "math":
            return f"${content}$"
        if name in ("sub", "sup"):
            return f"<{name}>{content}</{name}>"
        if name.startswith("py:") or name in ("func", "class", "meth", "mod", "attr", "obj", "data", "exc"):
            return f"`{title or target.lstrip('~').strip()}`"
        if name == "doc":
            return title or target.rstrip("/").rsplit("/", 1)[-1].replace("-", " ")
        if name in ("ref", "numref", "term", "any", "download", "abbr", "keyword", "option", "envvar", "dfn"):
            return title or target.replace("-", " ")
        self.unknown.add(f"{{{name}}}")
        return title or content

    def inline(self, text: str) -> str:
        def replace(match: re.Match) -> str:
            if match.group("code"):
                return match.group("code")
            return self.role(match.group("role"), match.group("content"))
        return INLINE.sub(replace, text)

    # Blocks -----------------------------------------------------------------------------------------------

    @staticmethod
    def options_and_body(lines: list[str]) -> tuple[dict[str, str], list[str]]:
        """Split a directive's content into its options (``:key: value`` lines or a YAML block) and body."""
        options: dict[str, str] = {}
        index = 0
        if lines and lines[0].strip() == "---":
            end = next((i for i in range(1, len(lines)) if lines[i].strip() == "---"), 0)
            for line in lines[1:end]:
                key, _, value = line.partition(":")
                options[key.strip()] = value.strip()
            index = end + 1
        while index < len(lines) and re.match(r"^\s*:[\w-]+:", lines[index]):
            key, _, value = lines[index].strip()[1:].partition(":")
            options[key] = value.strip()
            index += 1
        return options, lines[index:]

    def directive(self, name: str, argument: str, content: list[str]) -> list[str]:
        options, body_lines = self.options_and_body(content)
        body = self.convert("\n".join(body_lines)).split("\n") if body_lines else []
        if name in DROPPED_DIRECTIVES or name.startswith("solution"):
            return []
        if name in CONTAINER_DIRECTIVES:
            return body
        if name in ("exercise", "exercise-start"):
            self.exercises += 1
            heading = f"### Exercise {self.exercise_prefix}{self.exercises}" + (
                f": {self.inline(argument)}" if argument else "")
            return [heading, "", *body]
        if name in ADMONITION_TITLES:
            title = self.inline(argument) if argument else ADMONITION_TITLES[name]
            quoted = ([f"**{title}**", ""] if title else []) + body
            return [f"> {line}".rstrip() for line in quoted]
        if name == "math":
            label = options.get("label")
            tag = [f"\\tag{{{self.equation_numbers[label]}}}"] if label in self.equation_numbers else []
            return ["$$", *body_lines, *tag, "$$"]
        if name in ("code-block", "code", "sourcecode", "code-cell"):
            return [f"```{argument}", *body_lines, "```"]
        if name in ("figure", "image"):
            alt = options.get("alt", "")
            caption = [f"*{line}*" if line.strip() else line for line in body]
            return [f"![{alt}]({argument})", "", *caption]
        if name in ("glue", "glue:", "glue:any", "glue:figure"):
            caption = [f"*{line}*" if line.strip() else line for line in body]
            return [glue_block(self.glued(argument), options.get("alt", argument)), "", *caption]
        if name == "glue:math":
            return ["$$", glued_latex(self.glued(argument)), "$$"]
        self.unknown.add(f"{{{name}}}")
        return body

    def convert(self, text: str) -> str:
        """Plain Markdown for one cell's MyST text."""
        lines = text.split("\n")
        converted: list[str] = []
        index = 0
        while index < len(lines):
            line = lines[index]
            match = FENCE_OPEN.match(line)
            if match:
                closing = closing_fence_index(lines, index, match.group("fence"))
                if match.group("name"):
                    converted += self.directive(match.group("name"), match.group("argument"),
                                                lines[index + 1:closing])
                else:
                    converted += lines[index:closing + 1]
                index = closing + 1
                continue
            if LABEL_TARGET.match(line) or line.lstrip().startswith("%") or line.strip() == "+++":
                index += 1
                continue
            labelled = DISPLAY_MATH_LABEL.match(line)
            if labelled and labelled.group("label") in self.equation_numbers:
                number = self.equation_numbers[labelled.group("label")]
                converted.append(f"{labelled.group('math')}\\tag{{{number}}} $$".lstrip())
            else:
                converted.append(self.inline(line))
            index += 1
        return "\n".join(converted)


def equation_labels(cells: list[NotebookNode]) -> list[str]:
    """Labels of numbered display equations in the order they appear (``$$ (label)`` and ``{math}`` ones)."""
    labels = []
    for cell in cells:
        if cell.cell_type != "markdown":
            continue
        in_math_directive = False
        for line in cell.source.split("\n"):
            match = FENCE_OPEN.match(line)
            if match and match.group("name") == "math":
                in_math_directive = True
                continue
            option = re.match(r"^\s*:label:\s*(\S+)", line)
            if in_math_directive and option:
                labels.append(option.group(1))
            in_math_directive = in_math_directive and line.strip().startswith(":")
            labelled = DISPLAY_MATH_LABEL.match(line)
            if labelled:
                labels.append(labelled.group("label"))
    return labels


def is_glue_only(output: Mapping) -> bool:
    data = output.get("data", {})
    return bool(data) and all(mime.startswith(GLUE_MIME_PREFIX) for mime in data)


class MystMarkdownPreprocessor(Preprocessor):
    """nbconvert preprocessor: MyST markdown to plain Markdown, solutions removed (see the module docstring).

    Run it on an executed notebook: glued values are read from its outputs (and from ``glue`` when given).
    """

    bibliography_path = Unicode("", help="BibTeX file for {cite} roles").tag(config=True)
    glue = Dict(help="extra glued values by key, each a mime bundle").tag(config=True)
    chapter_number = Integer(None, allow_none=True, help="the chapter's number in the book, for Exercise 2.1; "
                             "by default the book's number of notebooks/<name>, the name in the resources' "
                             "metadata").tag(config=True)

    def preprocess(self, nb: NotebookNode, resources: dict) -> tuple[NotebookNode, dict]:
        glue = {**glue_outputs(nb), **self.glue}
        bibliography = Bibliography(Path(self.bibliography_path))
        cells = strip_solutions(nb.cells, keep_code=False)
        chapter_number = self.chapter_number
        if chapter_number is None and (ROOT / "_toc.yml").exists():
            name = resources.get("metadata", {}).get("name", "")
            chapter_number = chapter_numbers(ROOT).get(f"notebooks/{name}")
        converter = MarkdownConverter(glue, bibliography, equation_labels(cells), chapter_number)
        for cell in cells:
            if cell.cell_type == "markdown":
                cell.source = converter.convert(cell.source)
            elif cell.cell_type == "code":
                cell.outputs = [output for output in cell.get("outputs", []) if not is_glue_only(output)]
        if bibliography.cited:
            references = "\n".join(f"- {bibliography.reference(key)}" for key in bibliography.cited)
            cells.append(new_markdown_cell(f"## References\n\n{references}",
                                           metadata={"slideshow": {"slide_type": "slide"}}))
        nb.cells = cells
        resources.setdefault("myst", {})["unknown_syntax"] = sorted(converter.unknown)
        return nb, resources


def convert_text(text: str, glue: Mapping[str, Mapping[str, object]] | None = None,
                 bibliography: Path | None = None) -> str:
    """Plain Markdown for one piece of MyST text (no equation numbers, exercises numbered from 1)."""
    return MarkdownConverter(glue or {}, Bibliography(bibliography or Path("missing.bib")), []).convert(text)
