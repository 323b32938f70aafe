"""lmerTest's ANOVA tables of models whose factors are not treatment-coded (``anova_type3_contrasts.json``,
made by ``r/make_anova_type3_contrasts.R``): contr.sum, contr.helmert, an ordered factor's contr.poly and
contr.treatment with base 2. lmerTest builds type III hypotheses in treatment coding and maps them to the
coding in use; types I and II are computed in the coding in use. Least-squares means (Satterthwaite) do not
depend on the coding either."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from conftest import FIXTURES, read_case_data

from mlmtools.frame.contrasts import contr_treatment
from mlmtools.inference import anova, ls_means
from mlmtools.lmm import lmer

CASES = json.loads((FIXTURES / "anova_type3_contrasts.json").read_text(encoding="utf-8"))["cases"]
CAKE = "angle ~ recipe * temperature + (1 | recipe:replicate)"
UNBALANCED = "y ~ trt * x + sex + (1 | g)"
#: Each case of the fixture as a Python call: formula, data file, contrasts=, whether temperature is ordered.
CALLS = {
    "cake_sum": (CAKE, {"recipe": "contr.sum", "temperature": "contr.sum"}, False),
    "cake_helmert_mixed": (CAKE, {"recipe": "contr.helmert"}, False),
    "cake_ordered": (CAKE, None, True),
    "unbalanced_sum": (UNBALANCED, {"trt": "contr.sum", "sex": "contr.sum"}, False),
    "unbalanced_base": ("y ~ trt * sex + x + (1 | g)",
                        {"trt": contr_treatment(3, base=2).set_axis(["ctl", "drugA", "drugB"])}, False),
}
DDF = {"satterthwaite": "satterthwaite", "kenward_roger": "Kenward-Roger"}


@pytest.fixture(scope="module")
def fits() -> dict:
    out = {}
    for name, (formula, contrasts, ordered) in CALLS.items():
        data = read_case_data(CASES[name]["data"], ("temperature",))
        if ordered:
            levels = sorted(data["temperature"].unique(), key=int)
            data = data.assign(temperature=pd.Categorical(data["temperature"], levels, ordered=True))
        out[name] = lmer(formula, data, contrasts=contrasts)
    return out


def test_calls_are_the_fixtures(fits):
    for name, fit in fits.items():
        expected = CASES[name]["fixef"]
        assert list(fit.fixef.index) == list(expected)
        np.testing.assert_allclose(fit.fixef.to_numpy(dtype=float), np.array(list(expected.values()), dtype=float),
                                   rtol=1e-6)


@pytest.mark.parametrize("name", list(CALLS))
@pytest.mark.parametrize("type", [1, 2, 3])
@pytest.mark.parametrize("method", DDF)
def test_anova_matches_lmertest_in_every_coding(fits, name, type, method):
    entry = CASES[name]["anova"][f"type{type}_{method}"]
    assert entry["warnings"] == [] and entry["messages"] == []
    table = anova(fits[name], type=type, ddf=DDF[method]).table
    assert list(table.index) == entry["table"]["rownames"]
    assert list(table.columns) == list(entry["table"]["columns"])
    expected = np.array([entry["table"]["columns"][c] for c in table.columns], dtype=float).T
    np.testing.assert_allclose(table.to_numpy(dtype=float), expected, rtol=1e-6)


def test_type3_does_not_depend_on_the_coding(fits):
    """The type III hypotheses are the same in every coding: sum and helmert coding of cake give the
    treatment-coded fit's table."""
    treatment = lmer(CAKE, read_case_data("data_cake.csv", ("temperature",)))
    reference = anova(treatment, type=3).table
    for name in ("cake_sum", "cake_helmert_mixed", "cake_ordered"):
        np.testing.assert_allclose(anova(fits[name], type=3).table.to_numpy(dtype=float),
                                   reference.to_numpy(dtype=float), rtol=1e-6)


@pytest.mark.parametrize("name", list(CALLS))
def test_least_squares_means_match_lmertest_in_every_coding(fits, name):
    entry = CASES[name]["ls_means"]
    assert entry["warnings"] == [] and entry["messages"] == []
    table = ls_means(fits[name]).table
    expected = entry["table"]
    assert list(table.index) == expected["rownames"]
    numbers = [column for column in expected["columns"] if column not in ("term", "levels")]
    assert list(table.columns) == numbers
    # p-values far in the tail (down to 1e-29) magnify the df's relative error (1e-8): measured 2.2e-6
    for column in numbers:
        np.testing.assert_allclose(table[column].to_numpy(dtype=float), np.array(expected["columns"][column], float),
                                   rtol=1e-4 if column == "Pr(>|t|)" else 1e-6, err_msg=column)
