"""Satterthwaite's df (lmerTest) against R, and the numDeriv schemes they rest on."""

from __future__ import annotations

import dataclasses

import numpy as np
import pandas as pd
import pytest
from scipy import stats
from test_lmm import CASES

from mlmtools.inference.contrasts import contest
from mlmtools.inference.numderiv import hessian as numderiv_hessian
from mlmtools.inference.numderiv import jacobian as numderiv_jacobian
from mlmtools.inference.satterthwaite import fstat_ddf, satterthwaite_df
from mlmtools.lmm import LmerResult, lmer
from mlmtools.lmm.derivatives import profiled_derivatives
from mlmtools.lmm.pls import deviance, solve
from mlmtools.lmm.state import lmm_fit_state


def test_hessian_matches_analytic_second_derivatives():
    def f(x):
        return np.exp(x[0]) * np.sin(x[1]) + x[0] ** 2 * x[2] ** 3

    x = np.array([0.3, 1.1, 0.7])
    exact = np.array([
        [np.exp(x[0]) * np.sin(x[1]) + 2 * x[2] ** 3, np.exp(x[0]) * np.cos(x[1]), 6 * x[0] * x[2] ** 2],
        [np.exp(x[0]) * np.cos(x[1]), -np.exp(x[0]) * np.sin(x[1]), 0.0],
        [6 * x[0] * x[2] ** 2, 0.0, 6 * x[0] ** 2 * x[2]],
    ])
    np.testing.assert_allclose(numderiv_hessian(f, x), exact, atol=1e-7)


def test_jacobian_matches_analytic_derivatives():
    def f(x):
        return np.array([[x[0] * x[1], np.log(x[1])], [x[0] ** 3, 1.0]])

    x = np.array([2.0, 0.5])
    jac = numderiv_jacobian(f, x)
    np.testing.assert_allclose(jac[0], [[0.5, 0.0], [12.0, 0.0]], atol=1e-9)
    np.testing.assert_allclose(jac[1], [[2.0, 2.0], [0.0, 0.0]], atol=1e-9)


def test_zero_parameter_gets_the_absolute_step():
    # numDeriv uses eps = 1e-4 when |x| < zero.tol, so a function of x alone at 0 works
    hess = numderiv_hessian(lambda x: np.cosh(x[0]), np.array([0.0]))
    assert hess[0, 0] == pytest.approx(1.0, abs=1e-5)


@pytest.mark.parametrize("derivatives", ["analytic", "numerical"])
def test_m2_df_reproduces_rs_value(sleep_models, seed_reference, derivatives):
    """R prints 16.99973 for the intercept of the balanced slope model; both derivative
    schemes reproduce it to 1e-6, so the gap to 17 is not numDeriv's error."""
    df = sleep_models["m2"].coef_table(derivatives=derivatives)["df"].to_numpy()
    r_df = [row[2] for row in seed_reference["m2"]["coef"]]
    np.testing.assert_allclose(df, r_df, atol=1e-6)
    assert abs(df[0] - 17) > 1e-4


def test_m2_df_is_17_at_the_exact_optimum(sleep_models):
    """The gap comes from where BOBYQA stops (xtol_rel = 1e-4): a few Newton steps on the
    exact gradient and Hessian of the REML criterion reach the optimum, where the exact
    intercept df of this balanced design is 17 = 18 subjects - 1."""
    fit = sleep_models["m2"]
    theta = fit.theta
    for _ in range(4):
        grad, hess = profiled_derivatives(fit.state.problem, solve(fit.state.problem, theta, True))
        theta = theta - np.linalg.solve(hess, grad)
    assert np.max(np.abs(grad)) < 1e-6
    polished = LmerResult(fit.model, lmm_fit_state(fit.state.frame, fit.state.problem,
                                                   dataclasses.replace(fit.optinfo, final=theta)))
    assert polished.coef_table()["df"].iloc[0] == pytest.approx(17.0, abs=1e-8)
    assert abs(fit.coef_table()["df"].iloc[0] - 17) > 2e-4


@pytest.mark.parametrize("name", CASES)
def test_analytic_derivatives_match_numderiv(case_fits, name):
    """Exact Hessian and Jacobian against lmerTest's Richardson scheme on every stored case."""
    fit, _, _ = case_fits[name]
    exact = fit.satterthwaite("analytic")
    numerical = fit.satterthwaite("numerical")
    assert exact.derivatives == "analytic" and numerical.derivatives == "numerical"
    scale = np.max(np.abs(exact.hessian))
    np.testing.assert_allclose(exact.hessian, numerical.hessian, rtol=0, atol=1e-5 * scale)
    scale = np.max(np.abs(exact.jacobian))
    np.testing.assert_allclose(exact.jacobian, numerical.jacobian, rtol=0, atol=1e-6 * scale)


def test_dense_and_blocked_derivatives_agree(sleep_models, monkeypatch):
    """The dense random-effects-space formulas (used for several terms) against the
    level-by-level ones, on a one-term model where both apply."""
    import mlmtools.lmm.derivatives as module

    fit = sleep_models["m2"]
    blocked = module.varpar_derivatives(fit.state.problem, fit.state.solution)
    monkeypatch.setattr(module, "_single_term_pieces", module._dense_pieces)
    dense = module.varpar_derivatives(fit.state.problem, fit.state.solution)
    for a, b in zip(blocked, dense):
        np.testing.assert_allclose(a, b, rtol=1e-10, atol=1e-12 * np.max(np.abs(a)))


@pytest.mark.parametrize("formula, reml", [("Reaction ~ Days + (1 + Days | Subject)", True),
                                           ("Reaction ~ Days + (1 | Subject) + (0 + Days | Subject)", False)])
def test_profiled_derivatives_match_numderiv(sleepstudy, formula, reml):
    fit = lmer(formula, sleepstudy, REML=reml)
    theta = fit.theta * 1.1
    grad, hess = profiled_derivatives(fit.state.problem, solve(fit.state.problem, theta, reml))

    def criterion(th):
        return deviance(fit.state.problem, th, reml)

    np.testing.assert_allclose(grad, numderiv_jacobian(criterion, theta), rtol=1e-6)
    np.testing.assert_allclose(hess, numderiv_hessian(criterion, theta), rtol=0,
                               atol=1e-6 * np.max(np.abs(hess)))


def test_unknown_derivatives_are_refused(sleep_models):
    with pytest.raises(ValueError, match="derivatives must be one of"):
        sleep_models["m1"].coef_table(derivatives="automatic")


@pytest.mark.parametrize("derivatives", ["analytic", "numerical"])
@pytest.mark.parametrize("name", CASES)
def test_case_df_and_p_values(case_fits, lmer_cases, name, derivatives):
    fit, _, _ = case_fits[name]
    ref = np.array(lmer_cases["cases"][name]["coefficients"]["values"], dtype=float)
    table = fit.coef_table(derivatives=derivatives).to_numpy()
    np.testing.assert_allclose(table[:, 2], ref[:, 2], atol=1e-4)
    np.testing.assert_allclose(table[:, [0, 1, 3]], ref[:, [0, 1, 3]], rtol=1e-6, atol=1e-10)
    np.testing.assert_allclose(table[:, 4], ref[:, 4], rtol=1e-4)


def test_contest_one_row_is_the_coefficient_test(sleep_models):
    fit = sleep_models["m2"]
    row = contest(fit, [0, 1])
    table = fit.coef_table()
    assert list(row.columns) == ["Estimate", "Std. Error", "df", "t value", "Pr(>|t|)"]
    np.testing.assert_allclose(row.to_numpy()[0], table.loc["Days"].to_numpy(), rtol=1e-12)


def test_contest_accepts_named_contrasts_and_rhs(sleep_models):
    fit = sleep_models["m2"]
    shifted = contest(fit, pd.Series({"Days": 1.0}), rhs=10.0)
    se = np.sqrt(fit.vcov().loc["Days", "Days"])
    assert shifted["t value"].iloc[0] == pytest.approx((fit.fixef["Days"] - 10) / se, rel=1e-12)


def test_contest_several_rows_is_an_f_test(case_fits, lmer_cases):
    fit, _, _ = case_fits["sleep_days_factor"]
    L = np.eye(len(fit.fixef))[1:]
    result = contest(fit, L)
    ref = lmer_cases["cases"]["sleep_days_factor"]["anova_typeIII"]["columns"]
    assert result["NumDF"].iloc[0] == 9
    assert result["F value"].iloc[0] == pytest.approx(ref["F value"][0], rel=1e-6)
    assert result["DenDF"].iloc[0] == pytest.approx(ref["DenDF"][0], abs=1e-4)
    assert result["Pr(>F)"].iloc[0] == pytest.approx(ref["Pr(>F)"][0], rel=1e-4)


def test_residual_and_normal_reference(sleep_models):
    fit = sleep_models["m1"]
    residual = fit.coef_table("residual")
    assert (residual["df"] == 178).all()
    assert residual["Pr(>|t|)"].iloc[1] == pytest.approx(
        2 * stats.t.sf(abs(residual["t value"].iloc[1]), 178), rel=1e-12)
    normal = fit.coef_table("none")
    assert list(normal.columns) == ["Estimate", "Std. Error", "z value", "Pr(>|z|)"]
    assert normal["Pr(>|z|)"].iloc[1] == pytest.approx(2 * stats.norm.sf(abs(normal["z value"].iloc[1])))


def test_unknown_ddf_is_refused(sleep_models):
    with pytest.raises(ValueError, match="ddf must be one of"):
        sleep_models["m1"].coef_table("containment")
    with pytest.raises(ValueError, match="columns"):
        contest(sleep_models["m1"], [1, 0, 0])


def test_fstat_ddf_rules():
    assert fstat_ddf([7.5]) == 7.5
    assert fstat_ddf([10.0, 10.0]) == 10.0
    assert fstat_ddf([1.5, 30.0]) == 2.0
    nu = np.array([10.0, 20.0])
    E = np.sum(nu / (nu - 2))
    assert fstat_ddf(nu) == pytest.approx(2 * E / (E - 2))


def test_satterthwaite_df_formula(sleep_models):
    info = sleep_models["m2"].satterthwaite()
    L = np.array([1.0, 0.0])
    g = np.array([L @ J @ L for J in info.jacobian])
    expected = 2 * (L @ info.vcov_beta @ L) ** 2 / (g @ info.vcov_varpar @ g)
    assert satterthwaite_df(info, L) == pytest.approx(expected, rel=1e-14)
    assert info.hessian.shape == (4, 4) and not info.messages
