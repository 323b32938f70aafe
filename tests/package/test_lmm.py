"""lmer against R: the lecture's models (seed-reference.json) and the extra cases
(lmer_cases.json), stage by stage: deviance, optimizer, result object."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest

from mlmtools.exceptions import ConvergenceWarning, SingularFitWarning
from mlmtools.frame import build_model
from mlmtools.lmm import LinearMixedModel, lmer
from mlmtools.lmm.optimizer import optimize_theta
from mlmtools.lmm.pls import deviance, deviance_function, solve
from mlmtools.lmm.problem import make_problem, start_theta

REL = 1e-6


def assert_rel(actual, expected, rtol=REL, atol=0.0):
    np.testing.assert_allclose(np.asarray(actual, dtype=float), np.asarray(expected, dtype=float),
                               rtol=rtol, atol=atol)


def r_matrix(entry) -> np.ndarray:
    return np.array(entry["values"], dtype=float)


def r_vector(entry) -> np.ndarray:
    return np.array([np.nan if v is None else v for v in entry], dtype=float)


# -- the deviance stage alone -------------------------------------------------------------

def test_deviance_at_r_theta_reproduces_r_pieces(lmer_cases, case_data):
    case = lmer_cases["cases"]["sleep_slope_unbalanced_reml"]
    frame = build_model(case["formula"], case_data(case["data"]))
    problem = make_problem(frame)
    theta = np.array(list(case["theta"].values()))
    s = solve(problem, theta, reml=True)
    cmp = case["devcomp_cmp"]
    assert_rel([s.ldL2, s.ldRX2, s.pwrss], [cmp["ldL2"], cmp["ldRX2"], cmp["pwrss"]], rtol=1e-8)
    assert_rel(deviance(problem, theta, True), cmp["REML"], rtol=1e-12)
    assert_rel(s.sigma, cmp["sigmaREML"], rtol=1e-8)
    assert_rel(solve(problem, theta, reml=False).sigma, cmp["sigmaML"], rtol=1e-8)


def test_deviance_is_a_plain_function_of_theta(sleepstudy):
    frame = build_model("Reaction ~ Days + (1 + Days | Subject)", sleepstudy)
    problem = make_problem(frame)
    theta = np.array([0.9, 0.1, 0.3])
    first = deviance(problem, theta, True)
    deviance(problem, np.array([2.0, -1.0, 0.5]), True)
    assert deviance(problem, theta, True) == first
    assert solve(problem, theta, True).deviance == pytest.approx(first, rel=1e-13)


@pytest.mark.parametrize("case_name", ["sleep_slope_unbalanced_reml", "sleep_slope_unbalanced_ml",
                                       "weights_offset", "random_slope_only", "sleep_days_factor"])
def test_fast_deviance_gives_the_same_bits(lmer_cases, case_name, case_data):
    """The specialised evaluator the optimizer calls (one term, k <= 2) must reproduce the
    general deviance exactly, or the optimizer would take another path than before."""
    case = lmer_cases["cases"][case_name]
    kwargs = {"weights": "w", "offset": "off"} if "weights = w" in case["call"] else {}
    frame = build_model(case["formula"], case_data(case["data"]), **kwargs)
    problem = make_problem(frame)
    fast = deviance_function(problem, case["REML"])
    rng = np.random.default_rng(7)
    for _ in range(20):
        theta = np.maximum(rng.normal(0.5, 1.0, problem.n_theta), problem.lower)
        assert fast(theta) == deviance(problem, theta, case["REML"])


def test_start_values_follow_lme4(sleepstudy):
    slope = build_model("Reaction ~ Days + (1 + Days | Subject)", sleepstudy)
    np.testing.assert_array_equal(start_theta(make_problem(slope), slope), [1.0, 0.0, 1.0])
    intercept = build_model("Reaction ~ Days + (1 | Subject)", sleepstudy)
    y = sleepstudy["Reaction"]
    v_group = sleepstudy.groupby("Subject")["Reaction"].transform("mean").var()
    expected = np.sqrt(v_group / (y.var() - v_group))
    assert start_theta(make_problem(intercept), intercept)[0] == pytest.approx(expected, rel=1e-12)


def test_dense_blocks_agree_with_a_dense_reference(sleepstudy):
    """The blocked factorisation (two terms) against the dense formulas of algorithms.md 1.2."""
    frame = build_model("Reaction ~ Days + (1 | Subject) + (0 + Days | Subject)", sleepstudy)
    problem = make_problem(frame)
    theta = np.array([0.8, 0.3])
    Z = problem.Z.toarray()
    lam = np.diag(np.r_[np.full(18, theta[0]), np.full(18, theta[1])])
    V = np.eye(len(frame.y)) + Z @ lam @ lam.T @ Z.T
    X, y = frame.X, frame.y
    Vinv = np.linalg.inv(V)
    beta = np.linalg.solve(X.T @ Vinv @ X, X.T @ Vinv @ y)
    r = y - X @ beta
    n, p = X.shape
    pwrss = r @ Vinv @ r
    expected = (np.linalg.slogdet(V)[1] + np.linalg.slogdet(X.T @ Vinv @ X)[1]
                + (n - p) * (1 + np.log(2 * np.pi * pwrss / (n - p))))
    assert deviance(problem, theta, True) == pytest.approx(expected, rel=1e-11)
    assert_rel(solve(problem, theta, True).beta, beta, rtol=1e-10)


# -- the optimizer stage alone ------------------------------------------------------------

def test_optimizer_reaches_r_optimum_or_better(sleepstudy, seed_reference):
    frame = build_model("Reaction ~ Days + (1 + Days | Subject)", sleepstudy)
    problem = make_problem(frame)
    summary = optimize_theta(lambda th: deviance(problem, th, True), start_theta(problem, frame),
                             problem.lower, REML=True)
    assert summary.converged
    assert summary.fmin <= seed_reference["m2"]["reml"] + 1e-8
    assert summary.optimizer == "nloptwrap"
    assert summary.feval > 10
    np.testing.assert_array_equal(summary.initial, [1.0, 0.0, 1.0])


def test_cobyqa_reaches_the_same_optimum(sleepstudy, seed_reference):
    fit = LinearMixedModel("Reaction ~ Days + (1 + Days | Subject)", sleepstudy).fit(optimizer="cobyqa")
    assert fit.optinfo.optimizer == "cobyqa"
    assert fit.reml_criterion <= seed_reference["m2"]["reml"] + 1e-8


# -- the lecture's models -----------------------------------------------------------------

@pytest.mark.parametrize("name", ["m0", "m1", "m2"])
def test_sleepstudy_models_match_r(sleep_models, seed_reference, name):
    fit, ref = sleep_models[name], seed_reference[name]
    assert fit.reml_criterion == pytest.approx(ref["reml"], rel=1e-10)
    coef = np.array(ref["coef"])
    table = fit.coef_table()
    assert_rel(table["Estimate"], coef[:, 0])
    assert_rel(table["Std. Error"], coef[:, 1])
    np.testing.assert_allclose(table["df"], coef[:, 2], atol=1e-4)
    assert_rel(table["t value"], coef[:, 3])
    assert_rel(table["Pr(>|t|)"], coef[:, 4], rtol=1e-5)
    vc = fit.varcorr()
    assert_rel(vc["vcov"], [row["vcov"] for row in ref["vc"]])
    assert_rel(vc["sdcor"], [row["sdcor"] for row in ref["vc"]])
    assert list(vc["grp"]) == [row["grp"] for row in ref["vc"]]
    quantiles = np.quantile(fit.residuals(scaled=True), [0, 0.25, 0.5, 0.75, 1])
    assert_rel(quantiles, ref["scaled_resid"], rtol=1e-6, atol=1e-9)
    sd = np.sqrt(np.diag(fit.vcov()))
    assert_rel(fit.vcov() / np.outer(sd, sd), ref["vcov_corr"], atol=1e-12)
    assert fit.converged and not fit.is_singular


def test_icc_of_empty_model(sleep_models, seed_reference):
    vc = sleep_models["m0"].varcorr()["vcov"]
    assert vc[0] / vc.sum() == pytest.approx(seed_reference["m0_icc"], rel=REL)


def test_prevention_empty_model(prevention_model, seed_reference):
    fit = prevention_model
    assert fit.reml_criterion == pytest.approx(seed_reference["prev_reml"], rel=1e-10)
    assert_rel(fit.varcorr()["vcov"], seed_reference["prev_vc"])
    assert_rel(fit.varcorr()["sdcor"], seed_reference["prev_sd"])
    row = fit.coef_table().to_numpy()[0]
    ref = seed_reference["prev_fixef"][0]
    assert_rel(row[[0, 1, 3, 4]], np.array(ref)[[0, 1, 3, 4]], rtol=1e-6)
    assert row[2] == pytest.approx(ref[2], abs=1e-4)
    assert_rel(fit.ranef()["community"]["(Intercept)"], seed_reference["prev_ranef"])
    assert_rel(np.quantile(fit.residuals(scaled=True), [0, .25, .5, .75, 1]),
               seed_reference["prev_scaled_resid"])


def test_demo_mixed_model(demo_model, seed_reference):
    table = demo_model.coef_table().to_numpy()
    ref = np.array(seed_reference["demo_mixed"])
    assert_rel(table[:, [0, 1, 3]], ref[:, [0, 1, 3]], rtol=1e-6)
    np.testing.assert_allclose(table[:, 2], ref[:, 2], atol=1e-4)
    assert_rel(table[:, 4], ref[:, 4], rtol=1e-4)


def test_factor_days_fixed_effects(sleep_models, seed_reference):
    assert_rel(sleep_models["m_cat"].fixef, seed_reference["m_cat_fixef"], atol=1e-9)
    assert sleep_models["m_cat"].fixef.index[1] == "factor(Days)1"


def test_m2_ranef_and_predictions(sleep_models, seed_reference):
    fit = sleep_models["m2"]
    ranef = fit.ranef()["Subject"]
    ref = pd.DataFrame(seed_reference["m2_ranef"]).set_index("_row")
    assert list(ranef.index) == list(ref.index)
    assert_rel(ranef[["(Intercept)", "Days"]], ref[["(Intercept)", "Days"]], rtol=1e-5, atol=1e-6)
    assert_rel(fit.predict().iloc[:5], seed_reference["m2_pred_first5"], rtol=1e-9)
    assert_rel(fit.fitted().iloc[:5], seed_reference["m2_pred_first5"], rtol=1e-9)


def test_coef_adds_fixed_and_random(sleep_models):
    fit = sleep_models["m2"]
    coef = fit.coef()["Subject"]
    expected = fit.ranef()["Subject"] + fit.fixef
    assert_rel(coef[["(Intercept)", "Days"]], expected[["(Intercept)", "Days"]], rtol=1e-14)


def test_likelihood_facts(sleep_models, seed_reference):
    fit = sleep_models["m2"]
    assert fit.loglik == pytest.approx(-seed_reference["m2"]["reml"] / 2, rel=1e-12)
    assert fit.npar == 6
    assert fit.aic == pytest.approx(seed_reference["m2"]["reml"] + 12, rel=1e-12)
    assert fit.nobs == 180 and fit.ngroups == {"Subject": 18}
    assert fit.REML is True
    assert fit.formula == "Reaction ~ Days + (1 + Days | Subject)"
    assert fit.optinfo.REML and fit.optinfo.final.shape == (3,)


# -- every extra R case ---------------------------------------------------------------------

CASES = [
    "sleep_slope_unbalanced_reml", "sleep_slope_unbalanced_ml", "sleep_slope_full_reml",
    "sleep_uncorrelated", "crossed_ratings", "nested_slash", "nested_explicit",
    "factor_interaction", "singular", "weights_offset", "weights_offset_formula", "offset_only",
    "random_slope_only", "sleep_days_factor", "sleep_log_quadratic", "sleep_scaled_days",
    "rank_deficient",
]


def test_every_fixture_case_is_covered(lmer_cases):
    assert sorted(lmer_cases["cases"]) == sorted(CASES)


@pytest.mark.parametrize("name", CASES)
def test_case_estimates_match_r(case_fits, lmer_cases, name):
    fit, messages, _ = case_fits[name]
    case = lmer_cases["cases"][name]
    assert case["REML"] == fit.REML
    assert fit.nobs == case["nobs"]
    assert fit.ngroups == case["ngrps"]
    assert list(fit.fixef.index) == list(case["fixef"])
    assert_rel(fit.fixef, list(case["fixef"].values()), atol=1e-9)
    scale = np.sqrt(np.outer(np.diag(r_matrix(case["vcov"])), np.diag(r_matrix(case["vcov"]))))
    np.testing.assert_allclose(fit.vcov() / scale, r_matrix(case["vcov"]) / scale, atol=1e-6)
    assert_rel(fit.sigma, case["sigma"])
    assert_rel(fit.theta, list(case["theta"].values()), atol=1e-6)
    vc = case["varcorr"]["columns"]
    assert_rel(fit.varcorr()["vcov"], vc["vcov"], atol=1e-10)
    assert_rel(fit.varcorr()["sdcor"], vc["sdcor"], atol=1e-8)
    assert list(fit.varcorr()["grp"]) == vc["grp"]
    if case["REMLcrit"] is not None:
        assert fit.reml_criterion == pytest.approx(case["REMLcrit"], rel=1e-10)
    else:
        assert fit.deviance == pytest.approx(case["deviance"], rel=1e-10)
    assert fit.loglik == pytest.approx(case["logLik"], rel=1e-10)
    assert fit.npar == case["logLik_df"]
    assert fit.aic == pytest.approx(case["AIC"], rel=1e-10)
    assert fit.bic == pytest.approx(case["BIC"], rel=1e-10)
    assert fit.is_singular == case["isSingular"]
    assert_rel(fit.fitted().iloc[:10], case["fitted_first10"], rtol=1e-8)
    quantiles = np.quantile(fit.residuals(scaled=True), [0, .25, .5, .75, 1])
    assert_rel(quantiles, list(case["scaled_resid_quantiles"].values()), rtol=1e-6, atol=1e-8)
    expected_warnings = [m for m in case["messages"] + case["warnings"]]
    for text in expected_warnings:
        assert any(text in m for m in messages), (text, messages)


@pytest.mark.parametrize("name", CASES)
def test_case_ranef_and_conditional_variances(case_fits, lmer_cases, name):
    fit, _, _ = case_fits[name]
    case = lmer_cases["cases"][name]
    ref = pd.DataFrame(case["ranef"]["columns"])
    result = fit.ranef(cond_var=True)
    plain = fit.ranef()
    assert list(result) == list(plain)
    for group, table in result.items():
        pd.testing.assert_frame_equal(table, plain[group])
        assert table.attrs["cond_var"].shape == (len(table), table.shape[1], table.shape[1])
        assert "cond_var" not in plain[group].attrs
    for (group, term), rows in ref.groupby(["grpvar", "term"], sort=False):
        table = result[group]
        modes = table.loc[list(rows["grp"]), term]
        assert_rel(modes, rows["condval"], rtol=1e-5, atol=1e-7 * np.abs(rows["condval"]).max())
        j = list(table.columns).index(term)
        sd = np.sqrt(table.attrs["cond_var"][:, j, j])
        levels = list(table.index)
        assert_rel(sd[[levels.index(g) for g in rows["grp"]]], rows["condsd"], rtol=1e-5)


@pytest.mark.parametrize("name", CASES)
def test_case_predictions(case_fits, lmer_cases, name, case_data):
    fit, _, _ = case_fits[name]
    case = lmer_cases["cases"][name]
    newdata = case_data(case["newdata"])
    assert_rel(fit.predict(newdata, re_form="NA"), case["predict_fixed"], rtol=1e-8, atol=1e-10)
    conditional = fit.predict(newdata, allow_new_levels=True)
    assert_rel(conditional, case["predict_conditional"], rtol=1e-7, atol=1e-9)


# -- warnings, errors ----------------------------------------------------------------------

def test_singular_fit_warns(lmer_cases, case_data):
    case = lmer_cases["cases"]["singular"]
    with pytest.warns(SingularFitWarning, match=r"boundary \(singular\) fit"):
        fit = lmer(case["formula"], case_data(case["data"]))
    assert fit.is_singular


def test_regular_fit_does_not_warn(sleepstudy):
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        lmer("Reaction ~ Days + (1 + Days | Subject)", sleepstudy)


def test_non_converged_fit_warns(sleepstudy, monkeypatch):
    import mlmtools.lmm.model as model_module

    model = LinearMixedModel("Reaction ~ Days + (1 + Days | Subject)", sleepstudy)

    def stop_early(*args, **kwargs):
        return optimize_theta(*args, **{**kwargs, "maxeval": 3})

    monkeypatch.setattr(model_module, "optimize_theta", stop_early)
    with pytest.warns(ConvergenceWarning):
        fit = model.fit()
    assert not fit.converged


def test_reml_must_be_boolean(sleepstudy):
    with pytest.raises(TypeError, match="REML"):
        lmer("Reaction ~ Days + (1 | Subject)", sleepstudy, REML="yes")


def test_new_levels_need_permission(sleep_models):
    fit = sleep_models["m2"]
    newdata = pd.DataFrame({"Subject": ["308", "999"], "Days": [1.0, 2.0]})
    with pytest.raises(ValueError, match="allow_new_levels"):
        fit.predict(newdata)
    predicted = fit.predict(newdata, allow_new_levels=True)
    population = fit.predict(newdata, re_form="~0")
    assert predicted.iloc[1] == pytest.approx(population.iloc[1], rel=1e-14)
    assert predicted.iloc[0] != pytest.approx(population.iloc[0], rel=1e-6)


def test_bad_re_form_and_newdata(sleep_models):
    fit = sleep_models["m1"]
    with pytest.raises(ValueError, match="re_form"):
        fit.predict(re_form="~Days")
    with pytest.raises(TypeError, match="newdata must be a data frame"):
        fit.predict(newdata=[1, 2, 3])


def test_results_follow_caller_rows(sleepstudy):
    shuffled = sleepstudy.sample(frac=1.0, random_state=1)
    shuffled.index = shuffled.index + 1000
    fit = lmer("Reaction ~ Days + (1 | Subject)", shuffled)
    assert fit.fitted().index.equals(shuffled.index)
    residuals = fit.residuals()
    assert_rel(residuals, shuffled["Reaction"] - fit.fitted(), atol=1e-9)


def test_small_fits_run_blas_on_one_thread(sleep_models):
    threadpoolctl = pytest.importorskip("threadpoolctl")
    from mlmtools._blas import single_blas_thread, suits_one_thread

    def blas_threads() -> list[int]:
        return [i["num_threads"] for i in threadpoolctl.threadpool_info() if i["user_api"] == "blas"]

    assert suits_one_thread(sleep_models["m2"].state.problem)
    before = blas_threads()
    with single_blas_thread():
        assert before and blas_threads() == [1] * len(before)
    assert blas_threads() == before
    with single_blas_thread(enabled=False):
        assert blas_threads() == before
