"""The numbers printed by Parts II and III of the book, recomputed with mlmtools and compared with R's.

R's values come from tests/fixtures/seed-reference.json (made by tests/fixtures/seed-reference.R, which reruns
the lecture). Each number is compared at the rounding the lecture prints it with; closed-form quantities
(data, means, OLS, ANOVA) also at full precision. Model quantities are checked loosely at full precision here
(rel 1e-4, so that a lucky rounding cannot hide a wrong fit); their 1e-6 accuracy is tested with lmer itself.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
import statsmodels.formula.api as smf
from statsmodels.stats.anova import anova_lm

from mlmtools import design
from mlmtools.datasets import prevention
from mlmtools import lmer
from mlmtools.rstyle import format_number, format_vector, print_anova, round_r
from mlmtools import RRandom
from mlmtools.simulate.trials import simulate_cluster_trial
from mlmtools.simulate.type1 import simulate_type1

MODEL_RTOL = 1e-4
EXACT_RTOL = 1e-10


@pytest.fixture(scope="module")
def r(seed_reference: dict) -> dict:
    """R's values for the lecture (the shared ``seed_reference`` fixture), under a short name."""
    return seed_reference


def printed(values, digits: int) -> list[str]:
    """The values as the lecture prints them: rounded to ``digits``, formatted together, unpadded."""
    return [text.strip() for text in format_vector(round_r(np.asarray(values, dtype=float), digits))]


def same_rounding(ours, theirs, digits: int) -> None:
    """Both values print the same at the lecture's rounding."""
    np.testing.assert_array_equal(round_r(np.asarray(ours, dtype=float), digits),
                                  round_r(np.asarray(theirs, dtype=float), digits))


# ------------------------------------------------------------------ Part II
@pytest.fixture(scope="module")
def demo_data() -> pd.DataFrame:
    return simulate_cluster_trial(10, 30, math.sqrt(0.25), math.sqrt(0.75), seed=2026)


@pytest.fixture(scope="module")
def ols_fit(demo_data: pd.DataFrame):
    return smf.ols("y ~ treatment", data=demo_data).fit()


@pytest.fixture(scope="module")
def mixed_table(demo_data: pd.DataFrame) -> pd.DataFrame:
    return lmer("y ~ treatment + (1 | school)", demo_data).coef_table(ddf="satterthwaite")


def test_twenty_schools_simulation(r: dict) -> None:
    rng = RRandom(2026)
    school_effects = rng.rnorm(20, 0, 5)
    score = 50 + np.repeat(school_effects, 10) + rng.rnorm(200, 0, 3)
    np.testing.assert_allclose(score[:5], r["clustered_first_scores"], rtol=EXACT_RTOL)
    assert score.mean() == pytest.approx(r["clustered_mean"], rel=EXACT_RTOL)
    assert format_number(round_r(design.icc(25, 9), 3)) == "0.735"


def test_design_effect_example() -> None:
    deff = design.design_effect(30, 0.25)
    assert format_number(deff) == "8.25"
    assert format_number(round_r(design.effective_n(300, 30, 0.25), 0)) == "36"
    assert format_number(round_r(design.se_inflation(30, 0.25), 2)) == "2.87"
    assert format_number(round_r(design.se_inflation(30, 0.25), 1)) == "2.9"


def test_demo_school_and_group_means(r: dict, demo_data: pd.DataFrame) -> None:
    school_means = demo_data.groupby("school")["y"].mean()
    group_means = demo_data.groupby("treatment")["y"].mean()
    np.testing.assert_allclose(school_means, r["demo_school_means"], rtol=EXACT_RTOL)
    np.testing.assert_allclose(group_means, r["demo_group_means"], rtol=EXACT_RTOL)
    same_rounding(school_means, r["demo_school_means"], 2)
    printed_school_means = printed(school_means.to_numpy(), 2)
    assert (printed_school_means[0], printed_school_means[-1]) == ("50.38", "49.84")
    assert printed(group_means.to_numpy(), 2) == ["49.91", "49.61"]


def test_demo_ols_table(r: dict, ols_fit) -> None:
    ours = np.column_stack([ols_fit.params, ols_fit.bse, ols_fit.tvalues, ols_fit.pvalues])
    theirs = np.array(r["demo_ols"])
    np.testing.assert_allclose(ours[:, :3], theirs[:, :3], rtol=1e-9)
    np.testing.assert_allclose(ours[:, 3], theirs[:, 3], rtol=1e-9, atol=1e-300)
    same_rounding(ours, theirs, 3)


def test_demo_mixed_table(r: dict, mixed_table: pd.DataFrame) -> None:
    ours = mixed_table.to_numpy()
    theirs = np.array(r["demo_mixed"])
    assert list(mixed_table.columns) == ["Estimate", "Std. Error", "df", "t value", "Pr(>|t|)"]
    np.testing.assert_allclose(ours[:, :4], theirs[:, :4], rtol=MODEL_RTOL)
    np.testing.assert_allclose(ours[1, 4], theirs[1, 4], rtol=MODEL_RTOL)
    same_rounding(ours, theirs, 3)


def test_se_ratio_and_its_check_against_deff(r: dict, ols_fit, mixed_table: pd.DataFrame) -> None:
    ratio = mixed_table.loc["treatment", "Std. Error"] / ols_fit.bse["treatment"]
    assert ratio == pytest.approx(r["demo_se_ratio"], rel=MODEL_RTOL)
    same_rounding(ratio, r["demo_se_ratio"], 3)
    assert format_number(round_r(ratio, 2)) == format_number(round_r(r["demo_se_ratio"], 2)) == "2.8"
    deff = design.design_effect(30, 0.25)
    assert format_number(round_r(deff, 2)) == "8.25"
    assert format_number(round_r(math.sqrt(deff), 2)) == "2.87"


@pytest.mark.slow
def test_type_one_error_rates(r: dict) -> None:
    results = simulate_type1(n_sims=1000, seed=2026)
    rates = [(results["p_ols"] < 0.05).mean(), (results["p_mixed"] < 0.05).mean()]
    assert rates == r["sim_type1"]
    assert format_vector(rates) == ["0.500", "0.045"]


# ------------------------------------------------------------------ Part III
@pytest.fixture(scope="module")
def prevention_data() -> pd.DataFrame:
    return prevention()


@pytest.fixture(scope="module")
def empty_model(prevention_data: pd.DataFrame):
    return lmer("risk_score ~ 1 + (1 | community)", prevention_data, data_name="prevention_data")


def test_decomposition_by_hand(r: dict, prevention_data: pd.DataFrame) -> None:
    grand_mean = prevention_data["risk_score"].mean()
    community_means = prevention_data.groupby("community")["risk_score"].mean()
    deviations = community_means - grand_mean
    # R's empty-model intercept is the grand mean (balanced data); R's naive between variance is
    # the variance of these community means.
    assert grand_mean == pytest.approx(r["prev_fixef"][0][0], rel=1e-12)
    assert community_means.var() == pytest.approx(r["prev_naive_var"][0], rel=EXACT_RTOL)
    assert printed(community_means.to_numpy(), 1) == ["43", "31", "56", "37", "49"]
    assert format_number(round_r(grand_mean, 1)) == "43.2"
    assert printed(deviations.to_numpy(), 1) == ["-0.2", "-12.2", "12.8", "-6.2", "5.8"]


def test_naive_variance_partition(r: dict, prevention_data: pd.DataFrame) -> None:
    within = prevention_data["risk_score"] - prevention_data.groupby("community")["risk_score"].transform("mean")
    between_variance = prevention_data.groupby("community")["risk_score"].mean().var()
    variances = np.array([between_variance, within.var(), between_variance + within.var()])
    np.testing.assert_allclose(variances[:2], r["prev_naive_var"], rtol=EXACT_RTOL)
    assert printed(variances, 2) == printed(
        [*r["prev_naive_var"], sum(r["prev_naive_var"])], 2) == ["96.20", "8.95", "105.15"]
    assert printed(variances / variances[:2].sum() * 100, 1) == ["91.5", "8.5", "100.0"]


def test_empty_model_summary_numbers(r: dict, empty_model) -> None:
    assert empty_model.reml_criterion == pytest.approx(r["prev_reml"], rel=MODEL_RTOL)
    vc = empty_model.varcorr()
    np.testing.assert_allclose(vc["vcov"], r["prev_vc"], rtol=MODEL_RTOL)
    np.testing.assert_allclose(vc["sdcor"], r["prev_sd"], rtol=MODEL_RTOL)
    table = empty_model.coef_table(ddf="satterthwaite").to_numpy()
    np.testing.assert_allclose(table, r["prev_fixef"], rtol=MODEL_RTOL)
    text = str(empty_model.summary())
    assert f"REML criterion at convergence: {format_number(round_r(r['prev_reml'], 1))}" in text
    assert "community (Intercept) 93.37    9.663" in text
    assert "Residual              11.33    3.367" in text
    assert "(Intercept)   43.200      4.386  4.000   9.849 0.000596 ***" in text
    scaled = empty_model.residuals(scaled=True).to_numpy()
    quantiles = np.quantile(scaled, [0, 0.25, 0.5, 0.75, 1])
    same_rounding(quantiles, r["prev_scaled_resid"], 4)


def test_variance_table_fixef_blups_and_icc(r: dict, empty_model) -> None:
    vc = empty_model.varcorr()
    same_rounding(vc["vcov"], r["prev_vc"], 2)
    same_rounding(vc["sdcor"], r["prev_sd"], 2)
    assert printed(vc["vcov"].to_numpy(), 2) == ["93.37", "11.33"]
    assert printed(vc["sdcor"].to_numpy(), 2) == ["9.66", "3.37"]
    assert format_number(empty_model.fixef["(Intercept)"]) == "43.2"
    blups = empty_model.ranef()["community"]["(Intercept)"]
    np.testing.assert_allclose(blups, r["prev_ranef"], rtol=MODEL_RTOL)
    assert printed(blups.to_numpy(), 2) == ["-0.19", "-11.84", "12.42", "-6.02", "5.63"]
    icc = design.icc(vc["vcov"].iloc[0], vc["vcov"].iloc[1])
    assert icc == pytest.approx(r["prev_icc"], rel=MODEL_RTOL)
    assert format_number(round_r(icc, 3)) == format_number(round_r(r["prev_icc"], 3)) == "0.892"


def test_one_way_anova_r_squared_and_icc_from_f(r: dict, prevention_data: pd.DataFrame) -> None:
    table = anova_lm(smf.ols("risk_score ~ community", data=prevention_data).fit())
    expected = r["prev_anova"]
    np.testing.assert_array_equal(table["df"], expected["df"])
    np.testing.assert_allclose(table["sum_sq"], expected["ss"], rtol=EXACT_RTOL)
    np.testing.assert_allclose(table["mean_sq"], expected["ms"], rtol=EXACT_RTOL)
    f_value, p_value = table["F"].iloc[0], table["PR(>F)"].iloc[0]
    assert f_value == pytest.approx(expected["F"], rel=EXACT_RTOL)
    assert p_value == pytest.approx(expected["p"], rel=1e-8)
    r_squared = table["sum_sq"].iloc[0] / table["sum_sq"].sum()
    assert r_squared == pytest.approx(r["prev_r2"], rel=EXACT_RTOL)
    same_rounding(r_squared, r["prev_r2"], 3)
    same_rounding(f_value, expected["F"], 3)
    icc_from_f = design.icc_from_f(f_value, 4)
    assert icc_from_f == pytest.approx(r["prev_icc"], rel=MODEL_RTOL)

    printed_table = table.rename(
        columns={"df": "Df", "sum_sq": "Sum Sq", "mean_sq": "Mean Sq", "F": "F value", "PR(>F)": "Pr(>F)"})
    printed_table["Df"] = printed_table["Df"].astype("int64")
    printed_table.index = [name.ljust(len("(Intercept)")) for name in ["community", "Residuals"]]
    header, community_row, residuals_row = print_anova(printed_table).splitlines()[:3]
    assert header == "            Df Sum Sq Mean Sq F value    Pr(>F)    "
    assert community_row == "community    4 1539.2  384.80  33.953 2.355e-07 ***"
    assert residuals_row == "Residuals   15  170.0   11.33                      "
