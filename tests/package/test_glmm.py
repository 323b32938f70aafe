"""glmer against R's lme4 (binomial and Poisson GLMMs, Laplace and adaptive quadrature).

Reference numbers: ``fixtures/glmer_cases.json``, made by ``fixtures/r/make_glmer_cases.R``
from ``fixtures/data_gee_binary.csv``, ``data_gee_counts.csv`` and ``data_cbpp.csv``.
Numbers are compared at 1e-4 relative (the course's requirement); because glmer replays
lme4's PIRLS and Nelder-Mead steps, the measured agreement is about 1e-9 for estimates and
variance parameters, 1e-6 for the finite-difference standard errors and 1e-12 for the
log-likelihood, which :func:`test_replays_lme4s_optimization_path` checks.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from mlmtools.broom import tidy
from mlmtools.exceptions import SingularFitWarning
from mlmtools.glmm import GlmerResult, glmer
from mlmtools.glmm.agq import gauss_hermite_normal
from mlmtools.glmm.families import Binomial, Poisson
from mlmtools.glmm.family_names import get_family
from mlmtools.inference.numderiv import central_derivatives
from mlmtools.lmm.optimizer import scaled_gradient_message
from mlmtools.rstyle.summaries import GlmerSummary

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"
CASES = json.loads((FIXTURES / "glmer_cases.json").read_text(encoding="utf-8"))["cases"]
RTOL = 1e-4

# The formula and data of each case, as the R script fits them.
CASE_MODELS = {
    "binary_laplace": ("y ~ x + treat + (1 | id)", "data_gee_binary.csv"),
    "binary_agq10": ("y ~ x + treat + (1 | id)", "data_gee_binary.csv"),
    "cbpp_laplace": ("cbind(incidence, size - incidence) ~ period + (1 | herd)", "data_cbpp.csv"),
    "cbpp_agq10": ("cbind(incidence, size - incidence) ~ period + (1 | herd)", "data_cbpp.csv"),
    "counts_laplace": ("count ~ x + offset(log(exposure)) + (1 | id)", "data_gee_counts.csv"),
    "counts_agq10": ("count ~ x + offset(log(exposure)) + (1 | id)", "data_gee_counts.csv"),
}


def read_data(filename: str) -> pd.DataFrame:
    """The CSV as R read it: cbpp's herd and period are text (factors)."""
    if filename == "data_cbpp.csv":
        return pd.read_csv(FIXTURES / filename, dtype={"herd": str, "period": str})
    return pd.read_csv(FIXTURES / filename)


def assert_close(actual, expected, rtol: float = RTOL, atol: float = 0.0) -> None:
    np.testing.assert_allclose(np.asarray(actual, dtype=float), np.asarray(expected, dtype=float),
                               rtol=rtol, atol=atol)


@pytest.fixture(scope="module")
def fits() -> dict[str, GlmerResult]:
    out = {}
    for name, (formula, filename) in CASE_MODELS.items():
        case = CASES[name]
        out[name] = glmer(formula, read_data(filename), family=case["family"], nAGQ=case["nAGQ"])
    return out


def test_case_table_matches_the_r_script():
    for name, (formula, filename) in CASE_MODELS.items():
        assert formula in CASES[name]["call"]
        assert CASES[name]["data"] == filename


# ------------------------------------------------------------------------------------------
# Numbers against lme4
# ------------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", list(CASE_MODELS))
def test_fixed_effects_and_standard_errors(fits, name):
    fit, case = fits[name], CASES[name]
    assert list(fit.fixef.index) == list(case["fixef"])
    assert_close(fit.fixef, list(case["fixef"].values()))
    assert_close(np.sqrt(np.diag(fit.vcov())), list(case["se"].values()))
    assert_close(fit.vcov().to_numpy(), case["vcov"]["values"], atol=RTOL * np.max(case["vcov"]["values"]))


@pytest.mark.parametrize("name", list(CASE_MODELS))
def test_coefficient_table_has_z_tests(fits, name):
    fit, case = fits[name], CASES[name]
    table = fit.coef_table()
    assert list(table.columns) == case["coefficients"]["colnames"]
    assert_close(table.to_numpy(), case["coefficients"]["values"], rtol=1e-3)
    assert_close(table["Estimate"], np.asarray(case["coefficients"]["values"])[:, 0])


@pytest.mark.parametrize("name", list(CASE_MODELS))
def test_variance_components(fits, name):
    fit, case = fits[name], CASES[name]
    assert_close(fit.theta, list(case["theta"].values()))
    vc = fit.varcorr()
    expected = case["varcorr"]["columns"]
    assert list(vc["grp"]) == expected["grp"]
    assert "Residual" not in list(vc["grp"])
    assert_close(vc["vcov"], expected["vcov"])
    assert_close(vc["sdcor"], expected["sdcor"])


@pytest.mark.parametrize("name", list(CASE_MODELS))
def test_likelihood_and_information_criteria(fits, name):
    fit, case = fits[name], CASES[name]
    assert fit.npar == case["logLik_df"]
    assert_close(fit.loglik, case["logLik"])
    assert_close(fit.aic, case["AIC"])
    assert_close(fit.bic, case["BIC"])
    assert_close(fit.deviance, case["deviance"])
    assert_close(-2 * fit.loglik, case["minus2logLik"])
    assert fit.df_resid == case["AICtab"]["df.resid"]
    assert fit.nobs == case["nobs"]
    assert fit.ngroups == case["ngrps"]
    assert fit.is_singular == case["isSingular"]


@pytest.mark.parametrize("name", list(CASE_MODELS))
def test_random_effects_and_predictions(fits, name):
    fit, case = fits[name], CASES[name]
    modes = fit.ranef(cond_var=True)
    group = next(iter(modes))
    expected = case["ranef"]["columns"]
    assert list(modes[group].index) == expected["grp"]
    scale = np.max(np.abs(expected["condval"]))
    assert_close(modes[group].iloc[:, 0], expected["condval"], atol=RTOL * scale)
    assert_close(np.sqrt(modes[group].attrs["cond_var"][:, 0, 0]), expected["condsd"])
    assert list(modes[group].columns) == list(fit.ranef()[group].columns)
    eta = case["linear_predictor_first10"]
    assert_close(fit.predict().to_numpy()[:10], eta, atol=RTOL * np.max(np.abs(eta)))
    assert_close(fit.fitted().to_numpy()[:10], case["fitted_first10"])
    assert_close(fit.predict(type="response").to_numpy()[:10], case["fitted_first10"])


@pytest.mark.parametrize("name", list(CASE_MODELS))
def test_replays_lme4s_optimization_path(fits, name):
    fit, case = fits[name], CASES[name]
    assert_close(fit.fixef, list(case["fixef"].values()), rtol=1e-7)
    assert_close(fit.theta, list(case["theta"].values()), rtol=1e-7)
    assert_close(fit.loglik, case["logLik"], rtol=1e-10)
    assert_close(np.sqrt(np.diag(fit.vcov())), list(case["se"].values()), rtol=1e-5)


def test_laplace_and_quadrature_differ_as_in_lme4(fits):
    # for 0/1 data the unit deviance is -2 log p, so only the quadrature changes logLik;
    # for counts lme4's AGQ drops the saturated-model constant
    for stem in ("binary", "cbpp", "counts"):
        laplace, agq = fits[f"{stem}_laplace"], fits[f"{stem}_agq10"]
        assert_close(agq.loglik - laplace.loglik,
                     CASES[f"{stem}_agq10"]["logLik"] - CASES[f"{stem}_laplace"]["logLik"],
                     rtol=1e-3)


def test_nagq_zero_stops_after_the_first_stage(fits):
    data = read_data("data_cbpp.csv")
    fast = glmer(CASE_MODELS["cbpp_laplace"][0], data, nAGQ=0)
    assert fast.hessian is None and fast.nAGQ == 0
    # the second stage can only improve on the first stage's Laplace deviance
    assert fast.loglik <= fits["cbpp_laplace"].loglik + 1e-8
    assert_close(fast.fixef, fits["cbpp_laplace"].fixef, rtol=0.05)


# ------------------------------------------------------------------------------------------
# Binomial response forms
# ------------------------------------------------------------------------------------------


def test_proportions_with_trials_as_weights_equal_cbind(fits):
    data = read_data("data_cbpp.csv")
    data["proportion"] = data["incidence"] / data["size"]
    fit = glmer("proportion ~ period + (1 | herd)", data, weights="size")
    reference = fits["cbpp_laplace"]
    assert_close(fit.fixef, reference.fixef, rtol=1e-8)
    assert_close(fit.loglik, reference.loglik, rtol=1e-10)
    assert fit.summary().call_extras == [("Weights:", "size")]


def test_zero_one_response_as_cbind_gives_the_same_fit(fits):
    data = read_data("data_gee_binary.csv")
    data["failure"] = 1 - data["y"]
    fit = glmer("cbind(y, failure) ~ x + treat + (1 | id)", data)
    assert_close(fit.fixef, fits["binary_laplace"].fixef, rtol=1e-8)
    assert_close(fit.loglik, fits["binary_laplace"].loglik, rtol=1e-10)


# ------------------------------------------------------------------------------------------
# Errors and warnings
# ------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def binary() -> pd.DataFrame:
    return read_data("data_gee_binary.csv")


def test_binomial_response_outside_unit_interval_is_named(binary):
    data = binary.assign(score=binary["y"] * 2)
    with pytest.raises(ValueError, match=r"binomial response 'score' must lie in \[0, 1\]"):
        glmer("score ~ x + (1 | id)", data)


def test_non_integer_successes_are_rejected(binary):
    data = binary.assign(share=0.3 + 0.1 * binary["y"], trials=7.0)
    with pytest.raises(ValueError, match="non-integer number of successes"):
        glmer("share ~ x + (1 | id)", data, weights="trials")
    with pytest.raises(ValueError, match="non-integer"):
        glmer("cbind(share, trials) ~ x + (1 | id)", data)


def test_poisson_counts_must_be_non_negative_integers():
    counts = read_data("data_gee_counts.csv")
    with pytest.raises(ValueError, match="Poisson response 'shifted' has negative values"):
        glmer("shifted ~ x + (1 | id)", counts.assign(shifted=counts["count"] - 1), family="poisson")
    with pytest.raises(ValueError, match="non-integer"):
        glmer("rate ~ x + (1 | id)", counts.assign(rate=counts["count"] + 0.5), family="poisson")


def test_unknown_family_lists_the_allowed_ones(binary):
    with pytest.raises(ValueError, match="unknown family 'tweedie'; allowed: 'binomial', 'poisson', "
                                         "'gamma', 'gaussian'"):
        glmer("y ~ x + (1 | id)", binary, family="tweedie")


def test_quadrature_needs_one_scalar_term(binary):
    data = binary.assign(site=binary["id"] % 5)
    with pytest.raises(ValueError, match="single, scalar random-effects term"):
        glmer("y ~ x + (1 | id) + (1 | site)", data, nAGQ=5)
    with pytest.raises(ValueError, match="single, scalar random-effects term"):
        glmer("y ~ x + (1 + x | id)", data, nAGQ=5)
    with pytest.raises(ValueError, match="nAGQ must be an integer"):
        glmer("y ~ x + (1 | id)", data, nAGQ=-1)


def test_singular_fit_warns_and_is_reported(binary):
    rng = np.random.default_rng(7)
    data = binary.assign(noise_group=rng.integers(0, 6, len(binary)))
    with pytest.warns(SingularFitWarning, match="boundary"):
        fit = glmer("y ~ x + (1 | noise_group)", data)
    assert fit.is_singular
    assert "boundary (singular) fit" in str(fit.summary())
    # lme4's .prt.warn: cat(sprintf(...), "\n") leaves a blank before the line break
    assert "optimizer (Nelder_Mead) convergence code: 0 (OK) \n" in str(fit.summary())
    with pytest.warns(SingularFitWarning):
        first_stage = glmer("y ~ x + (1 | noise_group)", data, nAGQ=0)
    assert "optimizer (bobyqa) convergence code: 0 (OK) \n" in str(first_stage.summary())


# ------------------------------------------------------------------------------------------
# Printing, tidying, prediction on new data
# ------------------------------------------------------------------------------------------


def test_summary_layout(fits):
    fit = fits["cbpp_laplace"]
    text = str(fit.summary())
    lines = text.splitlines()
    assert lines[0] == "Generalized linear mixed model fit by maximum likelihood (Laplace"
    assert lines[1] == "  Approximation) [glmerMod]"
    assert lines[2] == " Family: binomial  ( logit )"
    assert lines[3] == "Formula: cbind(incidence, size - incidence) ~ period + (1 | herd)"
    assert lines[6].split() == ["AIC", "BIC", "logLik", "-2*log(L)", "df.resid"]
    assert lines[7].split() == ["194.1", "204.2", "-92.0", "184.1", "51"]
    assert lines[13:15] == ["Random effects:", " Groups Name        Variance Std.Dev."]
    assert lines[15].startswith(" herd   (Intercept) 0.412")
    assert "Residual" not in text
    assert "Number of obs: 56, groups:  herd, 15" in lines
    assert "            Estimate Std. Error z value Pr(>|z|)    " in lines
    assert "(Intercept)  -1.3983     0.2312  -6.048 1.47e-09 ***" in lines
    assert lines[-5:] == ["Correlation of Fixed Effects:", "        (Intr) perid2 perid3",
                          "period2 -0.363              ", "period3 -0.340  0.280       ",
                          "period4 -0.260  0.213  0.198"]
    assert isinstance(fit.summary(), GlmerSummary)
    assert "Adaptive Gauss-Hermite Quadrature, nAGQ = 10" in str(fits["cbpp_agq10"].summary()).replace("\n  ", " ")
    assert " Family: poisson  ( log )" in str(fits["counts_laplace"].summary())


def test_tidy_fixed_and_random_parameters(fits):
    fit = fits["binary_laplace"]
    table = tidy(fit, conf_int=True, conf_level=0.9)
    assert list(table.columns) == ["effect", "group", "term", "estimate", "std_error", "statistic",
                                   "p_value", "conf_low", "conf_high"]
    fixed = table[table["effect"] == "fixed"]
    coefficients = np.asarray(CASES["binary_laplace"]["coefficients"]["values"])
    assert_close(fixed["statistic"], coefficients[:, 2])
    assert_close(fixed["p_value"], coefficients[:, 3], rtol=1e-3)
    z = stats.norm.ppf(0.95)
    assert_close(fixed["conf_low"], coefficients[:, 0] - z * coefficients[:, 1])
    ran = table[table["effect"] == "ran_pars"]
    assert list(ran["term"]) == ["sd__(Intercept)"]
    assert list(ran["group"]) == ["id"]
    assert_close(ran["estimate"], CASES["binary_laplace"]["varcorr"]["columns"]["sdcor"])


def test_arguments_that_glmms_cannot_honour_are_refused(fits):
    fit = fits["binary_laplace"]
    with pytest.raises(ValueError, match="GLMMs use z tests"):
        fit.coef_table(ddf="satterthwaite")
    with pytest.raises(ValueError, match="GLMMs use z tests"):
        tidy(fit, ddf="satterthwaite")
    with pytest.raises(TypeError, match="conf_lvl"):
        tidy(fit, conf_lvl=0.9)
    pd.testing.assert_frame_equal(fit.coef_table(ddf="wald"), fit.coef_table())


def test_predict_new_data_on_both_scales(fits):
    fit = fits["binary_laplace"]
    beta = fit.fixef
    new = pd.DataFrame({"x": [0.0, 1.0], "treat": [1, 0], "id": [3, 999]})
    population = fit.predict(new, re_form="NA")
    assert_close(population, [beta["(Intercept)"] + beta["treat"], beta["(Intercept)"] + beta["x"]],
                 rtol=1e-12)
    with pytest.raises(ValueError, match="not seen when fitting"):
        fit.predict(new)
    conditional = fit.predict(new, allow_new_levels=True)
    effect_3 = fit.ranef()["id"].loc["3", "(Intercept)"]
    assert_close(conditional, population + np.array([effect_3, 0.0]), rtol=1e-12)
    assert_close(fit.predict(new, allow_new_levels=True, type="response"),
                 1 / (1 + np.exp(-conditional)), rtol=1e-12)


def test_residuals_of_the_conditional_fit(fits):
    fit = fits["cbpp_laplace"]
    y, mu = fit.state.data.y, fit.fitted().to_numpy()
    trials = fit.state.data.weights
    assert_close(fit.residuals("response"), y - mu, rtol=1e-12)
    assert_close(fit.residuals("pearson"), (y - mu) * np.sqrt(trials / (mu * (1 - mu))), rtol=1e-12)
    assert_close(np.sum(fit.residuals("deviance") ** 2), fit.deviance, rtol=1e-10)


# ------------------------------------------------------------------------------------------
# Building blocks
# ------------------------------------------------------------------------------------------


def test_gauss_hermite_rule_integrates_normal_moments():
    nodes, weights = gauss_hermite_normal(10)
    assert_close(weights.sum(), 1.0, rtol=1e-14)
    assert_close([weights @ nodes**2, weights @ nodes**4, weights @ nodes**6], [1.0, 3.0, 15.0], rtol=1e-12)


def test_families_match_their_formulas():
    y, mu, wt = np.array([0.0, 0.5, 1.0]), np.array([0.2, 0.4, 0.9]), np.array([1.0, 4.0, 2.0])
    binomial = get_family("binomial")
    assert isinstance(binomial, Binomial)
    expected = -2 * np.sum(stats.binom.logpmf(np.round(wt * y), wt, mu))
    assert_close(binomial.aic(y, mu, wt, None), expected, rtol=1e-12)
    assert_close(binomial.linkinv(binomial.linkfun(mu)), mu, rtol=1e-12)
    counts = np.array([0.0, 3.0, 7.0])
    poisson = get_family("Poisson")
    assert isinstance(poisson, Poisson)
    assert_close(poisson.aic(counts, mu * 5, np.ones(3), None),
                 -2 * np.sum(stats.poisson.logpmf(counts, mu * 5)), rtol=1e-12)
    unit = poisson.dev_resids(counts, mu * 5, np.ones(3))
    assert_close(unit, 2 * (stats.poisson.logpmf(counts, np.maximum(counts, 1e-300))
                            - stats.poisson.logpmf(counts, mu * 5)), rtol=1e-10)


def test_finite_difference_hessian_of_a_quadratic():
    A = np.array([[3.0, 1.0], [1.0, 2.0]])

    def quadratic(x):
        return float(x @ A @ x)

    grad, hess = central_derivatives(quadratic, np.array([0.5, -1.0]), quadratic(np.array([0.5, -1.0])))
    assert_close(hess, 2 * A, rtol=1e-6)
    assert_close(grad, 2 * A @ np.array([0.5, -1.0]), rtol=1e-8)


def test_gradient_check_scales_by_the_upper_cholesky_factor():
    # lme4's solve(chol(H), g): chol() is the upper factor R with R'R = H; here max|R^{-1} g|
    # is 8e-3, while the lower factor L (H = LL') would give max|L^{-1} g| = 4e-3.
    hess = np.array([[4.0, 2.0], [2.0, 1.25]])
    grad = np.array([4e-3, 4e-3])
    upper = np.linalg.cholesky(hess).T
    expected = np.max(np.abs(np.linalg.solve(upper, grad)))
    assert not np.isclose(expected, np.max(np.abs(np.linalg.solve(upper.T, grad))))
    message = scaled_gradient_message(grad, hess, tol=1e-4)
    assert message == f"Model failed to converge with max|grad| = {expected:.6g} (tol = 0.0001)"


# ------------------------------------------------------------------------------------------
# For the book: GLMM vs GEE
# ------------------------------------------------------------------------------------------


def test_conditional_coefficient_exceeds_the_marginal_gee_one(fits, binary):
    from mlmtools.gee import geeglm

    marginal = geeglm("y ~ x + treat", binary, id="id", corstr="exchangeable", family="binomial")
    conditional = fits["binary_laplace"]
    assert abs(conditional.fixef["x"]) > abs(marginal.coefficients["x"])
    # the usual logit attenuation approximation, beta_marginal ~ beta / sqrt(1 + c^2 sigma^2)
    c2 = (16 * np.sqrt(3) / (15 * np.pi)) ** 2
    attenuation = 1 / np.sqrt(1 + c2 * conditional.theta[0] ** 2)
    assert marginal.coefficients["x"] / conditional.fixef["x"] == pytest.approx(attenuation, abs=0.03)
