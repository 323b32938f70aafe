"""anova(): lme4's likelihood-ratio table and lmerTest's type III table, against R."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from conftest import read_case_data
from mlmtools.anova import anova, compare_models, term_columns
from mlmtools.lmer import lmer
from test_lmer import CASES

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
def test_lrt_cases_match_r(lmer_cases, name):
    spec = lmer_cases["anova_lrt"][name]
    data = read_case_data(spec["data"])
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


TYPE3_CASES = [c for c in CASES if c != "factor_interaction"]


@pytest.mark.parametrize("name", TYPE3_CASES)
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


def test_terms_under_an_interaction_are_not_silently_wrong(case_fits):
    fit, _, _ = case_fits["factor_interaction"]
    with pytest.raises(NotImplementedError, match="contained"):
        anova(fit)


def test_term_columns_follow_r_assign(case_fits):
    fit, _, _ = case_fits["factor_interaction"]
    names = list(fit.fixef.index)
    mapping = {term: [names[j] for j in cols] for term, cols in term_columns(fit).items()}
    assert mapping == {"x": ["x"], "grp": ["grpb", "grpc"], "x:grp": ["x:grpb", "x:grpc"]}


def test_anova_needs_a_model():
    with pytest.raises(ValueError, match="at least one"):
        anova()
