"""lmerTest's tables against R: anova of type 1/2/3, drop1, ranova, ls_means, difflsmeans and
contest with Satterthwaite's and Kenward-Roger's df, pbkrtest's adjusted covariance, and the
printed layouts (``lmertest_tables.json``, made by ``r/make_lmertest_tables.R``)."""

from __future__ import annotations

import json
import re
import warnings

import numpy as np
import pandas as pd
import pytest
from conftest import FIXTURES, read_case_data

from mlmtools.inference import anova, contest, difflsmeans, drop1, ls_means, ranova
from mlmtools.inference.contrasts import contest_md
from mlmtools.lmm import lmer
from mlmtools.rstyle.lmertest_tables import (
    FixedEffectsAnova,
    LeastSquaresMeans,
    RandomEffectsAnova,
    SingleTermDeletions,
)

TABLES = json.loads((FIXTURES / "lmertest_tables.json").read_text(encoding="utf-8"))["cases"]
CASES = list(TABLES)
DDF = {"satterthwaite": "satterthwaite", "kenward_roger": "Kenward-Roger"}
TEXT_COLUMNS = ("Subject", "temperature")  # text in R (temperature: treatment contrasts, not numbers)


def read_lmertest_data(filename: str) -> pd.DataFrame:
    return read_case_data(filename, TEXT_COLUMNS)


@pytest.fixture(scope="module")
def fits() -> dict:
    out = {}
    for name, case in TABLES.items():
        formula = re.fullmatch(r"lmer\((.*), data = d\)", case["call"]).group(1)
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            out[name] = lmer(formula, read_lmertest_data(case["data"]), data_name="d")
    return out


def r_frame(entry: dict, columns) -> np.ndarray:
    return np.array([[np.nan if v is None else v for v in entry["columns"][c]] for c in columns], float).T


def assert_table(ours: pd.DataFrame, entry: dict, rtol: float, floor: float = 1e-300) -> float:
    """Row names, column names and every number; returns the largest relative difference."""
    assert list(ours.index) == entry["rownames"]
    assert list(ours.columns) == list(entry["columns"])
    values, expected = ours.to_numpy(dtype=float), r_frame(entry, ours.columns)
    np.testing.assert_array_equal(np.isnan(values), np.isnan(expected))
    if not values.size:
        return 0.0
    relative = np.abs(values - expected) / np.maximum(np.abs(expected), floor)
    worst = float(np.nanmax(relative))
    assert worst < rtol
    return worst


# -- Kenward-Roger: adjusted covariance and the coefficient table -------------------------------

@pytest.mark.parametrize("name", CASES)
def test_adjusted_covariance_is_pbkrtest_vcovadj(fits, name):
    expected = np.array(TABLES[name]["vcov_kenward_roger"]["values"])
    ours = fits[name].kenward_roger().vcov_adjusted
    np.testing.assert_allclose(ours, expected, rtol=0, atol=1e-9 * np.abs(expected).max())


@pytest.mark.parametrize("name", CASES)
@pytest.mark.parametrize("method", DDF)
def test_coefficient_table_matches_lmertest_summary(fits, name, method):
    table = fits[name].coef_table(DDF[method])
    entry = TABLES[name]["coefficients"][method]
    assert list(table.index) == entry["rownames"] and list(table.columns) == entry["colnames"]
    np.testing.assert_allclose(table.to_numpy(), np.array(entry["values"]), rtol=1e-6)


def test_summary_names_kenward_roger(fits):
    text = str(fits["orthodont_interaction"].summary(ddf="Kenward-Roger"))
    assert text.startswith("Linear mixed model fit by REML. t-tests use Kenward-Roger's method [\n"
                           "lmerModLmerTest]\n")
    assert "age:SexMale   0.3048     0.1347 25.0000   2.263   0.0326 *" in text


def test_kenward_roger_needs_a_reml_fit(fits, sleepstudy):
    ml = lmer("Reaction ~ Days + (Days | Subject)", sleepstudy, REML=False)
    with pytest.raises(ValueError, match="only available for REML"):
        ml.coef_table("kenward-roger")


def test_kenward_roger_refuses_prior_weights(sleepstudy):
    weighted = lmer("Reaction ~ Days + (1 | Subject)", sleepstudy.assign(w=1.0 + sleepstudy["Days"] / 10),
                    weights="w")
    with pytest.raises(ValueError, match="prior weights"):
        weighted.kenward_roger()


# -- ANOVA tables, drop1 ---------------------------------------------------------------------------

@pytest.mark.parametrize("name", CASES)
@pytest.mark.parametrize("type", [1, 2, 3])
@pytest.mark.parametrize("method", DDF)
def test_anova_table_matches_lmertest(fits, name, type, method):
    result = anova(fits[name], type=type, ddf=DDF[method])
    assert isinstance(result, FixedEffectsAnova) and result.type == type
    entry = TABLES[name]["anova"][f"type{type}_{method}"]
    assert entry["warnings"] == [] and entry["messages"] == []
    assert_table(result.table, entry["table"], rtol=1e-6)


def test_anova_type_accepts_roman_numerals(fits):
    fit = fits["unbalanced_factor_covariate"]
    pd.testing.assert_frame_equal(anova(fit, type="II").table, anova(fit, type=2).table)
    with pytest.raises(ValueError, match="type must be 1, 2 or 3"):
        anova(fit, type=4)


@pytest.mark.parametrize("name", CASES)
@pytest.mark.parametrize("method", DDF)
def test_drop1_matches_lmertest(fits, name, method):
    result = drop1(fits[name], ddf=DDF[method])
    assert isinstance(result, SingleTermDeletions)
    assert_table(result.table, TABLES[name]["drop1"][method]["table"], rtol=1e-6)


# -- ranova ----------------------------------------------------------------------------------------

@pytest.mark.parametrize("name", CASES)
@pytest.mark.parametrize(("key", "reduce_terms"), [("ranova", True), ("ranova_whole_terms", False)])
def test_ranova_matches_lmertest(fits, name, key, reduce_terms):
    result = ranova(fits[name], reduce_terms=reduce_terms)
    assert isinstance(result, RandomEffectsAnova)
    assert_table(result.table, TABLES[name][key]["table"], rtol=1e-7)


EXTRAS = json.loads((FIXTURES / "lmertest_extras.json").read_text(encoding="utf-8"))["ranova"]


@pytest.mark.parametrize("name", list(EXTRAS))
def test_ranova_reduction_rules_match_lmertest(name):
    """The terms of ||, a (0 + x | g) term (reduced to (1 | g)) beside another grouping factor, two
    slopes without an intercept (reduced to (z - 1 | g)): the reduced models' formulas as lmerTest
    writes them, their log-likelihoods, and the printed table."""
    case = EXTRAS[name]
    data = read_lmertest_data("data_orthodont.csv" if "distance" in case["call"] else "data_sleepstudy.csv")
    fit = lmer(re.fullmatch(r"lmer\((.*), data = d\)", case["call"]).group(1), data)
    result = ranova(fit)
    assert result.formulas == case["formulas"]
    expected = case["table"]
    if case["fit_warnings"]:
        # lme4 stops short on this model (its gradient check fails); our fit goes on to a lower
        # criterion, so only the reduced models, which both fit alike, are compared number for number
        assert case["fit_warnings"][0].startswith("Model failed to converge")
        assert fit.reml_criterion < case["REMLcrit"]
        np.testing.assert_allclose(result.table["logLik"].to_numpy()[1:], expected["columns"]["logLik"][1:],
                                   rtol=1e-8)
    else:
        assert_table(result.table, expected, rtol=1e-7)
        assert str(result).splitlines() == case["printed"]


# -- least-squares means ---------------------------------------------------------------------------

@pytest.mark.parametrize("name", CASES)
@pytest.mark.parametrize("method", DDF)
@pytest.mark.parametrize("key", ["ls_means", "difflsmeans"])
def test_least_squares_means_match_lmertest(fits, name, method, key):
    function = ls_means if key == "ls_means" else difflsmeans
    result = function(fits[name], ddf=DDF[method])
    assert isinstance(result, LeastSquaresMeans)
    # a difference of two equal cell means is 0 up to rounding: compare it on the scale of 1e-6
    assert_table(result.table, TABLES[name][key][method], rtol=1e-6, floor=1e-6)
    for term, matrix in TABLES[name][key]["hypotheses"].items():
        ours = result.contrasts[term]
        assert list(ours.index) == matrix["rownames"] and list(ours.columns) == matrix["colnames"]
        np.testing.assert_allclose(ours.to_numpy(), np.array(matrix["values"]), atol=1e-12)


def test_least_squares_means_refuse_what_is_not_a_factor_term(fits):
    with pytest.raises(ValueError, match="'age' is not a factor term"):
        ls_means(fits["orthodont_interaction"], which=["age"])
    with pytest.raises(ValueError, match="ddf must be one of"):
        ls_means(fits["orthodont_interaction"], ddf="residual")


# -- contest ---------------------------------------------------------------------------------------

@pytest.mark.parametrize("name", CASES)
@pytest.mark.parametrize("method", DDF)
def test_contest_matches_lmertest(fits, name, method):
    entry = TABLES[name]["contest"]
    L = pd.DataFrame(entry["L"]["values"], columns=entry["L"]["colnames"])
    per_row = contest(fits[name], L, ddf=DDF[method], joint=False)
    assert_table(per_row, {**entry["per_row"][method], "rownames": list(per_row.index)}, rtol=1e-6)
    # lmerTest's contest(joint = TRUE) is the F test even for one row (ours gives the t test there)
    joint = contest_md(fits[name], L.to_numpy(), ddf=DDF[method])
    joint.index = entry["joint"][method]["rownames"]
    assert_table(joint, entry["joint"][method], rtol=1e-6)


# -- printed tables --------------------------------------------------------------------------------

@pytest.mark.parametrize("name", CASES)
@pytest.mark.parametrize(("key", "table"), [("anova_type1", lambda fit: anova(fit, type=1)),
                                            ("ranova", ranova), ("ls_means", ls_means)])
def test_printed_as_lmertest_prints(fits, name, key, table):
    expected = [line.replace("\u2018", "'").replace("\u2019", "'") for line in TABLES[name]["printed"][key]]
    assert str(table(fits[name])).splitlines() == expected
