"""anova(): lme4's likelihood-ratio table and lmerTest's type III table, against R."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from test_lmm import CASES

from mlmtools.inference.anova_tables import anova, compare_models, containment, term_columns, type3_contrasts
from mlmtools.inference.contrasts import contest
from mlmtools.lmm import LinearMixedModel, lmer

LRT_R_COLUMNS = {"-2*log(L)": "deviance"}


def _r_column(table: dict, name: str) -> np.ndarray:
    values = table["columns"][LRT_R_COLUMNS.get(name, name)]
    return np.array([np.nan if v is None else v for v in values], dtype=float)


def test_m1_m2_lrt_matches_r(sleep_models, seed_reference):
    result = anova(m1=sleep_models["m1"], m2=sleep_models["m2"])
    ref = pd.DataFrame(seed_reference["anova_m1_m2"]).set_index("_row")
    table = result.table
    assert list(table.index) == ["m1", "m2"] and result.refitted
    for column in ["npar", "AIC", "BIC", "logLik"]:
        np.testing.assert_allclose(table[column], ref[column], rtol=1e-8)
    np.testing.assert_allclose(table["-2*log(L)"], ref["deviance"], rtol=1e-8)
    assert table["Chisq"].iloc[1] == pytest.approx(ref["Chisq"].iloc[1], rel=1e-6)
    assert int(table["Df"].iloc[1]) == 2
    assert table["Pr(>Chisq)"].iloc[1] == pytest.approx(ref["Pr(>Chisq)"].iloc[1], rel=1e-5)
    assert np.isnan(table["Chisq"].iloc[0])


def test_m1_m2_printout_matches_lecture(sleep_models, printouts):
    text = str(anova(m1=sleep_models["m1"], m2=sleep_models["m2"]))
    lines = [line for line in text.split("\n") if "refitted with ML" not in line]
    assert lines == printouts["anova_m1_m2"]
    assert "Models refitted with ML (instead of REML)" in text


@pytest.mark.parametrize("name", ["unbalanced_two", "unbalanced_three", "unbalanced_two_norefit",
                                  "nested_school_only"])
def test_lrt_cases_match_r(lmer_cases, name, case_data):
    spec = lmer_cases["anova_lrt"][name]
    data = case_data(spec["data"])
    fits = {key: lmer(call.split("lmer(")[1].split(", data")[0], data)
            for key, call in spec["models"].items()}
    order = spec["call"].split("(", 1)[1].rstrip(")").split(", ")
    refit = "refit = FALSE" not in spec["call"]
    models = [fits[key] for key in order if key in fits]
    result = compare_models(*models, names=[k for k in order if k in fits], refit=refit)
    ref = spec["table"]
    assert list(result.table.index) == ref["rownames"]
    for column in ["npar", "AIC", "BIC", "logLik", "-2*log(L)", "Chisq", "Pr(>Chisq)"]:
        np.testing.assert_allclose(result.table[column].astype(float), _r_column(ref, column),
                                   rtol=1e-6)
    assert result.refitted == bool(spec["messages"])


def test_different_data_is_refused(sleepstudy, sleep_models):
    smaller = lmer("Reaction ~ Days + (1 | Subject)", sleepstudy.iloc[:150])
    with pytest.raises(ValueError, match="same size"):
        anova(sleep_models["m1"], smaller)
    changed = sleepstudy.copy()
    changed.loc[0, "Reaction"] += 1.0
    other = lmer("Reaction ~ Days + (1 | Subject)", changed)
    with pytest.raises(ValueError, match="same data"):
        anova(sleep_models["m1"], other)


def test_rows_are_ordered_by_parameters(sleep_models):
    result = anova(sleep_models["m2"], sleep_models["m0"], names=["big", "small"])
    assert list(result.table.index) == ["small", "big"]
    assert list(result.table.columns) == ["npar", "AIC", "BIC", "logLik", "-2*log(L)", "Chisq",
                                          "Df", "Pr(>Chisq)"]


@pytest.mark.parametrize("name", CASES)
def test_type3_table_matches_lmertest(case_fits, lmer_cases, name):
    fit, _, _ = case_fits[name]
    ref = lmer_cases["cases"][name]["anova_typeIII"]
    result = anova(fit)
    table = result.table
    assert list(table.index) == ref["rownames"]
    for column in ["Sum Sq", "Mean Sq", "NumDF", "F value"]:
        np.testing.assert_allclose(table[column].astype(float), _r_column(ref, column), rtol=1e-6)
    np.testing.assert_allclose(table["DenDF"].astype(float), _r_column(ref, "DenDF"), atol=1e-4)
    np.testing.assert_allclose(table["Pr(>F)"].astype(float), _r_column(ref, "Pr(>F)"), rtol=1e-4)
    assert result.heading[0].startswith("Type III Analysis of Variance Table")


def test_numeric_main_effect_under_interaction_tests_the_average_slope(case_fits):
    """lmerTest's type III contrast for x in x * grp (3 levels): the slope averaged over the
    levels of grp, x + (x:grpb + x:grpc) / 3; grp is not contained in x:grp (x is numeric)."""
    fit, _, _ = case_fits["factor_interaction"]
    assert containment(fit) == {"x": ["x:grp"], "grp": [], "x:grp": []}
    contrasts = type3_contrasts(fit)
    np.testing.assert_allclose(contrasts["x"], [[0, 1, 0, 0, 1 / 3, 1 / 3]], atol=1e-7)
    np.testing.assert_array_equal(np.abs(contrasts["grp"]), np.eye(6)[[2, 3]])
    np.testing.assert_array_equal(np.abs(contrasts["x:grp"]), np.eye(6)[[4, 5]])


def test_factor_main_effects_under_a_factor_interaction_average_over_the_other():
    """Two crossed two-level factors, balanced: the type III contrast of a main effect is its
    simple effect averaged over the levels of the other factor (SAS's type III rule), so
    a + (a:b) / 2 in treatment coding."""
    rng = np.random.default_rng(4)
    data = pd.DataFrame({"a": np.tile(["p", "q"], 40), "b": np.tile(["u", "u", "v", "v"], 20),
                         "g": np.repeat([f"g{i}" for i in range(8)], 10)})
    data["y"] = rng.normal(size=80) + (data["a"] == "q") + np.repeat(rng.normal(size=8), 10)
    fit = lmer("y ~ a * b + (1 | g)", data)
    assert list(fit.fixef.index) == ["(Intercept)", "aq", "bv", "aq:bv"]
    contrasts = type3_contrasts(fit)
    np.testing.assert_allclose(contrasts["a"], [[0, 1, 0, 0.5]], atol=1e-7)
    np.testing.assert_allclose(contrasts["b"], [[0, 0, 1, 0.5]], atol=1e-7)
    np.testing.assert_allclose(contrasts["a:b"], [[0, 0, 0, 1]], atol=1e-7)
    table = anova(fit).table
    expected = contest(fit, [0, 1, 0, 0.5])
    assert table.loc["a", "F value"] == pytest.approx(expected["t value"].iloc[0] ** 2, rel=1e-10)
    assert table.loc["a", "DenDF"] == pytest.approx(expected["df"].iloc[0], rel=1e-10)


def test_contained_terms_need_the_data(case_fits):
    fit, _, _ = case_fits["factor_interaction"]
    from_frame = LinearMixedModel.from_frame(fit.state.frame).fit()
    with pytest.raises(ValueError, match="data the model was fitted to"):
        anova(from_frame)


def test_term_columns_follow_r_assign(case_fits):
    fit, _, _ = case_fits["factor_interaction"]
    names = list(fit.fixef.index)
    mapping = {term: [names[j] for j in cols] for term, cols in term_columns(fit).items()}
    assert mapping == {"x": ["x"], "grp": ["grpb", "grpc"], "x:grp": ["x:grpb", "x:grpc"]}


def test_anova_needs_a_model():
    with pytest.raises(ValueError, match="at least one"):
        anova()
