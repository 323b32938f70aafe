"""geeglm against R's geepack.

Reference numbers:

* ``fixtures/seed-reference.json`` (keys ``gee_*``): the lecture's sleepstudy fits,
  made by ``fixtures/seed-reference.R``;
* ``fixtures/gee_cases.json``: binomial, Poisson, waves and full unstructured fits with
  QIC, made by ``fixtures/r/make_gee_cases.R`` on the ``fixtures/data_*.csv`` files;
* ``fixtures/gee_summary_sleepstudy_exchangeable.txt``: R's printed ``summary()`` of the
  exchangeable sleepstudy fit, as the lecture slides show it.

Every numeric comparison is at 1e-4 relative (the measured agreement is ~1e-12).
"""

from __future__ import annotations

import json
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import mlmtools
from mlmtools.exceptions import ConvergenceWarning, MissingRowsWarning
from mlmtools.gee import GeeFit, GeeSummary, geeglm
from mlmtools.gee.correlation import AR1, Exchangeable, Independence, Unstructured, make_correlation
from mlmtools.glmm.families import Binomial, Poisson
from mlmtools.glmm.family_names import FAMILIES, get_family

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"
SLEEPSTUDY_CSV = Path(mlmtools.__file__).parent / "datasets" / "data" / "sleepstudy.csv"
SEED_REFERENCE = json.loads((FIXTURES / "seed-reference.json").read_text())
GEE_CASES_FILE = FIXTURES / "gee_cases.json"
RTOL = 1e-4
STRUCTURES = ["independence", "exchangeable", "ar1", "unstructured"]


def assert_close(actual, expected, rtol: float = RTOL) -> None:
    np.testing.assert_allclose(np.asarray(actual, dtype=float), np.asarray(expected, dtype=float),
                               rtol=rtol, atol=0.0)


@pytest.fixture(scope="module")
def sleepstudy() -> pd.DataFrame:
    return pd.read_csv(SLEEPSTUDY_CSV, dtype={"Subject": str})


@pytest.fixture(scope="module")
def sleep_fits(sleepstudy) -> dict[str, GeeFit]:
    return {cs: geeglm("Reaction ~ Days", sleepstudy, id="Subject", corstr=cs) for cs in STRUCTURES}


# ------------------------------------------------------------------------------------------
# The lecture's sleepstudy fits (seed-reference.json)
# ------------------------------------------------------------------------------------------


def _seed_coefficients(corstr: str) -> pd.DataFrame:
    entry = SEED_REFERENCE["gee_unstructured_coef" if corstr == "unstructured" else f"gee_{corstr}"]
    rows = entry if isinstance(entry, list) else entry["coef"]
    return pd.DataFrame(rows).set_index("_row")


@pytest.mark.parametrize("corstr", STRUCTURES)
def test_sleepstudy_coefficient_table_matches_geepack(sleep_fits, corstr):
    expected = _seed_coefficients(corstr)
    table = sleep_fits[corstr].summary().coefficients
    assert list(table.index) == list(expected.index)
    for column in ["Estimate", "Std.err", "Wald", "Pr(>|W|)"]:
        assert_close(table[column], expected[column])


@pytest.mark.parametrize("corstr", ["independence", "exchangeable", "ar1"])
def test_sleepstudy_scale_and_correlation_match_geepack(sleep_fits, corstr):
    expected = SEED_REFERENCE[f"gee_{corstr}"]
    fit = sleep_fits[corstr]
    assert_close(fit.scale, expected["scale"][0]["Estimate"])
    assert_close(fit.scale_se, expected["scale"][0]["Std.err"])
    assert_close(fit.alpha, [row["Estimate"] for row in expected["corr"]])
    assert_close(fit.alpha_se, [row["Std.err"] for row in expected["corr"]])
    assert fit.n_clusters == 18
    assert fit.max_cluster_size == 10
    assert fit.converged


def test_summary_prints_as_geepack(sleepstudy):
    expected = (FIXTURES / "gee_summary_sleepstudy_exchangeable.txt").read_text()
    fit = geeglm("Reaction ~ Days", sleepstudy, id="Subject", corstr="exchangeable", data_name="sleepstudy")
    summary = fit.summary()
    assert isinstance(summary, GeeSummary)
    assert str(summary) == expected


def test_summary_of_independence_has_no_correlation_block(sleep_fits):
    text = str(sleep_fits["independence"].summary())
    assert "Correlation structure = independence \n" in text
    assert "Estimated Correlation Parameters" not in text
    assert "Link = identity" not in text
    assert text.endswith("Number of clusters:   18  Maximum cluster size: 10 \n")


def test_vcov_is_the_robust_covariance(sleep_fits):
    fit = sleep_fits["exchangeable"]
    vcov = fit.vcov()
    assert list(vcov.index) == ["(Intercept)", "Days"]
    assert_close(np.sqrt(np.diag(vcov)), fit.std_errors, rtol=1e-12)
    assert_close(vcov.to_numpy(), vcov.to_numpy().T, rtol=1e-12)


def test_robust_covariance_agrees_with_statsmodels(sleepstudy, sleep_fits):
    """statsmodels' exchangeable GEE with ddof_scale=0 solves the same equations (algorithms.md 3.4)."""
    sm = pytest.importorskip("statsmodels.api")
    X = sm.add_constant(sleepstudy["Days"].to_numpy(float))
    model = sm.GEE(sleepstudy["Reaction"].to_numpy(), X, groups=sleepstudy["Subject"].to_numpy(),
                   cov_struct=sm.cov_struct.Exchangeable())
    result = model.fit(ddof_scale=0)
    fit = sleep_fits["exchangeable"]
    assert_close(result.params, fit.coefficients, rtol=1e-6)
    assert_close(result.cov_robust, fit.vcov().to_numpy(), rtol=1e-6)
    assert_close(model.cov_struct.dep_params, fit.alpha[0], rtol=1e-6)


# ------------------------------------------------------------------------------------------
# geepack cases: binomial, Poisson, waves, unstructured, QIC (gee_cases.json)
# ------------------------------------------------------------------------------------------

CASE_CALLS = {
    "sleep_independence": ("Reaction ~ Days", dict(id="Subject", corstr="independence")),
    "sleep_exchangeable": ("Reaction ~ Days", dict(id="Subject", corstr="exchangeable")),
    "sleep_ar1": ("Reaction ~ Days", dict(id="Subject", corstr="ar1")),
    "sleep_unstructured": ("Reaction ~ Days", dict(id="Subject", corstr="unstructured")),
    "binary_exchangeable": ("y ~ x + treat", dict(id="id", family="binomial", corstr="exchangeable")),
    "binary_ar1": ("y ~ x + treat", dict(id="id", family="binomial", corstr="ar1")),
    "counts_exchangeable": ("count ~ x + offset(log(exposure))",
                            dict(id="id", family="poisson", corstr="exchangeable")),
    "counts_independence": ("count ~ x + offset(log(exposure))",
                            dict(id="id", family="poisson", corstr="independence")),
    "waves_ar1": ("y ~ time", dict(id="id", waves="time", corstr="ar1")),
    "waves_ar1_no_waves": ("y ~ time", dict(id="id", corstr="ar1")),
}


def _load_cases() -> dict:
    if not GEE_CASES_FILE.exists():
        return {}
    return json.loads(GEE_CASES_FILE.read_text())["cases"]


GEE_CASES = _load_cases()
needs_cases = pytest.mark.skipif(not GEE_CASES, reason="tests/fixtures/gee_cases.json not generated yet")


def _case_data(file_name: str) -> pd.DataFrame:
    return pd.read_csv(FIXTURES / file_name, dtype={"Subject": str, "id": str})


@pytest.fixture(scope="module")
def case_fits() -> dict[str, GeeFit]:
    fits = {}
    for name, case in GEE_CASES.items():
        formula, kwargs = CASE_CALLS[name]
        fits[name] = geeglm(formula, _case_data(case["data"]), **kwargs)
    return fits


def _frame(table: dict) -> pd.DataFrame:
    return pd.DataFrame(table["columns"], index=table["rownames"])


@needs_cases
def test_every_case_is_mapped():
    assert set(GEE_CASES) == set(CASE_CALLS)


@needs_cases
@pytest.mark.parametrize("name", list(CASE_CALLS))
def test_case_estimates_and_standard_errors(case_fits, name):
    case, fit = GEE_CASES[name], case_fits[name]
    assert fit.family.name == case["family"]
    assert fit.corstr == case["corstr"]
    assert fit.nobs == case["nobs"]
    assert fit.n_clusters == case["n_clusters"]
    assert fit.max_cluster_size == case["max_cluster_size"]
    assert fit.converged == (case["geese_error_code"] == 0)
    assert fit.cluster_sizes.tolist() == case["cluster_sizes"]
    coefficients = _frame(case["coefficients"])
    table = fit.summary().coefficients
    assert list(table.index) == list(coefficients.index)
    for column in ["Estimate", "Std.err", "Wald", "Pr(>|W|)"]:
        assert_close(table[column], coefficients[column])
    dispersion = _frame(case["dispersion"])
    assert_close(fit.scale, dispersion["Estimate"].iloc[0])
    assert_close(fit.scale_se, dispersion["Std.err"].iloc[0])
    assert_close(fit.vcov().to_numpy(), np.array(case["vcov_robust"]["values"], dtype=float))
    assert_close(fit.fitted().to_numpy()[:10], case["fitted_first10"])


@needs_cases
@pytest.mark.parametrize("name", [n for n in CASE_CALLS if not n.endswith("independence")])
def test_case_correlation_parameters(case_fits, name):
    case, fit = GEE_CASES[name], case_fits[name]
    corr = _frame(case["corr"])
    assert fit.alpha_names == list(case["alpha"])
    assert_close(fit.alpha, list(case["alpha"].values()))
    assert_close(fit.alpha, corr["Estimate"])
    assert_close(fit.alpha_se, corr["Std.err"])


@needs_cases
@pytest.mark.parametrize("name", list(CASE_CALLS))
def test_case_qic(case_fits, name):
    expected = GEE_CASES[name]["QIC"]
    if "error" in expected:
        pytest.skip(f"R's QIC() failed on this case: {expected['error']}")
    actual = case_fits[name].qic()
    assert list(actual.index) == list(expected)
    assert_close(actual.to_numpy(), list(expected.values()))


# ------------------------------------------------------------------------------------------
# Row order, clusters and waves
# ------------------------------------------------------------------------------------------


def test_rows_are_grouped_by_id_and_fitted_values_keep_the_callers_order(sleepstudy, sleep_fits):
    shuffled = sleepstudy.sample(frac=1.0, random_state=3)
    fit = geeglm("Reaction ~ Days", shuffled, id="Subject", corstr="exchangeable")
    reference = sleep_fits["exchangeable"]
    assert_close(fit.coefficients, reference.coefficients, rtol=1e-10)
    assert_close(fit.std_errors, reference.std_errors, rtol=1e-10)
    assert fit.n_clusters == 18
    assert list(fit.fitted().index) == list(shuffled.index)
    assert_close(fit.fitted(), reference.fitted().loc[shuffled.index], rtol=1e-10)
    expected_resid = shuffled["Reaction"] - fit.fitted()
    assert_close(fit.residuals("response"), expected_resid, rtol=1e-10)


def test_waves_order_rows_within_a_cluster(sleepstudy, sleep_fits):
    reversed_rows = sleepstudy.iloc[::-1]
    fit = geeglm("Reaction ~ Days", reversed_rows, id="Subject", corstr="ar1", waves="Days")
    reference = sleep_fits["ar1"]
    assert_close(fit.coefficients, reference.coefficients, rtol=1e-10)
    assert_close(fit.alpha, reference.alpha, rtol=1e-10)
    assert_close(fit.alpha_se, reference.alpha_se, rtol=1e-10)


def test_missing_rows_are_dropped_with_a_warning(sleepstudy):
    data = sleepstudy.copy()
    data.loc[5, "Reaction"] = np.nan
    with pytest.warns(MissingRowsWarning) as record:
        fit = geeglm("Reaction ~ Days", data, id="Subject", corstr="exchangeable")
    assert record[0].filename == __file__
    assert fit.nobs == 179
    assert 5 not in fit.fitted().index


# ------------------------------------------------------------------------------------------
# Errors and warnings
# ------------------------------------------------------------------------------------------


def test_missing_id_column_is_named(sleepstudy):
    with pytest.raises(KeyError, match="id column 'Patient'"):
        geeglm("Reaction ~ Days", sleepstudy, id="Patient")


def test_unknown_corstr_lists_the_allowed_ones(sleepstudy):
    with pytest.raises(ValueError, match="'exchangeable'.*'unstructured'"):
        geeglm("Reaction ~ Days", sleepstudy, id="Subject", corstr="toeplitz")


def test_unknown_family_lists_the_allowed_ones(sleepstudy):
    with pytest.raises(ValueError, match="'binomial'.*'poisson'.*'gamma'"):
        geeglm("Reaction ~ Days", sleepstudy, id="Subject", family="inverse.gaussian")


def test_binomial_response_outside_unit_interval(sleepstudy):
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        geeglm("Reaction ~ Days", sleepstudy, id="Subject", family="binomial")


def test_negative_poisson_counts(sleepstudy):
    data = sleepstudy.assign(count=sleepstudy["Days"] - 3)
    with pytest.raises(ValueError, match="negative"):
        geeglm("count ~ Reaction", data, id="Subject", family="poisson")


def test_a_single_cluster_is_an_error(sleepstudy):
    with pytest.raises(ValueError, match="two clusters"):
        geeglm("Reaction ~ Days", sleepstudy.assign(Subject="all"), id="Subject")


def test_correlation_needs_a_cluster_with_two_rows(sleepstudy):
    with pytest.raises(ValueError, match="two or more rows"):
        geeglm("Reaction ~ Days", sleepstudy.assign(row=np.arange(180)), id="row", corstr="exchangeable")


def test_non_convergence_warns(sleepstudy):
    with pytest.warns(ConvergenceWarning, match="did not converge") as record:
        fit = geeglm("Reaction ~ Days", sleepstudy, id="Subject", corstr="ar1", maxit=2)
    assert record[0].filename == __file__
    assert not fit.converged
    assert fit.n_iter == 2


def test_converged_fit_emits_no_warning(sleepstudy):
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        fit = geeglm("Reaction ~ Days", sleepstudy, id="Subject", corstr="ar1")
    assert fit.converged and 1 < fit.n_iter <= 25


# ------------------------------------------------------------------------------------------
# tidy
# ------------------------------------------------------------------------------------------


def test_tidy_columns_and_wald_limits(sleep_fits):
    from mlmtools.broom import tidy_gee

    fit = sleep_fits["exchangeable"]
    tidy = tidy_gee(fit, conf_int=True, conf_level=0.9)
    assert list(tidy.columns) == ["effect", "term", "estimate", "std_error", "statistic", "p_value",
                                  "conf_low", "conf_high"]
    assert (tidy["effect"] == "fixed").all()
    expected = _seed_coefficients("exchangeable")
    assert_close(tidy["statistic"], expected["Wald"])
    assert_close(tidy["p_value"], expected["Pr(>|W|)"])
    z90 = 1.6448536269514722
    assert_close(tidy["conf_low"], expected["Estimate"] - z90 * expected["Std.err"])
    assert_close(tidy["conf_high"], expected["Estimate"] + z90 * expected["Std.err"])
    assert list(tidy_gee(fit).columns) == ["effect", "term", "estimate", "std_error", "statistic",
                                           "p_value"]


def test_tidy_dispatches_to_the_fit(sleep_fits):
    from mlmtools.broom import tidy, tidy_gee

    fit = sleep_fits["ar1"]
    pd.testing.assert_frame_equal(tidy(fit, conf_int=True), tidy_gee(fit, conf_int=True))
    pd.testing.assert_frame_equal(tidy(fit, effects="fixed"), tidy(fit))
    with pytest.raises(ValueError, match="effects must be 'fixed'"):
        tidy(fit, effects="ran_pars")


def test_names_shared_with_the_mixed_model_results(sleep_fits, sleepstudy):
    from mlmtools.broom import tidy
    from mlmtools.lmm import lmer

    fit = sleep_fits["exchangeable"]
    pd.testing.assert_series_equal(fit.fixef, fit.coefficients)
    pd.testing.assert_frame_equal(fit.coef_table(), fit.summary().coefficients)
    summary = fit.summary()
    assert repr(summary) == str(summary) == summary.format()
    assert summary._repr_html_().startswith("<pre>")
    mixed = lmer("Reaction ~ Days + (1 | Subject)", sleepstudy)
    both = pd.concat([tidy(mixed, effects="fixed"), tidy(fit)], ignore_index=True)
    assert list(both.columns[:2]) == ["effect", "term"]


# ------------------------------------------------------------------------------------------
# Working-correlation structures
# ------------------------------------------------------------------------------------------


def test_ar1_uses_wave_distances():
    corr = AR1().matrix(np.array([0.5]), np.array([1, 2, 4]))
    assert_close(corr, [[1, 0.5, 0.125], [0.5, 1, 0.25], [0.125, 0.25, 1]], rtol=1e-15)


def test_unstructured_parameters_follow_geepack_order():
    structure = Unstructured()
    structure.setup([np.array([1, 2, 3, 4]), np.array([1, 3])])
    assert structure.param_names == ("alpha.1:2", "alpha.1:3", "alpha.1:4", "alpha.2:3", "alpha.2:4", "alpha.3:4")
    alpha = np.arange(1, 7) / 10.0
    corr = structure.matrix(alpha, np.array([2, 3, 4]))
    assert_close(corr[np.triu_indices(3, 1)], [0.4, 0.5, 0.6], rtol=1e-15)


@pytest.mark.parametrize("structure, alpha, waves", [
    (Exchangeable(), np.array([0.3]), np.array([1, 2, 3, 4])),
    (AR1(), np.array([0.6]), np.array([1, 2, 4, 7])),
    (Independence(), np.zeros(0), np.array([1, 2, 3])),
])
def test_correlation_derivatives_match_finite_differences(structure, alpha, waves):
    step = 1e-6
    slope = structure.derivative(alpha, waves)
    for k in range(len(alpha)):
        shift = np.zeros_like(alpha)
        shift[k] = step
        numeric = (structure.pair_correlations(alpha + shift, waves)
                   - structure.pair_correlations(alpha - shift, waves)) / (2 * step)
        assert_close(slope[:, k], numeric, rtol=1e-6)
    assert slope.shape == (len(waves) * (len(waves) - 1) // 2, len(alpha))


def test_unstructured_derivative_is_the_pair_indicator():
    structure = Unstructured()
    structure.setup([np.array([1, 2, 3])])
    assert_close(structure.derivative(np.zeros(3), np.array([1, 2, 3])), np.eye(3), rtol=0)


def test_make_correlation_returns_fresh_objects():
    assert make_correlation("unstructured") is not make_correlation("unstructured")
    assert make_correlation("ar1").name == "ar1"


# ------------------------------------------------------------------------------------------
# The shared families (mlmtools.glmm.families) as GEE uses them
# ------------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["gaussian", "binomial", "poisson"])
def test_family_variance_slope_and_quasi_likelihood_follow_their_definitions(name):
    family = get_family(name, tuple(FAMILIES), clamp=False)
    mu = np.array([0.15, 0.4, 0.7])
    y = np.array([0.0, 1.0, 1.0])
    step = 1e-6
    slope = (family.variance(mu + step) - family.variance(mu - step)) / (2 * step)
    assert_close(family.variance_slope(mu) + 1.0, slope + 1.0, rtol=1e-9)
    # dQ/dmu = (y - mu) / V(mu), one observation at a time
    for i in range(3):
        up, down = mu.copy(), mu.copy()
        up[i] += step
        down[i] -= step
        derivative = (family.quasi_loglik(y, up) - family.quasi_loglik(y, down)) / (2 * step)
        assert_close(derivative, (y[i] - mu[i]) / family.variance(mu[i]), rtol=1e-7)


def test_a_family_object_gives_the_same_fit_as_its_name(sleepstudy):
    data = sleepstudy.assign(slow=(sleepstudy["Reaction"] > 300).astype(float))
    by_name = geeglm("slow ~ Days", data, id="Subject", corstr="exchangeable", family="binomial")
    by_object = geeglm("slow ~ Days", data, id="Subject", corstr="exchangeable", family=Binomial())
    assert not by_object.family.clamp
    np.testing.assert_array_equal(by_object.coef_table().to_numpy(), by_name.coef_table().to_numpy())
    assert "family = binomial" in by_object.call


def test_gee_means_are_not_clamped_as_glmer_means_are():
    eta = np.array([-40.0, 0.0, 40.0])
    unbounded, bounded = Binomial(clamp=False), Binomial()
    assert unbounded.linkinv(eta)[0] < np.finfo(float).eps
    assert bounded.linkinv(eta)[0] == np.finfo(float).eps
    assert bounded.linkinv(eta)[2] == 1.0 - np.finfo(float).eps
    assert Poisson(clamp=False).linkinv(np.array([-800.0]))[0] == 0.0
