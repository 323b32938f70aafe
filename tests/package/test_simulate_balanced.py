"""The balanced fast path (mlmtools.simulate.balanced) against the general lmer engine and against R.

R's numbers come from tests/fixtures/seed-reference.json: `sim_p` holds the 1,000 treatment p-values of
lm() and lmerTest::lmer() in the lecture's type I error study (set.seed(2026)), `demo_mixed` lmerTest's
coefficient table for its first data set.
"""

from __future__ import annotations

import math
import warnings

import numpy as np
import pandas as pd
import pytest

from mlmtools.exceptions import SingularFitWarning
from mlmtools.lmm import lmer
from mlmtools.simulate.balanced import balanced_type1_pvalues, fit_balanced_random_intercept
from mlmtools.simulate.cluster_means import fit_balanced_ols
from mlmtools.simulate.rng import RRandom
from mlmtools.simulate.trials import draw_balanced_trials, simulate_cluster_trial

SIGMA_U, SIGMA_E = math.sqrt(0.25), math.sqrt(0.75)
TREATMENT = pd.Series(np.repeat([0.0, 1.0], 5), name="treatment")


@pytest.fixture(scope="module")
def lecture_study() -> pd.DataFrame:
    return balanced_type1_pvalues(1000, 10, 30, SIGMA_U, SIGMA_E, seed=2026)


def general_engine(y: np.ndarray, x_cluster: pd.DataFrame, cluster_size: int) -> tuple[pd.DataFrame, object]:
    """lmerTest-style coefficient table of one data set from the general engine (mlmtools.lmm)."""
    n_clusters = len(x_cluster)
    data = pd.DataFrame({"y": y, "cluster": np.repeat(np.arange(n_clusters), cluster_size)})
    for column in x_cluster.columns:
        data[column] = np.repeat(x_cluster[column].to_numpy(), cluster_size)
    formula = "y ~ " + " + ".join(x_cluster.columns) + " + (1 | cluster)"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", SingularFitWarning)
        fit = lmer(formula, data)
    return fit.coef_table("satterthwaite"), fit


# -- against R ---------------------------------------------------------------------------------------


def test_first_data_set_is_lmertests_demo_fit(seed_reference: dict) -> None:
    y = simulate_cluster_trial(seed=2026)["y"].to_numpy()
    fit = fit_balanced_random_intercept(y, 30, TREATMENT)
    expected = np.array(seed_reference["demo_mixed"])  # Estimate, SE, df, t, p per coefficient
    np.testing.assert_allclose(fit.coef[0], expected[:, 0], rtol=1e-9)
    np.testing.assert_allclose(fit.std_error[0], expected[:, 1], rtol=1e-7)
    np.testing.assert_allclose(fit.df[0], expected[:, 2], rtol=1e-7)
    np.testing.assert_allclose(fit.p_value[0, 1], expected[1, 4], rtol=1e-7)
    assert fit.names == ("(Intercept)", "treatment")


def test_intercept_only_fit_is_lmertests_fit_of_the_prevention_data(seed_reference: dict) -> None:
    from mlmtools.datasets import prevention

    scores = prevention()["risk_score"].to_numpy(dtype=float)  # 5 communities of 4 schools, in order
    fit = fit_balanced_random_intercept(scores, 4, 5)
    assert fit.names == ("(Intercept)",)
    np.testing.assert_allclose([fit.sigma2_between[0], fit.sigma2_within[0]], seed_reference["prev_vc"], rtol=1e-6)
    expected = seed_reference["prev_fixef"][0]  # Estimate, SE, df, t, p
    np.testing.assert_allclose([fit.coef[0, 0], fit.std_error[0, 0], fit.df[0, 0], fit.t_value[0, 0],
                                fit.p_value[0, 0]], expected, rtol=1e-6)


def test_ols_pvalues_of_the_thousand_data_sets_equal_rs(seed_reference: dict, lecture_study: pd.DataFrame) -> None:
    np.testing.assert_allclose(lecture_study["p_ols"], seed_reference["sim_p"]["p_ols"], rtol=1e-9)


def test_mixed_pvalues_of_the_thousand_data_sets_equal_rs(seed_reference: dict, lecture_study: pd.DataFrame) -> None:
    r_p = np.asarray(seed_reference["sim_p"]["p_mixed"])
    ours = lecture_study["p_mixed"].to_numpy()
    relative = np.abs(ours / r_p - 1)
    # R's Satterthwaite df carries numDeriv noise of about 1e-6 (7.99999924 for an exact 8); in the far
    # tail of t_8 that moves a p-value by a few 1e-6, which is what the three largest differences are.
    assert np.sum(relative > 1e-6) <= 3
    assert relative.max() < 5e-6
    np.testing.assert_array_equal(ours < 0.05, r_p < 0.05)


def test_type1_error_rates_are_the_lectures(seed_reference: dict, lecture_study: pd.DataFrame) -> None:
    rates = [float(np.mean(lecture_study["p_ols"] < 0.05)), float(np.mean(lecture_study["p_mixed"] < 0.05))]
    assert rates == seed_reference["sim_type1"] == [0.5, 0.045]


def test_lme4_stopping_point_matters_and_exact_optimum_differs(seed_reference: dict) -> None:
    # Where the REML criterion is flat, lme4's optimizer stops visibly short of the exact optimum;
    # R's p-value of data set 691 is the stopping point's, not the optimum's.
    trials = draw_balanced_trials(691, 10, 30, SIGMA_U, SIGMA_E, seed=2026, intercept=50.0)
    lme4_like = fit_balanced_random_intercept(trials[690:], 30, TREATMENT, optimum="lme4")
    exact = fit_balanced_random_intercept(trials[690:], 30, TREATMENT, optimum="exact")
    r_p = seed_reference["sim_p"]["p_mixed"][690]
    assert lme4_like.p_value[0, 1] == pytest.approx(r_p, rel=1e-8)
    assert abs(exact.p_value[0, 1] / r_p - 1) > 1e-5


# -- against the general engine ------------------------------------------------------------------------


@pytest.fixture(scope="module")
def near_boundary_study() -> tuple[np.ndarray, object]:
    # Small cluster effects and small clusters: about a third of the data sets have MSB <= MSW.
    trials = draw_balanced_trials(50, 10, 5, 0.2, 1.0, seed=RRandom(11), intercept=3.0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", SingularFitWarning)
        fit = fit_balanced_random_intercept(trials, 5, TREATMENT)
    return trials, fit


def test_the_near_boundary_study_has_both_kinds_of_data_set(near_boundary_study) -> None:
    _, fit = near_boundary_study
    assert 5 <= fit.boundary.sum() <= 45


def test_every_data_set_matches_the_general_engine(near_boundary_study) -> None:
    trials, fit = near_boundary_study
    x_cluster = TREATMENT.to_frame()
    for index in range(trials.shape[0]):
        table, general = general_engine(trials[index].reshape(-1), x_cluster, 5)
        # Both run NLopt's BOBYQA on the same criterion, computed in different floating-point
        # order, so their stopping points can differ in the 8th digit.
        np.testing.assert_allclose(fit.coef[index], table["Estimate"], rtol=1e-9, atol=1e-12)
        np.testing.assert_allclose(fit.std_error[index], table["Std. Error"], rtol=2e-7)
        np.testing.assert_allclose(fit.df[index], table["df"], rtol=2e-7)
        np.testing.assert_allclose(fit.p_value[index], table["Pr(>|t|)"], rtol=2e-6)
        assert fit.sigma2_within[index] == pytest.approx(general.sigma**2, rel=1e-7)
        assert fit.sigma2_between[index] == pytest.approx((general.theta[0] * general.sigma) ** 2,
                                                          rel=1e-6, abs=1e-7)
        assert bool(fit.boundary[index]) == bool(general.theta[0] < 1e-5)


def test_two_cluster_level_predictors_match_the_general_engine() -> None:
    x_cluster = pd.DataFrame({"treatment": np.repeat([0.0, 1.0], 6), "size": np.linspace(-1.0, 2.0, 12) ** 2})
    trials = draw_balanced_trials(4, 12, 8, 0.6, 1.0, seed=np.random.default_rng(3))
    fit = fit_balanced_random_intercept(trials, 8, x_cluster)
    assert fit.names == ("(Intercept)", "treatment", "size")
    assert not fit.boundary.any()
    for index in range(4):
        table, _ = general_engine(trials[index].reshape(-1), x_cluster, 8)
        np.testing.assert_allclose(fit.coef[index], table["Estimate"], rtol=1e-9)
        np.testing.assert_allclose(fit.std_error[index], table["Std. Error"], rtol=2e-7)
        np.testing.assert_allclose(fit.p_value[index], table["Pr(>|t|)"], rtol=2e-6)
    np.testing.assert_allclose(fit.df, 12 - 3, rtol=1e-5)


# -- the closed form -----------------------------------------------------------------------------------


def test_exact_optimum_is_the_anova_solution() -> None:
    trials = draw_balanced_trials(20, 8, 6, 1.5, 1.0, seed=np.random.default_rng(5))
    treatment = np.repeat([0.0, 1.0], 4)
    fit = fit_balanced_random_intercept(trials, 6, treatment, optimum="exact")
    means = trials.mean(axis=2)
    within_ms = ((trials - means[:, :, None]) ** 2).sum(axis=(1, 2)) / (8 * 5)
    arm_means = np.stack([means[:, :4].mean(axis=1), means[:, 4:].mean(axis=1)], axis=1)
    between_ms = 6 * ((means - np.repeat(arm_means, 4, axis=1)) ** 2).sum(axis=1) / (8 - 2)
    assert np.all(between_ms > within_ms)
    np.testing.assert_allclose(fit.sigma2_within, within_ms, rtol=1e-12)
    np.testing.assert_allclose(fit.sigma2_between, (between_ms - within_ms) / 6, rtol=1e-10)
    np.testing.assert_allclose(fit.coef[:, 1], arm_means[:, 1] - arm_means[:, 0], rtol=1e-12)
    np.testing.assert_allclose(fit.std_error[:, 1], np.sqrt(between_ms / 6 * (1 / 4 + 1 / 4)), rtol=1e-12)
    np.testing.assert_allclose(fit.df, 8 - 2, rtol=1e-7)


def test_ols_matches_statsmodels() -> None:
    import statsmodels.formula.api as smf

    trials = draw_balanced_trials(3, 6, 4, 0.5, 1.0, seed=np.random.default_rng(9))
    x_cluster = pd.DataFrame({"treatment": [0, 0, 0, 1, 1, 1], "z": [0.3, -1.0, 2.0, 0.1, 0.5, -0.4]})
    fit = fit_balanced_ols(trials, 4, x_cluster)
    for index in range(3):
        data = x_cluster.loc[np.repeat(np.arange(6), 4)].reset_index(drop=True)
        data["y"] = trials[index].reshape(-1)
        reference = smf.ols("y ~ treatment + z", data).fit()
        np.testing.assert_allclose(fit.coef[index], reference.params, rtol=1e-10)
        np.testing.assert_allclose(fit.std_error[index], reference.bse, rtol=1e-10)
        np.testing.assert_allclose(fit.p_value[index], reference.pvalues, rtol=1e-8)
    assert fit.df == 24 - 3


# -- draws ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("sigma_u", [0.5, 0.0])
@pytest.mark.parametrize("kind", ["R", "numpy"])
def test_vectorized_draws_equal_the_replicate_loop(sigma_u: float, kind: str) -> None:
    def source():
        return RRandom(4) if kind == "R" else np.random.default_rng(4)

    trials = draw_balanced_trials(3, 4, 5, sigma_u, 0.8, seed=source(), intercept=50.0)
    from mlmtools.simulate.seeding import as_generator

    stream = as_generator(source())
    looped = [simulate_cluster_trial(4, 5, sigma_u, 0.8, seed=stream)["y"].to_numpy() for _ in range(3)]
    np.testing.assert_array_equal(trials.reshape(3, -1), np.stack(looped))


def test_a_continuing_stream_gives_the_next_replicates() -> None:
    stream = RRandom(2026)
    first = balanced_type1_pvalues(3, seed=stream)
    second = balanced_type1_pvalues(2, seed=stream)
    together = balanced_type1_pvalues(5, seed=2026)
    pd.testing.assert_frame_equal(pd.concat([first, second], ignore_index=True), together)


# -- interface -----------------------------------------------------------------------------------------


def test_one_warning_names_the_number_of_boundary_fits(near_boundary_study) -> None:
    trials, fit = near_boundary_study
    with pytest.warns(SingularFitWarning, match=f"{int(fit.boundary.sum())} of 50 data sets") as record:
        fit_balanced_random_intercept(trials, 5, TREATMENT)
    assert len(record) == 1
    assert record[0].filename == __file__


def test_shapes_are_accepted_and_checked() -> None:
    trials = draw_balanced_trials(2, 4, 3, 0.8, 1.0, seed=np.random.default_rng(1))
    flat = fit_balanced_ols(trials.reshape(2, -1), 3, [0, 0, 1, 1])
    cubic = fit_balanced_ols(trials, 3, [0, 0, 1, 1])
    np.testing.assert_array_equal(flat.p_value, cubic.p_value)
    assert fit_balanced_ols(trials[0].reshape(-1), 3, [0, 0, 1, 1]).coef.shape == (1, 2)
    with pytest.raises(ValueError, match="observations per data set"):
        fit_balanced_ols(trials.reshape(2, -1)[:, :-1], 3, [0, 0, 1, 1])
    with pytest.raises(ValueError, match="cluster_size"):
        fit_balanced_random_intercept(trials, 1, [0, 0, 1, 1])
    with pytest.raises(ValueError, match="rank deficient"):
        fit_balanced_ols(trials, 3, np.column_stack([[0, 0, 1, 1], [0, 0, 2, 2]]))
    with pytest.raises(ValueError, match="more clusters than coefficients"):
        fit_balanced_ols(trials[:, :2], 3, [0, 1])
    with pytest.raises(ValueError, match="optimum"):
        fit_balanced_random_intercept(trials, 3, [0, 0, 1, 1], optimum="closest")


@pytest.mark.parametrize(
    ("arguments", "message"),
    [({"n_sims": 0}, "n_sims"), ({"n_clusters": 7}, "even"), ({"n_clusters": 2}, "n_clusters"),
     ({"cluster_size": 1}, "cluster_size"), ({"sigma_e": 0.0}, "sigma_e")],
)
def test_impossible_studies_are_refused(arguments: dict, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        balanced_type1_pvalues(**arguments)
