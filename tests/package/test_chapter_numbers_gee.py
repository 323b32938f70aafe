"""The numbers of Part VI (``notebooks/06-gee.ipynb``) and its R-to-Python appendix, pinned against R.

Every number the lecture prints in its Part VI is recomputed with mlmtools the way the notebook
computes it and compared, at the lecture's rounding, with R's full-precision value from
``tests/fixtures/seed-reference.json`` (R 4.2.2, geepack 1.3.9, lme4 1.1-31, broom.mixed): the
keys ``gee_independence``, ``gee_exchangeable``, ``gee_ar1``, ``gee_unstructured_coef`` and
``tidy_m2_fixed``. The printed GEE summary is compared as text with R's printout
(``tests/fixtures/gee_summary_sleepstudy_exchangeable.txt``).

The stored notebook is checked too: its printed tables and the numbers glued into its prose
must show R's values at the same rounding, so a stale or hand-edited output fails here.
Finally, every Python name in the appendix table ``book/r-to-python.md`` must resolve.
"""

from __future__ import annotations

import ast
import importlib
import json
from pathlib import Path
from typing import Any

import pytest
from markdown_it import MarkdownIt

from mlmtools.gee import geeglm
from mlmtools.rstyle import format_number, format_rounded
from mlmtools import tidy

ROOT = Path(__file__).resolve().parents[2]
FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"
NOTEBOOK = ROOT / "notebooks" / "06-gee.ipynb"
APPENDIX = ROOT / "book" / "r-to-python.md"

STRUCTURES = {"Independence": "independence", "Exchangeable": "exchangeable", "AR(1)": "ar1"}
"""The lecture's labels of the working correlations and geeglm's ``corstr`` names."""

LECTURE_R_CALLS = ("set.seed(", "rnorm(", "lm(", "aov(", "lmer(", "summary(", "VarCorr(",
                   "as.data.frame(VarCorr(", "fixef(", "ranef(", "anova(", "tidy(", "predict(",
                   "geeglm(")
"""The R calls of the lecture that the appendix must translate."""


def by_row(records: list[dict[str, Any]], key: str = "_row") -> dict[str, dict[str, Any]]:
    return {record[key]: record for record in records}


# ---------------------------------------------------------------- fits, as the chapter makes them


@pytest.fixture(scope="module")
def gee_fits(sleepstudy) -> dict:
    fits = {corstr: geeglm("Reaction ~ Days", sleepstudy, id="Subject", corstr=corstr,
                           data_name="sleepstudy")
            for corstr in (*STRUCTURES.values(), "unstructured")}
    return fits


@pytest.fixture(scope="module")
def notebook() -> dict:
    return json.loads(NOTEBOOK.read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def stored_text(notebook) -> str:
    """Everything the stored notebook printed to stdout, in cell order."""
    return "".join("".join(output["text"]) for cell in notebook["cells"]
                   for output in cell.get("outputs", []) if output["output_type"] == "stream")


@pytest.fixture(scope="module")
def glued(notebook) -> dict[str, str]:
    """The values the stored notebook glued into its prose, by glue name."""
    values = {}
    for cell in notebook["cells"]:
        for output in cell.get("outputs", []):
            record = output.get("data", {}).get("application/papermill.record/text/plain")
            if record is not None:
                values[output["metadata"]["scrapbook"]["name"]] = ast.literal_eval(record)
    return values


def printed_line(text: str, *words: str) -> list[str]:
    """The fields of the one printed line that contains all ``words``."""
    lines = [line for line in text.splitlines() if all(word in line for word in words)]
    assert len(lines) == 1, f"expected one printed line with {words}, found {lines}"
    return lines[0].split()


# ---------------------------------------------------------------- the package at the lecture's rounding


def test_summary_prints_as_the_lecture(gee_fits):
    expected = (FIXTURES / "gee_summary_sleepstudy_exchangeable.txt").read_text(encoding="utf-8")
    assert str(gee_fits["exchangeable"].summary()) == expected


@pytest.mark.parametrize("corstr", list(STRUCTURES.values()))
def test_coefficients_at_summary_rounding(gee_fits, seed_reference, corstr):
    reference = seed_reference[f"gee_{corstr}"]
    table = gee_fits[corstr].summary().coefficients
    for term, row in by_row(reference["coef"]).items():
        assert format_rounded(table.loc[term, "Estimate"], 3) == format_rounded(row["Estimate"], 3)
        assert format_rounded(table.loc[term, "Std.err"], 3) == format_rounded(row["Std.err"], 3)
        assert format_rounded(table.loc[term, "Wald"], 2) == format_rounded(row["Wald"], 2)
        assert format_number(table.loc[term, "Pr(>|W|)"], 3) == format_number(row["Pr(>|W|)"], 3)
    fit = gee_fits[corstr]
    assert format_number(fit.scale, 4) == format_number(reference["scale"][0]["Estimate"], 4)
    assert format_number(fit.scale_se, 4) == format_number(reference["scale"][0]["Std.err"], 4)
    assert [format_number(a, 3) for a in fit.alpha] == [format_number(r["Estimate"], 3)
                                                        for r in reference["corr"]]
    assert [format_number(s, 4) for s in fit.alpha_se] == [format_number(r["Std.err"], 4)
                                                           for r in reference["corr"]]


def test_mixed_versus_gee_table(sleep_models, gee_fits, seed_reference):
    mixed = tidy(sleep_models["m2"], effects="fixed").set_index("term")
    gee = tidy(gee_fits["exchangeable"]).set_index("term")
    r_mixed = by_row(seed_reference["tidy_m2_fixed"], key="term")
    r_gee = by_row(seed_reference["gee_exchangeable"]["coef"])
    pairs = []
    for term in ("(Intercept)", "Days"):
        pairs += [(mixed.loc[term, "estimate"], r_mixed[term]["estimate"]),
                  (mixed.loc[term, "std_error"], r_mixed[term]["std.error"]),
                  (gee.loc[term, "estimate"], r_gee[term]["Estimate"]),
                  (gee.loc[term, "std_error"], r_gee[term]["Std.err"])]
    for ours, theirs in pairs:  # the chapter's table shows two decimals, trailing zeros kept
        assert format_rounded(ours, 2, nsmall=True) == format_rounded(theirs, 2, nsmall=True)


@pytest.mark.parametrize("corstr", list(STRUCTURES.values()))
def test_days_across_structures(gee_fits, seed_reference, corstr):
    days = tidy(gee_fits[corstr]).set_index("term").loc["Days"]
    reference = by_row(seed_reference[f"gee_{corstr}"]["coef"])["Days"]
    assert format_rounded(days["estimate"], 2) == format_rounded(reference["Estimate"], 2)
    assert format_rounded(days["std_error"], 3) == format_rounded(reference["Std.err"], 3)
    assert format_rounded(days["p_value"], 3) == format_rounded(reference["Pr(>|W|)"], 3) == "0"


def test_unstructured_exercise(gee_fits, seed_reference):
    fit = gee_fits["unstructured"]
    for term, row in by_row(seed_reference["gee_unstructured_coef"]).items():
        assert fit.coefficients[term] == pytest.approx(row["Estimate"], rel=1e-6)
        assert fit.std_errors[term] == pytest.approx(row["Std.err"], rel=1e-6)
    assert len(fit.alpha) == 10 * 9 // 2


# ---------------------------------------------------------------- the stored notebook


def test_notebook_prints_the_lecture_summary(stored_text):
    expected = (FIXTURES / "gee_summary_sleepstudy_exchangeable.txt").read_text(encoding="utf-8")
    assert expected in stored_text


def test_notebook_comparison_table(stored_text, seed_reference):
    r_mixed = by_row(seed_reference["tidy_m2_fixed"], key="term")
    r_gee = by_row(seed_reference["gee_exchangeable"]["coef"])
    for term in ("(Intercept)", "Days"):
        mixed_fields = printed_line(stored_text, f" {term} ", "Mixed Model (lmer)")
        assert mixed_fields[2:4] == [format_rounded(r_mixed[term]["estimate"], 2, nsmall=True),
                                     format_rounded(r_mixed[term]["std.error"], 2, nsmall=True)]
        gee_fields = printed_line(stored_text, f" {term} ", "GEE (exchangeable)")
        assert gee_fields[2:4] == [format_rounded(r_gee[term]["Estimate"], 2, nsmall=True),
                                   format_rounded(r_gee[term]["Std.err"], 2, nsmall=True)]


def test_notebook_structure_table(stored_text, seed_reference):
    for label, corstr in STRUCTURES.items():
        reference = by_row(seed_reference[f"gee_{corstr}"]["coef"])["Days"]
        fields = printed_line(stored_text, f" {label} ")
        assert fields[2:] == [format_rounded(reference["Estimate"], 2),
                              format_rounded(reference["Std.err"], 3),
                              format_rounded(reference["Pr(>|W|)"], 3)]


def test_glued_prose_numbers_match_r(glued, seed_reference):
    exchangeable = seed_reference["gee_exchangeable"]
    days = by_row(exchangeable["coef"])["Days"]
    ar1 = seed_reference["gee_ar1"]
    unstructured = by_row(seed_reference["gee_unstructured_coef"])["Days"]
    mixed = by_row(seed_reference["tidy_m2_fixed"], key="term")
    expected = {
        "gee_intercept": format_rounded(by_row(exchangeable["coef"])["(Intercept)"]["Estimate"], 3),
        "gee_days": format_rounded(days["Estimate"], 3),
        "gee_days_se": format_rounded(days["Std.err"], 3),
        "gee_days_wald": format_rounded(days["Wald"], 2),
        "gee_days_p": format_number(days["Pr(>|W|)"], 3),
        "gee_scale": format_number(exchangeable["scale"][0]["Estimate"], 4),
        "gee_scale_se": format_number(exchangeable["scale"][0]["Std.err"], 4),
        "gee_alpha": format_number(exchangeable["corr"][0]["Estimate"], 3),
        "gee_alpha_se": format_number(exchangeable["corr"][0]["Std.err"], 4),
        "mixed_se_intercept": format_rounded(mixed["(Intercept)"]["std.error"], 2, nsmall=True),
        "mixed_se_days": format_rounded(mixed["Days"]["std.error"], 2, nsmall=True),
        "gee_se_days": format_rounded(days["Std.err"], 2, nsmall=True),
        "common_days": format_rounded(mixed["Days"]["estimate"], 2, nsmall=True),
        "ar1_days_se": format_rounded(by_row(ar1["coef"])["Days"]["Std.err"], 3),
        "ar1_intercept": format_rounded(by_row(ar1["coef"])["(Intercept)"]["Estimate"], 2),
        "ar1_alpha": format_number(ar1["corr"][0]["Estimate"], 3),
        "un_days": format_rounded(unstructured["Estimate"], 2),
        "un_days_se": format_rounded(unstructured["Std.err"], 2),
    }
    assert {name: glued.get(name) for name in expected} == expected


def test_notebook_follows_the_house_style(notebook):
    cells = notebook["cells"]
    assert "".join(cells[0]["source"]).startswith("(gee)=\n# Part VI: Generalized estimating equations")
    assert "remove-cell" in cells[1]["metadata"].get("tags", [])
    for cell in cells:
        assert "slideshow" in cell["metadata"]
        if any("image/png" in output.get("data", {}) for output in cell.get("outputs", [])):
            assert cell["metadata"]["mystnb"]["image"]["alt"].strip()
    solutions = [cell for cell in cells if "solution" in cell["metadata"].get("tags", [])]
    assert 2 <= len(solutions) <= 4
    assert all(cell["outputs"] for cell in solutions)


# ---------------------------------------------------------------- the R-to-Python appendix


def appendix_rows() -> list[list[list[str]]]:
    """The appendix table's body rows; each cell is the list of its code spans."""
    tokens = MarkdownIt("commonmark").enable("table").parse(APPENDIX.read_text(encoding="utf-8"))
    rows, current, in_body = [], None, False
    for token in tokens:
        if token.type in ("tbody_open", "tbody_close"):
            in_body = token.type == "tbody_open"
        elif token.type == "tr_open" and in_body:
            current = []
        elif token.type == "inline" and current is not None:
            current.append([child.content for child in token.children if child.type == "code_inline"])
        elif token.type == "tr_close" and current is not None:
            rows.append(current)
            current = None
    return rows


def resolve(dotted: str) -> Any:
    """The object a dotted name refers to: the longest importable module, then attributes."""
    parts = dotted.split(".")
    for split in range(len(parts), 0, -1):
        try:
            target = importlib.import_module(".".join(parts[:split]))
        except ImportError:
            continue
        for attribute in parts[split:]:
            target = getattr(target, attribute)
        return target
    raise ImportError(f"no importable module in {dotted!r}")


def test_appendix_python_names_resolve():
    names = [name for row in appendix_rows() for name in row[1]]
    assert names, "the appendix table has no Python names"
    unresolved = []
    for name in names:
        try:
            resolve(name)
        except (ImportError, AttributeError):
            unresolved.append(name)
    assert unresolved == []


def test_appendix_covers_the_lecture_calls():
    r_spans = [span for row in appendix_rows() for span in row[0]]
    missing = [call for call in LECTURE_R_CALLS if not any(span.startswith(call) for span in r_spans)]
    assert missing == []
