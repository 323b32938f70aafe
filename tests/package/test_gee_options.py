"""geeglm's options against R's geepack 1.3.9, and the batched engine against a per-cluster loop.

Reference numbers:

* ``fixtures/geepack_options.json`` (``r/make_geepack_options.R``): std.err "jack", "j1s",
  "fij"; scale.fix; probit and Gamma(log) links; anova of nested fits and sequential anova;
  predict on new data with sandwich standard errors; QIC for four families;
* ``fixtures/geepack_edge_cases.json`` (``r/make_geepack_edge_cases.R``): one-row clusters, and
  a scale fixed at a given value (geese with ``gm``, as geeglm ignores ``scale.value``).

Numbers are compared with :func:`assert_close`, relative to the largest entry (the largest
difference measured is about 3e-12, from R's GLM start; ``TOLERANCE`` leaves a margin).
"""

from __future__ import annotations

import json
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy import stats

import mlmtools
from mlmtools.exceptions import ConvergenceWarning
from mlmtools.gee import GeeFit, geeglm
from mlmtools.gee.correlation import pair_indices
from mlmtools.gee.estimation import GeeData, _alpha_step, _beta_step
from mlmtools.gee.sandwich import cluster_blocks, geepack_covariance

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"
OPTIONS = json.loads((FIXTURES / "geepack_options.json").read_text())
EDGE = json.loads((FIXTURES / "geepack_edge_cases.json").read_text())
TOLERANCE = 1e-10


def assert_close(actual, expected, tol: float = TOLERANCE) -> None:
    """``max |actual - expected| <= tol * max |expected|`` (entries near zero do not inflate it)."""
    actual, expected = np.asarray(actual, dtype=float), np.asarray(expected, dtype=float)
    assert actual.shape == expected.shape
    scale = max(float(np.max(np.abs(expected), initial=0.0)), 1e-300)
    assert float(np.max(np.abs(actual - expected), initial=0.0)) <= tol * scale, (actual, expected)


def frame(table: dict) -> pd.DataFrame:
    return pd.DataFrame(table["columns"], index=table["rownames"])


def data(file_name: str) -> pd.DataFrame:
    return pd.read_csv(FIXTURES / file_name)


DIETOX = ("Weight ~ Cu + Time", {"id": "Pig", "corstr": "ar1"})
OHIO = ("resp ~ age + smoke", {"id": "id", "corstr": "exchangeable", "family": "binomial"})
RESPIRATORY = ("outcome ~ treat + sex + age + baseline + factor(center)",
               {"id": "cid", "corstr": "exchangeable", "family": "binomial"})
EPIL = ("y ~ lbase * trt + lage + V4", {"id": "subject", "corstr": "exchangeable", "family": "poisson"})

OPTION_CALLS = {
    "dietox_ar1": (*DIETOX, {}),
    "dietox_ar1_jack": (*DIETOX, {"std_err": "jack"}),
    "dietox_ar1_j1s": (*DIETOX, {"std_err": "j1s"}),
    "dietox_ar1_fij": (*DIETOX, {"std_err": "fij"}),
    "dietox_ar1_scale_fixed": (*DIETOX, {"scale_fix": True}),
    "dietox_gamma_log": (*DIETOX, {"family": "Gamma", "link": "log"}),
    "ohio_logit": (*OHIO, {}),
    "ohio_logit_scale_fixed": (*OHIO, {"scale_fix": True}),
    "ohio_probit": (*OHIO, {"link": "probit"}),
    "respiratory_san_se": (*RESPIRATORY, {}),
    "respiratory_jack": (*RESPIRATORY, {"std_err": "jack"}),
    "respiratory_j1s": (*RESPIRATORY, {"std_err": "j1s"}),
    "respiratory_fij": (*RESPIRATORY, {"std_err": "fij"}),
    "epil_poisson": (*EPIL, {}),
    # geeglm(scale.value = rep(2, n)) is ignored by geepack 1.3.9: the scale stays at its start
    "epil_poisson_scale_value2": (*EPIL, {"scale_fix": True}),
}
DATA_OF = {case: OPTIONS["cases"][case]["data"] for case in OPTION_CALLS}


@pytest.fixture(scope="module")
def option_fits() -> dict[str, GeeFit]:
    fits = {}
    for name, (formula, base, extra) in OPTION_CALLS.items():
        fits[name] = geeglm(formula, data(DATA_OF[name]), **base, **extra)
    return fits


def test_every_option_case_is_mapped():
    assert set(OPTION_CALLS) == set(OPTIONS["cases"])


@pytest.mark.parametrize("name", list(OPTION_CALLS))
def test_option_estimates_and_standard_errors(option_fits, name):
    case, fit = OPTIONS["cases"][name], option_fits[name]
    assert (fit.family.name, fit.family.link, fit.corstr) == (case["family"], case["link"], case["corstr"])
    assert (fit.std_err, fit.scale_fix, fit.nobs, fit.n_clusters) == (
        case["std_err"], case["scale_fix"], case["nobs"], case["n_clusters"])
    assert fit.converged == (case["geese_error_code"] == 0)
    table, expected = fit.coef_table(), frame(case["coefficients"])
    assert list(table.index) == list(expected.index) == case["beta_names"]
    for column in ["Estimate", "Std.err", "Wald"]:
        assert_close(table[column], expected[column])
    assert_close(fit.vcov(), case["vcov"]["values"])
    assert_close(fit.vcov_naive(), case["geese_variances"]["vbeta.naiv"])
    assert_close(fit.scale, next(iter(case["gamma"].values())))
    assert_close(fit.alpha, list(case["alpha"].values()))
    assert_close(fit.alpha_se, frame(case["corr"])["Std.err"])
    assert_close([fit.scale_se], frame(case["dispersion"])["Std.err"])
    assert_close(fit.fitted().to_numpy()[:10], case["fitted_first10"])


@pytest.mark.parametrize("name", [n for n in OPTION_CALLS if n.split("_")[-1] in ("jack", "j1s", "fij")])
def test_jackknife_covariances_of_every_block(option_fits, name):
    suffix = {"jack": "ajs"}.get(name.split("_")[-1], name.split("_")[-1])
    variances, reported = OPTIONS["cases"][name]["geese_variances"], option_fits[name].state.reported
    assert_close(reported.beta, variances[f"vbeta.{suffix}"])
    assert_close(reported.alpha, variances[f"valpha.{suffix}"])
    assert_close(reported.scale, variances[f"vgamma.{suffix}"])
    sandwich = option_fits[name].state.covariance
    assert_close(sandwich.beta, variances["vbeta"])


@pytest.mark.parametrize("name", [n for n in OPTION_CALLS if "QIC" in OPTIONS["cases"][n]])
def test_qic_for_every_family(option_fits, name):
    expected = OPTIONS["cases"][name]["QIC"]
    actual = option_fits[name].qic()
    assert list(actual.index) == list(expected)
    assert_close(actual, list(expected.values()))


def test_qic_uses_the_sandwich_whatever_std_err_is(option_fits):
    pd.testing.assert_series_equal(option_fits["dietox_ar1_jack"].qic(), option_fits["dietox_ar1"].qic())


def test_summary_of_a_fixed_scale_says_so(option_fits):
    text = str(option_fits["ohio_logit_scale_fixed"].summary())
    assert "Correlation structure = exchangeable \nScale is fixed.\n\n  Link = identity \n" in text
    assert "Estimated Scale Parameters" not in text
    assert "scale.fix = TRUE" in option_fits["ohio_logit_scale_fixed"].call


def test_call_shows_the_link_and_std_err(option_fits):
    assert 'family = binomial(link = "probit")' in option_fits["ohio_probit"].call
    assert 'family = Gamma(link = "log")' in option_fits["dietox_gamma_log"].call
    assert option_fits["respiratory_fij"].call.endswith('std.err = "fij")')


def test_a_family_object_with_a_link_is_the_named_family_and_link():
    from mlmtools.glmm.families import Binomial

    by_name = geeglm(OHIO[0], data("data_ohio.csv"), **OHIO[1], link="probit")
    by_object = geeglm(OHIO[0], data("data_ohio.csv"), **{**OHIO[1], "family": Binomial(link="probit")})
    np.testing.assert_array_equal(by_object.vcov(), by_name.vcov())


# ------------------------------------------------------------------------------------------
# A scale fixed at a value (geese with gm = value)
# ------------------------------------------------------------------------------------------

FIXED_SCALE_CALLS = {"epil_poisson_scale2": EPIL, "dietox_ar1_scale1": DIETOX, "ohio_logit_scale1": OHIO}


@pytest.mark.parametrize("name, std_err", [(name, se) for name in FIXED_SCALE_CALLS
                                           for se in EDGE["fixed_scale"][name]["fits"]])
def test_a_scale_fixed_at_a_value_matches_geese(name, std_err):
    case = EDGE["fixed_scale"][name]
    formula, base = FIXED_SCALE_CALLS[name]
    expected = case["fits"][std_err]
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        fit = geeglm(formula, data(case["data"]), **base, scale_fix=True, scale_value=case["scale_value"],
                     std_err=std_err)
    # geese's error code 1: no convergence in 25 iterations (dietox with the scale held at 1)
    assert [w.category for w in caught] == [ConvergenceWarning] * expected["error"]
    assert fit.scale == case["scale_value"]
    assert_close(fit.coefficients, list(expected["beta"].values()))
    assert_close(fit.alpha, list(expected["alpha"].values()))
    assert_close(fit.vcov(), expected["vbeta"])
    assert_close(fit.vcov_naive(), expected["vbeta_naiv"])
    assert_close(fit.state.reported.alpha, expected["valpha"])
    assert np.all(fit.state.reported.scale == 0.0) and np.all(np.asarray(expected["vgamma"]) == 0.0)


# ------------------------------------------------------------------------------------------
# One-row clusters: geepack repeats the previous cluster's correlation blocks
# ------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def singleton_fits() -> dict[str, GeeFit]:
    rows = data("data_gee_singleton.csv")
    return {cs: geeglm("y ~ x + treat", rows, id="id", family="binomial", corstr=cs)
            for cs in EDGE["singleton_clusters"]}


@pytest.mark.parametrize("corstr", list(EDGE["singleton_clusters"]))
def test_singleton_clusters_match_geepack(singleton_fits, corstr):
    expected, fit = EDGE["singleton_clusters"][corstr], singleton_fits[corstr]
    assert fit.cluster_sizes.tolist() == expected["cluster_sizes"]
    assert fit.cluster_sizes[0] == 1
    coefficients = frame(expected["coefficients"])
    assert_close(fit.coefficients, coefficients["Estimate"])
    assert_close(fit.std_errors, coefficients["Std.err"])
    assert_close(fit.vcov(), expected["vcov"]["values"])
    assert_close([fit.scale_se], frame(expected["dispersion"])["Std.err"])
    assert_close(fit.alpha, list(expected["alpha"].values()))
    assert_close(fit.alpha_se, frame(expected["corr"])["Std.err"])
    assert_close(fit.qic(), list(expected["QIC"].values()))


def test_resetting_the_blocks_of_one_row_clusters_would_miss_geepack(singleton_fits):
    """The rule is what makes alpha's standard error geepack's: with the singletons' correlation
    blocks set to zero the standard error moves far outside the tolerance."""
    fit = singleton_fits["exchangeable"]
    state = fit.state
    blocks = cluster_blocks(state.data, state.estimates.beta, fit.family, state.estimates.scale,
                            state.estimates.alpha, state.structure)
    singletons = np.flatnonzero(fit.cluster_sizes == 1)
    for block in (blocks.D, blocks.E, blocks.F, blocks.U3):
        block[singletons] = 0.0
    reset = np.sqrt(np.diag(geepack_covariance(blocks).alpha))
    expected = frame(EDGE["singleton_clusters"]["exchangeable"]["corr"])["Std.err"].to_numpy()
    assert abs(reset[0] / expected[0] - 1) > 1e-3


# ------------------------------------------------------------------------------------------
# The batched engine gives a per-cluster loop's numbers exactly
# ------------------------------------------------------------------------------------------


def loop_beta_step(data: GeeData, beta, alpha, family, structure):
    eta = data.X @ beta + data.offset
    mu = family.linkinv(eta)
    root_v, root_w = np.sqrt(family.variance(mu)), np.sqrt(data.weights)
    grad = (root_w * family.mu_eta(eta) / root_v)[:, None] * data.X
    resid = root_w * (data.y - mu) / root_v
    p = data.X.shape[1]
    info, score = np.zeros((p, p)), np.zeros(p)
    for rows in data.clusters:
        solved = np.linalg.solve(structure.matrix(alpha, data.waves[rows]),
                                 np.column_stack([grad[rows], resid[rows]]))
        info += grad[rows].T @ solved[:, :p]
        score += grad[rows].T @ solved[:, p]
    return np.linalg.solve(info, score)


def loop_alpha_step(data: GeeData, pearson, scale, alpha, structure):
    q = structure.n_params
    info, score = np.zeros((q, q)), np.zeros(q)
    for rows in data.clusters:
        waves = data.waves[rows]
        if len(waves) < 2:
            continue
        first, second = pair_indices(len(waves))
        w = data.weights[rows]
        weighted = structure.derivative(alpha, waves) * (w[first] * w[second])[:, None]
        z = pearson[rows][first] * pearson[rows][second] / scale
        info += weighted.T @ structure.derivative(alpha, waves)
        score += weighted.T @ (z - structure.pair_correlations(alpha, waves))
    return np.linalg.solve(info, score)


def loop_mean_blocks(data: GeeData, beta, family, scale, alpha, structure):
    """Each cluster's A and U1 as a loop computes them."""
    eta = data.X @ beta + data.offset
    mu = family.linkinv(eta)
    variance = family.variance(mu)
    grad = (family.mu_eta(eta) / np.sqrt(variance))[:, None] * data.X
    pearson = (data.y - mu) / np.sqrt(variance)
    A, U1 = [], []
    for rows in data.clusters:
        root_w = np.sqrt(data.weights[rows])
        grad_w = root_w[:, None] * grad[rows]
        work = scale * structure.matrix(alpha, data.waves[rows])
        A.append(grad_w.T @ np.linalg.solve(work, grad_w))
        U1.append(grad_w.T @ np.linalg.solve(work, root_w * pearson[rows]))
    return np.array(A), np.array(U1)


BINARY = {"id": "id", "family": "binomial"}
ENGINE_CASES = {
    "binary exchangeable": ("data_gee_binary.csv", "y ~ x + treat", {**BINARY, "corstr": "exchangeable"}),
    "binary unstructured": ("data_gee_binary.csv", "y ~ x + treat", {**BINARY, "corstr": "unstructured"}),
    "one-row clusters, AR(1)": ("data_gee_singleton.csv", "y ~ x + treat", {**BINARY, "corstr": "ar1"}),
    "counts with offset": ("data_gee_counts.csv", "count ~ x + offset(log(exposure))",
                           {"id": "id", "family": "poisson", "corstr": "ar1"}),
    "waves with gaps": ("data_gee_waves.csv", "y ~ time", {"id": "id", "waves": "time", "corstr": "ar1"}),
    "dietox, weights": ("data_dietox.csv", "Weight ~ Time + Cu",
                        {"id": "Pig", "corstr": "exchangeable", "weights": "Litter"}),
}


@pytest.mark.parametrize("case", list(ENGINE_CASES))
def test_batched_steps_are_the_loops_to_the_last_bit(case):
    file_name, formula, kwargs = ENGINE_CASES[case]
    fit = geeglm(formula, data(file_name), **kwargs)
    state, family = fit.state, fit.family
    estimates, structure = state.estimates, state.structure
    alpha = estimates.alpha + 0.05 if len(estimates.alpha) else estimates.alpha
    beta = estimates.beta * 1.01
    np.testing.assert_array_equal(_beta_step(state.data, beta, alpha, family, structure, None),
                                  loop_beta_step(state.data, beta, alpha, family, structure))
    if structure.n_params:
        pearson = fit.residuals().to_numpy()[np.argsort(state.caller_rows)] / np.sqrt(state.data.weights)
        np.testing.assert_array_equal(_alpha_step(state.data, pearson, 1.3, alpha, structure, None),
                                      loop_alpha_step(state.data, pearson, 1.3, alpha, structure))
    blocks = cluster_blocks(state.data, beta, family, 1.3, alpha, structure)
    A, U1 = loop_mean_blocks(state.data, beta, family, 1.3, alpha, structure)
    np.testing.assert_array_equal(blocks.A, A)
    np.testing.assert_array_equal(blocks.U1, U1)


# ------------------------------------------------------------------------------------------
# predict, confint
# ------------------------------------------------------------------------------------------

PREDICTION_CALLS = {"ohio_logit": ("data_ohio.csv", *OHIO), "epil_poisson": ("data_epil.csv", *EPIL),
                    "dietox_gamma_log": ("data_dietox.csv", DIETOX[0], {**DIETOX[1], "family": "Gamma", "link": "log"})}


@pytest.fixture(scope="module")
def prediction_fits() -> dict[str, GeeFit]:
    return {name: geeglm(formula, data(file_name), **kwargs)
            for name, (file_name, formula, kwargs) in PREDICTION_CALLS.items()}


@pytest.mark.parametrize("name", list(PREDICTION_CALLS))
def test_predictions_on_new_data(prediction_fits, name):
    expected, fit = OPTIONS["predictions"][name], prediction_fits[name]
    newdata = frame(expected["newdata"])
    link = fit.predict(newdata)
    assert link.name == "predicted" and list(link.index) == list(newdata.index)
    assert_close(link, expected["link"])
    assert_close(fit.predict(newdata, type="response"), expected["response"])
    assert_close(fit.predict(newdata, se_fit=True)["se_fit"], expected["se_link_sandwich"])


@pytest.mark.parametrize("name", list(PREDICTION_CALLS))
def test_prediction_intervals_are_link_intervals_through_the_inverse_link(prediction_fits, name):
    fit = prediction_fits[name]
    newdata = frame(OPTIONS["predictions"][name]["newdata"])
    link = fit.predict(newdata, interval="confidence", level=0.9)
    response = fit.predict(newdata, type="response", interval="confidence", level=0.9)
    z = stats.norm.ppf(0.95)
    assert list(link.columns) == ["fit", "se_fit", "lwr", "upr"]
    np.testing.assert_allclose(link["lwr"], link["fit"] - z * link["se_fit"], rtol=1e-14)
    np.testing.assert_allclose(response["lwr"], fit.family.linkinv(link["lwr"].to_numpy()), rtol=1e-14)
    np.testing.assert_allclose(response["upr"], fit.family.linkinv(link["upr"].to_numpy()), rtol=1e-14)
    step = 1e-6 * np.maximum(1.0, np.abs(link["fit"].to_numpy()))
    slope = (fit.family.linkinv(link["fit"].to_numpy() + step)
             - fit.family.linkinv(link["fit"].to_numpy() - step)) / (2 * step)
    np.testing.assert_allclose(response["se_fit"], np.abs(slope) * link["se_fit"], rtol=1e-6)


def test_predict_without_newdata_is_the_fit(prediction_fits):
    fit = prediction_fits["epil_poisson"]
    pd.testing.assert_series_equal(fit.predict(type="response"), fit.fitted().rename("predicted"),
                                   rtol=1e-14)


def test_predict_uses_offsets_of_the_new_rows():
    counts = data("data_gee_counts.csv")
    fit = geeglm("count ~ x + offset(log(exposure))", counts, id="id", family="poisson", corstr="exchangeable")
    shifted = counts.assign(exposure=counts["exposure"] * 2)
    np.testing.assert_allclose(fit.predict(shifted) - fit.predict(counts), np.log(2.0), rtol=1e-12)


@pytest.mark.parametrize("name", ["dietox_ar1_fij", "ohio_logit", "respiratory_jack"])
def test_confint_is_wald_from_the_reported_covariance(option_fits, name):
    expected = frame(OPTIONS["cases"][name]["coefficients"])
    z = stats.norm.ppf(0.975)
    intervals = option_fits[name].confint()
    assert list(intervals.columns) == ["2.5 %", "97.5 %"]
    assert_close(intervals["2.5 %"], expected["Estimate"] - z * expected["Std.err"])
    assert_close(intervals["97.5 %"], expected["Estimate"] + z * expected["Std.err"])
    subset = option_fits[name].confint(parm=expected.index[-1], level=0.9)
    assert list(subset.columns) == ["5 %", "95 %"] and list(subset.index) == [expected.index[-1]]


# ------------------------------------------------------------------------------------------
# anova
# ------------------------------------------------------------------------------------------

ANOVA_MODELS = {
    "dietox": ("data_dietox.csv", "Weight ~ Cu * Time", "Weight ~ Cu + Time", DIETOX[1]),
    "epil": ("data_epil.csv", "y ~ lbase * trt + lage + V4", "y ~ lbase + trt + lage + V4", EPIL[1]),
}


@pytest.fixture(scope="module")
def anova_fits() -> dict[str, tuple[GeeFit, GeeFit]]:
    return {name: (geeglm(full, data(file_name), **kwargs), geeglm(main, data(file_name), **kwargs))
            for name, (file_name, full, main, kwargs) in ANOVA_MODELS.items()}


@pytest.mark.parametrize("name", list(ANOVA_MODELS))
def test_wald_test_of_nested_fits(anova_fits, name):
    expected = OPTIONS["anova"][f"{name}_nested"]
    full, main = anova_fits[name]
    result = full.anova(main)
    table = frame(expected["table"])
    assert list(result.table["Df"]) == list(table["Df"])
    assert_close(result.table["X2"], table["X2"])
    assert_close(result.table["P(>|Chi|)"], table["P(>|Chi|)"])
    assert str(result) == "\n".join(expected["printed"])
    assert str(mlmtools.anova(main, full)) == str(result)


@pytest.mark.parametrize("name", list(ANOVA_MODELS))
def test_sequential_wald_tests(anova_fits, name):
    expected = OPTIONS["anova"][f"{name}_sequential"]
    result = mlmtools.anova(anova_fits[name][0])
    table = frame(expected["table"])
    assert list(result.table.index) == list(table.index)
    assert list(result.table["Df"]) == list(table["Df"])
    assert_close(result.table["X2"], table["X2"])
    assert_close(result.table["P(>|Chi|)"], table["P(>|Chi|)"])
    assert str(result) == "\n".join(expected["printed"])


# ------------------------------------------------------------------------------------------
# refit and the notebook display
# ------------------------------------------------------------------------------------------


def test_refit_keeps_the_options(option_fits):
    fit = option_fits["dietox_ar1_j1s"]
    again = fit.refit(data("data_dietox.csv")["Weight"])
    np.testing.assert_array_equal(again.vcov(), fit.vcov())
    assert again.std_err == "j1s"


def test_notebook_display_is_the_summary(option_fits):
    fit = option_fits["ohio_probit"]
    assert fit._repr_html_() == fit.summary()._repr_html_()
    assert fit._repr_html_().startswith("<pre>")
