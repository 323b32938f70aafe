"""Formula transforms as R evaluates them: log10/log2/log1p/log(x, base), comparisons in I(),
poly() (orthogonal and raw), splines' ns() and bs(), and their bases on new data.

R's numbers: ``contrasts_formulas.json`` (``r/make_contrasts_formulas.R``: the sleep study, and the
bases themselves with their knots) and ``formula_extras.json`` (``r/make_formula_extras.R``: named
arguments, knots and boundary knots, bases of degree 2, predictions beyond the boundary knots on
both sides).
"""

from __future__ import annotations

import re

import numpy as np
import pandas as pd
import pytest

from mlmtools.exceptions import MissingRowsWarning, RankDeficiencyWarning
from mlmtools.formula import parse_formula
from mlmtools.frame import build_model
from mlmtools.frame.evaluation import Evaluator
from mlmtools.frame.splines import interior_probabilities, learn_spline, r_quantile
from mlmtools.lmm import lmer

SLEEP_CASES = {
    "log10_log2": "log10(Reaction) ~ log2(Days + 1) + (1 | Subject)",
    "log1p": "Reaction ~ log1p(Days) + (1 | Subject)",
    "comparison_in_I": "Reaction ~ I(Days > 4) + (1 | Subject)",
    "poly_raw": "Reaction ~ poly(Days, 2, raw = TRUE) + (1 | Subject)",
    "poly_orthogonal": "Reaction ~ poly(Days, 3) + (1 | Subject)",
    "natural_spline": "Reaction ~ ns(Days, df = 3) + (1 | Subject)",
    "b_spline": "Reaction ~ bs(Days, df = 4) + (1 | Subject)",
}
EXTRA_CASES = ["comparisons_and_log_base", "ns_options", "bs_degree2", "poly_named", "poly_raw_named",
               "factor_of_comparison"]
#: How each basis of contrasts_formulas.json was made: kind, df, knots, degree, intercept.
BASES = {"ns_df3": ("ns", 3, None, 3, False), "ns_df5_intercept": ("ns", 5, None, 3, True),
         "ns_knots": ("ns", None, [2.0, 5.0], 3, False), "bs_df4": ("bs", 4, None, 3, False),
         "bs_df6_degree2": ("bs", 6, None, 2, False), "ns_cake_temp": ("ns", 3, None, 3, False)}


def check_against_r(fit, case, newdata, rtol: float) -> None:
    frame = fit.state.frame
    assert list(frame.fixed_names) == case["X_colnames"]
    rows = np.array(case["X_first_rows"]["values"], dtype=float)
    np.testing.assert_allclose(frame.X[:len(rows)], rows, rtol=0, atol=5e-15)
    assert fit.reml_criterion <= case["REMLcrit"] + 1e-8 * abs(case["REMLcrit"])
    np.testing.assert_allclose(fit.fixef.to_numpy(), list(case["fixef"].values()), rtol=rtol)
    np.testing.assert_allclose(np.sqrt(np.diag(fit.vcov().to_numpy())), list(case["se"].values()), rtol=rtol)
    if "predict_fixed" in case:
        np.testing.assert_allclose(fit.predict(newdata, re_form="NA").to_numpy(), case["predict_fixed"],
                                   rtol=rtol)


@pytest.mark.parametrize("name", list(SLEEP_CASES))
def test_transforms_match_r_and_predict_with_the_training_basis(name, contrasts_formulas, case_data):
    """The sleep study's cases, with predictions at Days 0, 0.5, 4.5, 9 and 11 (beyond the data)."""
    case = contrasts_formulas["cases"][name]
    newdata = pd.DataFrame(case["newdata"]["columns"])
    fit = lmer(SLEEP_CASES[name], case_data(case["data"]))
    check_against_r(fit, case, newdata, rtol=1e-9)


@pytest.mark.parametrize("name", EXTRA_CASES)
def test_options_and_comparisons_match_r(name, formula_extras, formula_extras_data, formula_extras_newdata):
    case = formula_extras["cases"][name]
    formula = case["call"].removeprefix("lmer(").split(", data = d")[0]
    # 1e-7: the orthogonal quadratic and the spline with two knots are less well conditioned
    check_against_r(lmer(formula, formula_extras_data), case, formula_extras_newdata, rtol=1e-7)


@pytest.mark.parametrize("name", list(BASES))
def test_spline_bases_and_knots_are_r(name, contrasts_formulas):
    """splines::ns and splines::bs: R's knots exactly, the basis and its values beyond the
    boundary knots (R's predict) to rounding."""
    entry = contrasts_formulas["bases"][name]
    kind, df, knots, degree, intercept = BASES[name]
    x = np.array(entry["x"], dtype=float)
    basis = learn_spline(kind, x, df, None if knots is None else np.array(knots), degree, intercept, None, name)
    assert basis.knots.tolist() == entry["attributes"]["knots"]
    assert list(basis.boundary) == entry["attributes"]["Boundary.knots"]
    np.testing.assert_allclose(basis.evaluate(x), entry["values"]["values"], rtol=0, atol=5e-16)
    np.testing.assert_allclose(basis.evaluate(np.array(entry["new_x"], dtype=float)),
                               entry["predict_values"]["values"], rtol=0, atol=1e-15)


def test_polynomial_coefficients_are_r(contrasts_formulas):
    entry = contrasts_formulas["bases"]["poly_orthogonal_3"]
    frame = build_model("y ~ poly(x, 3)", pd.DataFrame({"y": np.arange(10.0) ** 1.5, "x": entry["x"]}),
                        require_random=False)
    alpha, norm2 = frame.encodings["poly:poly(x, 3)"]
    np.testing.assert_allclose(alpha, entry["attributes"]["coefs"]["alpha"], rtol=1e-15)
    np.testing.assert_allclose(norm2, entry["attributes"]["coefs"]["norm2"], rtol=1e-15)
    np.testing.assert_allclose(frame.X[:, 1:], entry["values"]["values"], atol=1e-15)
    np.testing.assert_allclose(frame.fixed_matrix(pd.DataFrame({"x": entry["new_x"]}))[:, 1:],
                               entry["predict_values"]["values"], atol=1e-14)


def test_r_quantiles_and_knot_probabilities():
    """R's type-7 quantile and seq(0, 1, length.out = K + 2) without its ends, computed as R does."""
    np.testing.assert_array_equal(interior_probabilities(5), np.arange(1, 6) * (1 / 6))
    x = np.array([3.0, 1.0, 4.0, 1.0, 5.0, 9.0, 2.0, 6.0])
    np.testing.assert_allclose(r_quantile(x, np.array([0.0, 0.25, 0.5, 1 / 3, 1.0])),
                               np.quantile(x, [0.0, 0.25, 0.5, 1 / 3, 1.0]), rtol=1e-15)


def test_comparisons_give_r_logical_columns():
    """I(x > 0) is a logical column coded by treatment contrasts (R's ``I(x > 0)TRUE``); == and !=
    compare a text column with a string; rows with a missing value are dropped first."""
    data = pd.DataFrame({"y": [1.0, 2.0, 3.0, 4.0, 5.0, 6.0], "x": [-1.0, 0.5, 2.0, np.nan, 3.0, -2.0],
                         "f": ["a", "b", "a", "b", "c", None], "g": list("ppqqrr")})
    with pytest.warns(MissingRowsWarning, match="dropped 2 rows"):
        frame = build_model('y ~ I(x > 0) + I(f != "a") + (1 | g)', data)
    assert frame.fixed_names == ("(Intercept)", "I(x > 0)TRUE", 'I(f != "a")TRUE')
    np.testing.assert_array_equal(frame.X[:, 1], [0, 1, 1, 1])
    np.testing.assert_array_equal(frame.X[:, 2], [0, 1, 0, 1])


def test_logical_operators_follow_r_with_missing_values():
    """&, | and ! as R computes them: FALSE & NA is FALSE, TRUE | NA is TRUE, otherwise NA."""
    data = pd.DataFrame({"a": [-1.0, 1.0, np.nan, 2.0], "b": [np.nan, np.nan, 1.0, -1.0]})
    evaluator = Evaluator(data, {}, learning=True)
    variables = parse_formula("~ I(a > 0 & b > 0) + I(a > 0 | b > 0) + I(!(a > 0))").fixed.variables
    both, either, negation = (evaluator.numeric(node) for node in variables.values())
    np.testing.assert_array_equal(both, [0, np.nan, np.nan, 0])
    np.testing.assert_array_equal(either, [np.nan, 1, 1, 1])
    np.testing.assert_array_equal(negation, [1, 0, np.nan, 0])


def test_log_with_a_base_is_r_logbase():
    """R's log(x, base): log10 and log2 for bases 10 and 2, else log(x)/log(base)."""
    data = pd.DataFrame({"x": [1.0, 10.0, 100.0, 8.0, 0.0, -1.0]})
    variables = parse_formula("~ log(x, 10) + log(x, 2) + log(x, base = 3) + log(x)").fixed.variables
    evaluator = Evaluator(data, {}, learning=True)
    base10, base2, base3, natural = (evaluator.numeric(node) for node in variables.values())
    x = data["x"].to_numpy()
    with np.errstate(divide="ignore", invalid="ignore"):
        np.testing.assert_array_equal(base10, np.log10(x))
        np.testing.assert_array_equal(base2, np.log2(x))
        np.testing.assert_array_equal(base3, np.log(x) / np.log(3.0))
        np.testing.assert_array_equal(natural, np.log(x))


def test_spline_on_new_data_keeps_the_training_knots(case_data):
    sleep = case_data("data_sleepstudy.csv")
    for formula in ("Reaction ~ ns(Days, df = 3) + (1 | Subject)", "Reaction ~ bs(Days, df = 5) + (1 | Subject)"):
        frame = build_model(formula, sleep)
        np.testing.assert_allclose(frame.fixed_matrix(sleep.iloc[::7]), frame.X[::7], rtol=1e-15, atol=1e-16)
        shifted = sleep.assign(Days=sleep["Days"] + 100)  # would give other knots if they were recomputed
        new = frame.fixed_matrix(shifted.iloc[:3])
        assert np.isfinite(new).all() and not np.allclose(new, frame.X[:3])


def test_a_logical_always_has_the_levels_false_and_true():
    """R codes a logical as factor(x, levels = c(FALSE, TRUE)): a comparison that is always TRUE
    gives a column of ones, dropped as rank deficient (lme4's message), while factor() of it has
    one level and is refused as R refuses it."""
    data = pd.DataFrame({"y": [1.0, 2.0, 3.0, 4.0, 5.0, 6.5], "x": np.arange(1.0, 7.0), "b": True,
                         "g": list("aabbcc")})
    for formula, label in (("y ~ I(x > 0) + (1 | g)", "I(x > 0)TRUE"), ("y ~ b + (1 | g)", "bTRUE")):
        with pytest.warns(RankDeficiencyWarning, match=rf"dropping 1 column / coefficient: {re.escape(label)}"):
            assert build_model(formula, data).fixed_names == ("(Intercept)",)
    with pytest.raises(ValueError, match=r"factor 'factor\(x > 0\)' has only one level \(TRUE\)"):
        build_model("y ~ factor(x > 0) + (1 | g)", data)


def test_factor_of_an_ordered_column_stays_ordered():
    data = pd.DataFrame({"y": np.arange(9.0) ** 1.3, "g": list("aaabbbccc"),
                         "dose": pd.Categorical(["lo", "mid", "hi"] * 3, ["lo", "mid", "hi"], ordered=True)})
    assert build_model("y ~ factor(dose) + (1 | g)", data).fixed_names[1:] == ("factor(dose).L", "factor(dose).Q")
    assert build_model("y ~ as.factor(dose) + (1 | g)", data).fixed_names[1:] == ("as.factor(dose).L",
                                                                                 "as.factor(dose).Q")
    unordered = data.assign(dose=data["dose"].astype(str))
    assert build_model("y ~ dose + (1 | g)", unordered).fixed_names[1:] == ("doselo", "dosemid")
