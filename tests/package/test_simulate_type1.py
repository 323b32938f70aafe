"""The type I error study of Part II against R's p-values (tests/fixtures/seed-reference.json, `sim_p`).

R's script (tests/fixtures/seed-reference.R) draws, per replicate, rnorm(10, 0, sqrt(.25)) then
rnorm(300, 0, sqrt(.75)) from one stream started by set.seed(2026), and records the treatment p-values of
lm() and of lmerTest's lmer() (Satterthwaite).
"""

from __future__ import annotations

import math
import warnings

import numpy as np
import pandas as pd
import pytest
import statsmodels.formula.api as smf

from mlmtools.exceptions import ConvergenceWarning
from mlmtools.simulate.rng import RRandom
from mlmtools.simulate.trials import check_cluster_design, simulate_cluster_trial
from mlmtools.simulate.type1 import mixed_treatment_pvalues, ols_treatment_pvalue, simulate_type1

SIGMA_U, SIGMA_E = math.sqrt(0.25), math.sqrt(0.75)


@pytest.fixture(scope="module")
def r_p_values(seed_reference: dict) -> pd.DataFrame:
    return pd.DataFrame({"p_ols": seed_reference["sim_p"]["p_ols"], "p_mixed": seed_reference["sim_p"]["p_mixed"]})


def test_one_trial_is_the_lectures_demo_data(seed_reference: dict) -> None:
    data = simulate_cluster_trial(10, 30, SIGMA_U, SIGMA_E, seed=2026)
    assert list(data.columns) == ["school", "treatment", "school_effect", "y"]
    assert data["school"].tolist() == list(np.repeat(np.arange(1, 11), 30))
    assert data["treatment"].tolist() == [0] * 150 + [1] * 150
    school_means = data.groupby("school")["y"].mean().to_numpy()
    np.testing.assert_allclose(school_means, seed_reference["demo_school_means"], rtol=1e-13)
    group_means = data.groupby("treatment")["y"].mean().to_numpy()
    np.testing.assert_allclose(group_means, seed_reference["demo_group_means"], rtol=1e-13)


def test_ols_pvalue_matches_lm_and_statsmodels(seed_reference: dict) -> None:
    data = simulate_cluster_trial(seed=2026)
    p_value = ols_treatment_pvalue(data)
    assert p_value == pytest.approx(seed_reference["demo_ols"][1][3], rel=1e-10)
    assert p_value == pytest.approx(smf.ols("y ~ treatment", data).fit().pvalues["treatment"], rel=1e-10)


def test_mixed_pvalues_of_the_demo(seed_reference: dict) -> None:
    p_values = mixed_treatment_pvalues(simulate_cluster_trial(seed=2026))
    assert p_values.satterthwaite == pytest.approx(seed_reference["demo_mixed"][1][4], rel=1e-6)
    assert 0 < p_values.z < p_values.satterthwaite


def test_all_thousand_ols_pvalues_equal_rs(r_p_values: pd.DataFrame) -> None:
    stream = RRandom(2026)
    p_ols = np.array([ols_treatment_pvalue(simulate_cluster_trial(seed=stream)) for _ in range(1000)])
    np.testing.assert_allclose(p_ols, r_p_values["p_ols"], rtol=1e-9)


@pytest.mark.parametrize("method", ["fast", "general"])
def test_first_replicates_equal_rs(r_p_values: pd.DataFrame, method: str) -> None:
    results = simulate_type1(n_sims=20, seed=2026, method=method)
    assert list(results.columns) == ["p_ols", "p_mixed", "p_mixed_z"]
    np.testing.assert_allclose(results["p_ols"], r_p_values["p_ols"][:20], rtol=1e-9)
    np.testing.assert_allclose(results["p_mixed"], r_p_values["p_mixed"][:20], rtol=1e-6)


def test_seed_as_int_or_stream_gives_the_same_study() -> None:
    from_int = simulate_type1(n_sims=3, seed=7)
    from_stream = simulate_type1(n_sims=3, seed=RRandom(7))
    pd.testing.assert_frame_equal(from_int, from_stream)


def test_a_continuing_stream_is_not_restarted() -> None:
    stream = RRandom(2026)
    first = simulate_type1(n_sims=2, seed=stream)
    second = simulate_type1(n_sims=2, seed=stream)
    assert not np.allclose(first.to_numpy(), second.to_numpy())
    both = simulate_type1(n_sims=4, seed=2026)
    np.testing.assert_array_equal(pd.concat([first, second]).to_numpy(), both.to_numpy())


def test_z_pvalues_are_what_statsmodels_mixedlm_reports() -> None:
    # Nelder-Mead: statsmodels' default gradient optimizers do not converge on data sets 3 and 9.
    stream = RRandom(2026)
    results = simulate_type1(n_sims=20, seed=2026)
    statsmodels_p = []
    for _ in range(20):
        data = simulate_cluster_trial(seed=stream)
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            fit = smf.mixedlm("y ~ treatment", data, groups=data["school"]).fit(reml=True, method="nm")
        statsmodels_p.append(fit.pvalues["treatment"])
    np.testing.assert_allclose(results["p_mixed_z"], statsmodels_p, atol=1e-4)


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        ({"n_clusters": 9}, "even"),
        ({"n_clusters": 0}, "even"),
        ({"cluster_size": 0}, "cluster_size"),
        ({"sigma_e": 0.0}, "sigma_e"),
        ({"sigma_u": -1.0}, "sigma_u"),
    ],
)
def test_impossible_designs_are_refused(arguments: dict, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        simulate_cluster_trial(**arguments)


def test_unknown_method_and_too_small_a_design_for_the_fast_path_are_refused() -> None:
    with pytest.raises(ValueError, match="method"):
        simulate_type1(n_sims=2, method="quick")
    with pytest.raises(ValueError, match="fast path needs at least 4 clusters"):
        simulate_type1(n_sims=2, n_clusters=2, method="fast")


def test_auto_uses_the_general_engine_when_the_design_is_too_small() -> None:
    # With two clusters the variance parameters are barely identified: like lmerTest, the general engine
    # warns that the Hessian of the variance parameters has an eigenvalue close to zero.
    with pytest.warns(ConvergenceWarning, match="eigenvalue close to zero"):
        results = simulate_type1(n_sims=2, n_clusters=2, cluster_size=5, seed=1)
    with pytest.warns(ConvergenceWarning, match="eigenvalue close to zero"):
        general = simulate_type1(n_sims=2, n_clusters=2, cluster_size=5, seed=1, method="general")
    pd.testing.assert_frame_equal(results, general)


def test_n_sims_must_be_a_positive_integer() -> None:
    with pytest.raises(ValueError, match="n_sims"):
        simulate_type1(n_sims=0)
    with pytest.raises(TypeError, match="n_sims"):
        simulate_type1(n_sims=10.0)


@pytest.mark.parametrize("method", ["fast", pytest.param("general", marks=pytest.mark.slow)])
def test_thousand_replicates_reproduce_rs_study(seed_reference: dict, r_p_values: pd.DataFrame, method: str) -> None:
    results = simulate_type1(n_sims=1000, n_clusters=10, cluster_size=30, sigma_u=SIGMA_U, sigma_e=SIGMA_E,
                             seed=2026, method=method)
    np.testing.assert_allclose(results["p_ols"], r_p_values["p_ols"], rtol=1e-9)
    # R's optimizer stops within ~1e-8 of the REML optimum in theta; where p is tiny (t near 8) that moves
    # p by up to ~5e-6 relative, so a handful of replicates need the looser bound.
    relative = np.abs(results["p_mixed"] / r_p_values["p_mixed"] - 1)
    assert np.mean(relative < 1e-6) >= 0.99
    assert relative.max() < 1e-5
    for column in ("p_ols", "p_mixed"):
        np.testing.assert_array_equal(results[column] < 0.05, r_p_values[column] < 0.05)
    rates = (results[["p_ols", "p_mixed"]] < 0.05).mean().to_numpy()
    np.testing.assert_array_equal(rates, seed_reference["sim_type1"])
    # The z-test uses the same t statistic with a lighter-tailed reference, so it always rejects more.
    assert (results["p_mixed_z"] < results["p_mixed"]).all()


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        ({"n_clusters": 10.0}, "n_clusters must be an even number of at least 2"),
        ({"n_clusters": True}, "n_clusters"),
        ({"n_clusters": 2, "min_clusters": 4}, "at least 4"),
        ({"cluster_size": 1, "min_cluster_size": 2}, "cluster_size must be an integer of at least 2, got 1"),
        ({"cluster_size": 2.5}, "cluster_size"),
        ({"sigma_u": math.inf, "sigma_e": 1.0}, "finite sigma_u"),
    ],
)
def test_check_cluster_design_names_the_bad_setting(arguments: dict, message: str) -> None:
    settings = {"n_clusters": 6, "cluster_size": 3} | arguments
    with pytest.raises(ValueError, match=message):
        check_cluster_design(**settings)


def test_check_cluster_design_accepts_the_smallest_designs() -> None:
    check_cluster_design(2, 1, 0.0, 1.0)
    check_cluster_design(np.int64(4), np.int64(2), min_clusters=4, min_cluster_size=2)


def test_the_three_studies_apply_the_same_design_rule() -> None:
    from mlmtools.simulate.balanced import balanced_type1_pvalues
    from mlmtools.simulate.power import power_analytic

    for study in (lambda: simulate_cluster_trial(n_clusters=5), lambda: balanced_type1_pvalues(2, n_clusters=5),
                  lambda: power_analytic(5, 10, 0.1, 0.3)):
        with pytest.raises(ValueError, match=r"n_clusters must be an even number of at least \d \(half control"):
            study()
