"""Contrasts as R codes factors: ``contrasts=`` per factor, ordered factors, relevel, C(), as.factor.

R's numbers: ``contrasts_formulas.json`` (``r/make_contrasts_formulas.R``: lme4's cake data and
lmerTest's unbalanced data) and ``formula_extras.json`` (``r/make_formula_extras.R``). Each fit is
compared column by column (names and values of the model matrix, R's ``attr(X, "contrasts")``)
and through the fit (REML criterion, fixed effects, their standard errors, lmerTest's df).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from mlmtools.frame import build_model, contr_helmert, contr_poly, contr_sum, contr_treatment
from mlmtools.frame.contrasts import coding_of
from mlmtools.gee import geeglm
from mlmtools.glmm import glmer
from mlmtools.lmm import lmer

CAKE = "angle ~ recipe + temperature + (1 | recipe:replicate)"
#: The cases of contrasts_formulas.json with a factor coding, as Python calls: formula, contrasts.
CONTRAST_CASES = {
    "sum_contrasts": (CAKE, {"recipe": "contr.sum"}),
    "treatment_base2": (CAKE, {"recipe": contr_treatment(["A", "B", "C"], base=2)}),
    "relevel_base_b": ('angle ~ relevel(factor(recipe), ref = "B") + temperature + (1 | recipe:replicate)',
                       None),
    "helmert": (CAKE, {"temperature": "contr.helmert"}),
    "poly_contrasts": (CAKE, {"temperature": "contr.poly"}),
    "ordered_factor": ("angle ~ recipe + temperature_ordered + (1 | recipe:replicate)", None),
    "as_factor_numeric": ("angle ~ recipe + as.factor(temp) + (1 | recipe:replicate)", None),
    "sum_interaction_unbalanced": ("y ~ trt * sex + x + (1 | g)", {"trt": "contr.sum", "sex": "contr.sum"}),
}
#: The cases of formula_extras.json with a factor coding, and their contrasts= argument.
EXTRA_CONTRASTS = {"ordered_factor": None, "sum_fixed_treatment_random": {"sex": "contr.sum"},
                   "C_sum_and_SAS": {"sex": "contr.SAS"}, "relevel_position": None}


@pytest.fixture(scope="module")
def cake(case_data) -> pd.DataFrame:
    """lme4's cake as the R script reads it: temperature as text, and an ordered copy."""
    data = case_data("data_cake.csv").assign(temperature=lambda d: d["temperature"].astype(str))
    levels = sorted(data["temperature"].unique(), key=float)
    return data.assign(temperature_ordered=pd.Categorical(data["temperature"], levels, ordered=True))


def r_contrasts(recorded: dict) -> dict:
    """R's ``attr(X, "contrasts")`` with matrices as DataFrames."""
    return {name: value if isinstance(value, str) else
            pd.DataFrame(value["values"], index=value["rownames"], columns=value["colnames"])
            for name, value in (recorded or {}).items()}


def check_fit_against_r(fit, case, rtol: float) -> None:
    """Model matrix (names, first rows), contrasts, REML criterion, fixef, SEs, lmerTest's df."""
    frame = fit.state.frame
    assert list(frame.fixed_names) == case["X_colnames"]
    rows = np.array(case["X_first_rows"]["values"], dtype=float)
    np.testing.assert_allclose(frame.X[:len(rows)], rows, rtol=0, atol=1e-15)
    expected = r_contrasts(case["contrasts"])
    assert frame.contrasts.keys() == expected.keys()
    for name, value in expected.items():
        if isinstance(value, str):
            assert frame.contrasts[name] == value
        else:
            np.testing.assert_array_equal(np.asarray(frame.contrasts[name], dtype=float), value.to_numpy())
    assert fit.reml_criterion <= case["REMLcrit"] + 1e-8 * abs(case["REMLcrit"])
    np.testing.assert_allclose(fit.fixef.to_numpy(), list(case["fixef"].values()), rtol=rtol, atol=1e-12)
    np.testing.assert_allclose(np.sqrt(np.diag(fit.vcov().to_numpy())), list(case["se"].values()), rtol=rtol)
    r_table = case["coefficients"]
    if "df" in r_table["colnames"]:
        df = np.array(r_table["values"], dtype=float)[:, r_table["colnames"].index("df")]
        np.testing.assert_allclose(fit.coef_table()["df"].to_numpy(), df, rtol=max(rtol, 1e-7))


@pytest.mark.parametrize("name", list(CONTRAST_CASES))
def test_contrasts_match_r(name, contrasts_formulas, cake, case_data):
    case = contrasts_formulas["cases"][name]
    formula, contrasts = CONTRAST_CASES[name]
    data = cake if case["data"] == "data_cake.csv" else case_data(case["data"])
    check_fit_against_r(lmer(formula, data, contrasts=contrasts), case, rtol=1e-8)


@pytest.mark.parametrize("name", list(EXTRA_CONTRASTS))
def test_contrasts_on_an_analysts_data_match_r(name, formula_extras, formula_extras_data):
    case = formula_extras["cases"][name]
    formula = case["call"].removeprefix("lmer(").split(", data = d")[0]
    check_fit_against_r(lmer(formula, formula_extras_data, contrasts=EXTRA_CONTRASTS[name]), case, rtol=1e-8)


def test_random_terms_keep_treatment_coding(formula_extras, formula_extras_data):
    """lme4 applies contrasts= to the fixed part only: the random slope of sex stays sexM."""
    case = formula_extras["cases"]["sum_fixed_treatment_random"]
    fit = lmer("score ~ sex + (1 + sex | `school id`)", formula_extras_data, contrasts={"sex": "contr.sum"})
    assert list(fit.fixef.index) == ["(Intercept)", "sex1"]
    assert list(fit.ranef()["school id"].columns) == case["ranef_columns"]["school id"] == ["(Intercept)", "sexM"]


@pytest.mark.parametrize("k", range(2, 8))
def test_polynomial_contrasts_are_r_contr_poly(contrasts_formulas, k):
    expected = contrasts_formulas["contrast_matrices"][f"contr.poly({k})"]
    matrix = contr_poly(k)
    assert list(matrix.columns) == expected["colnames"]
    np.testing.assert_allclose(matrix.to_numpy(), expected["values"], rtol=0, atol=2e-15)


@pytest.mark.parametrize("k", [3, 4])
def test_sum_helmert_and_treatment_matrices_are_r(contrasts_formulas, k):
    matrices = contrasts_formulas["contrast_matrices"]
    for made, name in ((contr_sum(k), f"contr.sum({k})"), (contr_helmert(k), f"contr.helmert({k})"),
                       (contr_treatment(k, base=2), f"contr.treatment({k}, base = 2)")):
        np.testing.assert_array_equal(made.to_numpy(), matrices[name]["values"])
        assert [str(c) for c in made.columns] == (matrices[name]["colnames"] or [str(j) for j in range(1, k)])


def test_glmer_takes_contrasts(formula_extras, formula_extras_data):
    """An ordered factor given sum contrasts in glmer: R's names and estimates."""
    case = formula_extras["glmer_contrasts"]
    fit = glmer("passed ~ `hours studied` + grade_ordered + (1 | `school id`)", formula_extras_data,
                family="binomial", contrasts={"grade_ordered": "contr.sum"})
    assert list(fit.fixef.index) == case["X_colnames"]
    np.testing.assert_allclose(fit.fixef.to_numpy(), list(case["fixef"].values()), rtol=1e-6)
    np.testing.assert_allclose(np.sqrt(np.diag(fit.vcov().to_numpy())), list(case["se"].values()), rtol=1e-5)


def test_geeglm_takes_contrasts_and_codes_ordered_factors_by_polynomials(formula_extras, formula_extras_data):
    case = formula_extras["geeglm_contrasts"]["coefficients"]
    fit = geeglm("score ~ grade_ordered + sex", formula_extras_data, id="school", corstr="exchangeable",
                 contrasts={"sex": "contr.sum"})
    table = fit.coef_table()
    assert list(table.index) == case["rownames"] == ["(Intercept)", "grade_ordered.L", "grade_ordered.Q", "sex1"]
    np.testing.assert_allclose(table[["Estimate", "Std.err"]].to_numpy(),
                               np.array(case["values"], dtype=float)[:, :2], rtol=1e-9)


def test_a_contrast_matrix_is_matched_to_levels_by_its_index(cake):
    """A DataFrame's rows are taken by level name whatever their order; an array's by position,
    its columns numbered as R numbers a matrix without column names."""
    shuffled = contr_treatment(["A", "B", "C"], base=2).loc[["C", "A", "B"]]
    by_name = build_model(CAKE, cake, contrasts={"recipe": shuffled})
    in_order = build_model(CAKE, cake, contrasts={"recipe": contr_treatment(["A", "B", "C"], base=2)})
    np.testing.assert_array_equal(by_name.X, in_order.X)
    assert by_name.fixed_names[:3] == ("(Intercept)", "recipeA", "recipeC")
    array = build_model(CAKE, cake, contrasts={"recipe": np.array([[1, 0], [0, 0], [0, 1]])})
    assert array.fixed_names[:3] == ("(Intercept)", "recipe1", "recipe2")
    np.testing.assert_array_equal(array.X, in_order.X)


def test_contrasts_change_the_coding_not_the_fit(cake):
    """Sum, Helmert, polynomial and treatment codings span the same columns: same fitted values."""
    fitted = [lmer(CAKE, cake, contrasts={"temperature": name}).fitted().to_numpy()
              for name in ("contr.treatment", "contr.sum", "contr.helmert", "contr.poly", "contr.SAS")]
    for other in fitted[1:]:
        np.testing.assert_allclose(other, fitted[0], rtol=1e-9)


def test_c_with_a_contrast_name_equals_contrasts_argument(cake):
    in_formula = build_model("angle ~ recipe + C(temperature, helmert) + (1 | recipe:replicate)", cake)
    argument = build_model(CAKE, cake, contrasts={"temperature": "contr.helmert"})
    np.testing.assert_array_equal(in_formula.X, argument.X)
    assert in_formula.fixed_names[3] == "C(temperature, helmert)1"
    assert in_formula.contrasts["C(temperature, helmert)"] == "contr.helmert"


def test_contrasts_apply_to_new_data(cake):
    """Predictions on new rows code the factor as the fit did (R's contrasts kept with the terms)."""
    fit = lmer(CAKE, cake, contrasts={"recipe": "contr.sum", "temperature": "contr.poly"})
    rows = cake.iloc[[4, 30, 200]]
    np.testing.assert_allclose(fit.state.frame.fixed_matrix(rows), fit.state.frame.X[[4, 30, 200]], rtol=1e-15)


def test_a_column_name_or_a_label_names_the_factor(cake):
    spaced = cake.rename(columns={"recipe": "the recipe"})
    formula = "angle ~ `the recipe` + temperature + (1 | replicate)"
    by_name = build_model(formula, spaced, contrasts={"the recipe": "contr.sum"})
    by_label = build_model(formula, spaced, contrasts={"`the recipe`": "contr.sum"})
    assert by_name.fixed_names[:3] == by_label.fixed_names[:3] == ("(Intercept)", "`the recipe`1", "`the recipe`2")


def test_unused_categories_are_dropped_before_coding(cake):
    """lme4's model frame drops unused levels: an ordered factor with an unused category gets
    the contrasts of the levels present."""
    levels = sorted(cake["temperature"].unique(), key=float) + ["235"]
    wider = cake.assign(temperature_ordered=pd.Categorical(cake["temperature"], levels, ordered=True))
    frame = build_model("angle ~ temperature_ordered + (1 | recipe:replicate)", wider)
    assert frame.fixed_names[1:] == ("temperature_ordered.L", "temperature_ordered.Q", "temperature_ordered.C",
                                     "temperature_ordered^4", "temperature_ordered^5")


def test_coding_of_user_matrix_checks_its_rows():
    with pytest.raises(ValueError, match=r"has rows A, B, D; the levels are A, B, C"):
        coding_of(pd.DataFrame([[1], [0], [0]], index=["A", "B", "D"]), ["A", "B", "C"], "f")
    with pytest.raises(ValueError, match=r"has 2 rows; the factor has 3 levels"):
        coding_of(np.eye(2), ["A", "B", "C"], "f")
