"""Review fixes in Part VI (``notebooks/06-gee.ipynb``), checked on the stored notebooks.

The chapter's prose must credit the sleep-study data to the parts that use them, write the
variance components in the book's notation, keep its bookkeeping (``glue``) out of the code a
reader sees, and end with a summary, further reading from the bibliography and exercises marked
by difficulty.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
NOTEBOOKS = ROOT / "notebooks"
ROMAN = {"I": 1, "II": 2, "III": 3, "IV": 4, "V": 5, "VI": 6, "VII": 7}
PART_REFERENCE = re.compile(r"\bParts? ((?:[IVX]+)(?:(?:, | and | or )[IVX]+)*)\b")


def load_notebook(name: str) -> dict:
    """The stored notebook ``notebooks/<name>.ipynb`` as JSON."""
    return json.loads((NOTEBOOKS / f"{name}.ipynb").read_text(encoding="utf-8"))


def sources(notebook: dict, cell_type: str) -> list[str]:
    return ["".join(cell["source"]) for cell in notebook["cells"] if cell["cell_type"] == cell_type]


def parts_near_sleep(text: str, reach: int = 150) -> list[tuple[str, set[int]]]:
    """For each mention of sleep in ``text``, the nearest part reference within ``reach`` characters
    ("Part V", "Parts IV and V", "{ref}`Part V <...>`"), with its context and the part numbers it names."""
    text = " ".join(text.split())
    found = []
    for mention in re.finditer(r"sleep", text, re.I):
        nearby = [match for match in PART_REFERENCE.finditer(text)
                  if min(abs(match.start() - mention.start()), abs(match.end() - mention.start())) <= reach]
        if nearby:
            nearest = min(nearby, key=lambda match: min(abs(match.start() - mention.start()),
                                                        abs(match.end() - mention.start())))
            context = text[max(0, mention.start() - 60):mention.end() + 60]
            found.append((context, parts_named(nearest.group(0))))
    return found


def parts_named(sentence: str) -> set[int]:
    """The part numbers a sentence names: "Part V", "Parts IV and V", "{ref}`Part V <...>`"."""
    return {ROMAN[numeral] for match in PART_REFERENCE.finditer(sentence)
            for numeral in re.split(r", | and | or ", match.group(1))}


def notebook_numbered(number: int) -> dict:
    (path,) = NOTEBOOKS.glob(f"{number:02d}-*.ipynb")
    return json.loads(path.read_text(encoding="utf-8"))


def loads_sleepstudy(notebook: dict) -> bool:
    return any("sleepstudy()" in source for source in sources(notebook, "code"))


@pytest.fixture(scope="module")
def part_six() -> dict:
    return load_notebook("06-gee")


def test_the_helpers_read_part_references() -> None:
    assert parts_named("the data of Parts IV and V, not Part VII") == {4, 5, 7}
    assert parts_named("see {ref}`Part V <estimating-mixed-models>`.") == {5}
    assert parts_named("no reference here") == set()
    old_wording = "We return to the sleep-deprivation data of Parts IV and V: 18 subjects"
    assert [numbers for _, numbers in parts_near_sleep(old_wording)] == [{4, 5}]


def test_sleep_study_is_credited_only_to_parts_that_use_it(part_six: dict) -> None:
    """Part IV simulates its data; only Part V (and Part VI itself) load the sleep study."""
    credited = [found for text in sources(part_six, "markdown") for found in parts_near_sleep(text)]
    assert credited, "the chapter says where the sleep-study data were met before"
    wrong = [(context, number) for context, numbers in credited for number in numbers
             if not loads_sleepstudy(notebook_numbered(number))]
    assert not wrong, f"sentences crediting the sleep study to parts that do not use it: {wrong}"


def test_variance_components_follow_the_notation_page(part_six: dict) -> None:
    markdown = "\n".join(sources(part_six, "markdown"))
    assert "<notation>`" in markdown, "the chapter links to the notation page"
    assert "\\tau" not in markdown, "the book writes sigma^2_u, not tau_00"
    assert "\\sigma^2_u" in markdown and "\\sigma^2_e" in markdown
    assert "\\sigma_u^2" not in markdown, "the book writes sigma^2_u"


def test_glue_calls_are_bookkeeping(part_six: dict) -> None:
    visible = [
        "".join(cell["source"]) for cell in part_six["cells"] if cell["cell_type"] == "code"
        and not {"bookkeeping", "remove-cell"} <= set(cell["metadata"].get("tags", []))
    ]
    assert not [source for source in visible if re.search(r"\bglue\(|format_rounded\(", source)]


def test_summary_further_reading_and_marked_exercises(part_six: dict) -> None:
    markdown = sources(part_six, "markdown")
    headings = [line for text in markdown for line in text.splitlines() if line.startswith("## ")]
    for heading in ("## Summary", "## Further reading", "## Exercises"):
        assert heading in headings
    assert headings.index("## Summary") < headings.index("## Further reading") < headings.index("## Exercises")
    bibliography = (ROOT / "book" / "references.bib").read_text(encoding="utf-8")
    keys = set(re.findall(r"^@\w+\{([^,]+),", bibliography, re.M))
    (reading,) = [text for text in markdown if text.startswith("## Further reading")]
    cited = {key.strip() for group in re.findall(r"\{cite:[pt]\}`([^`]+)`", reading) for key in group.split(",")}
    assert len(cited) >= 3 and cited <= keys
    titles = [match.group(1) for text in markdown
              for match in re.finditer(r"\{exercise-start\}(.*)", text)]
    assert len(titles) >= 3
    assert all(re.search(r"\((★|☆){3}\)$", title.strip()) for title in titles), titles
