"""The blocked factorization of crossed designs (``mlmtools.lmm.crossed_design``, ``blocked_factor``,
``blocked_traces``): against the dense factorization on small designs, against R on InstEval
(``crossed_scale.json``, made by ``r/make_crossed_scale.R``), and its exact derivatives against
numDeriv's."""

from __future__ import annotations

import json
import re
import warnings
from functools import cache

import numpy as np
import pandas as pd
import pytest
from conftest import FIXTURES

import mlmtools.lmm.crossed_design as crossed_design
import mlmtools.lmm.problem as problem_module
from mlmtools.exceptions import SingularFitWarning
from mlmtools.frame import build_model
from mlmtools.inference.numderiv import hessian as numderiv_hessian
from mlmtools.lmm import LinearMixedModel
from mlmtools.lmm.blocked_traces import blocked_derivatives_available
from mlmtools.lmm.derivatives import (
    DENSE_MAX_Q,
    analytic_available,
    profiled_derivatives,
    theta_derivatives,
    varpar_hessian_jacobian,
)
from mlmtools.lmm.pls import conditional_variances, deviance, deviance_function, solve
from mlmtools.lmm.problem import design_products, make_problem, uses_blocked_factor

CROSSED = json.loads((FIXTURES / "crossed_scale.json").read_text(encoding="utf-8"))["cases"]
INSTEVAL_FORMULA = "y ~ service + (1 | s) + (1 | d) + (1 | dept)"
DERIVATIVE_FIELDS = ("log_det_gradient", "log_det_hessian", "pwrss_gradient", "pwrss_hessian", "vcov_gradient",
                     "unscaled_vcov")


def crossed_data(n_a: int, n_b: int, n: int, seed: int) -> pd.DataFrame:
    """Rows on random pairs of two crossed factors, a third factor with 5 levels, a slope on x."""
    rng = np.random.default_rng(seed)
    a, b, c = rng.integers(0, n_a, n), rng.integers(0, n_b, n), rng.integers(0, 5, n)
    x = rng.normal(size=n)
    y = (1 + 0.5 * x + rng.normal(0, 1, n_a)[a] + rng.normal(0, 0.3, n_a)[a] * x + rng.normal(0, 0.7, n_b)[b]
         + rng.normal(0, 0.4, 5)[c] + rng.normal(0, 1, n))
    return pd.DataFrame({"y": y, "x": x, "a": [f"a{i:03d}" for i in a], "b": [f"b{i:03d}" for i in b],
                         "c": [f"c{i}" for i in c]})


SMALL_DESIGNS = {
    "two crossed intercepts": ("y ~ x + (1 | a) + (1 | b)", (40, 50, 2000)),
    "three crossed intercepts": ("y ~ x + (1 | a) + (1 | b) + (1 | c)", (40, 50, 2000)),
    "slope on the first term": ("y ~ x + (1 + x | a) + (1 | b)", (60, 30, 3000)),
    "slope on a later term": ("y ~ x + (1 | b) + (1 + x | a)", (60, 300, 3000)),
    "slopes on two terms": ("y ~ x + (1 + x | a) + (1 + x | b) + (1 | c)", (80, 30, 3000)),
}


VECTOR_DESIGNS = [name for name, (formula, _) in SMALL_DESIGNS.items() if "+ x |" in formula]


@cache
def problems(name: str):
    """The dense and the blocked problem of one of SMALL_DESIGNS."""
    formula, sizes = SMALL_DESIGNS[name]
    frame = build_model(formula, crossed_data(*sizes, seed=7))
    return (make_problem(frame, design_products(frame, blocked=False)),
            make_problem(frame, design_products(frame, blocked=True)))


@pytest.fixture(params=list(SMALL_DESIGNS))
def both_problems(request):
    return problems(request.param)


def random_theta(problem, rng: np.random.Generator, zero: int | None = None) -> np.ndarray:
    theta = np.abs(rng.normal(size=problem.n_theta)) + 0.2
    free = np.isinf(problem.lower)
    theta[free] = 0.3 * rng.normal(size=free.sum())
    if zero is not None:
        theta[zero] = 0.0
    return theta


def test_blocked_deviance_equals_the_dense_one(both_problems):
    dense, blocked = both_problems
    assert dense.crossed is None and blocked.crossed is not None
    rng = np.random.default_rng(1)
    for draw in range(10):
        theta = random_theta(dense, rng, zero=0 if draw == 0 else None)
        for reml in (True, False):
            expected = deviance(dense, theta, reml)
            assert deviance(blocked, theta, reml) == pytest.approx(expected, rel=1e-12)
            # the optimizer's function gives the same bits as deviance()
            assert deviance_function(blocked, reml)(theta) == deviance(blocked, theta, reml)


def test_blocked_solution_and_conditional_variances_equal_the_dense_ones(both_problems):
    dense, blocked = both_problems
    theta = random_theta(dense, np.random.default_rng(2))
    expected, found = solve(dense, theta, True), solve(blocked, theta, True)
    np.testing.assert_allclose(found.beta, expected.beta, rtol=1e-11)
    np.testing.assert_allclose(found.u, expected.u, rtol=1e-10, atol=1e-12 * np.abs(expected.u).max())
    assert found.pwrss == pytest.approx(expected.pwrss, rel=1e-12)
    for got, want in zip(conditional_variances(blocked, theta, 1.3), conditional_variances(dense, theta, 1.3)):
        np.testing.assert_allclose(got, want, rtol=1e-10, atol=1e-13 * np.abs(want).max())


def test_schur_complement_without_stored_products_is_the_same(monkeypatch):
    """Above MAX_SCHUR_PRODUCTS the Schur complement comes from a sparse product at each evaluation."""
    monkeypatch.setattr(crossed_design, "MAX_SCHUR_PRODUCTS", 0)
    rng = np.random.default_rng(3)
    for formula, sizes in SMALL_DESIGNS.values():
        frame = build_model(formula, crossed_data(*sizes, seed=7))
        dense, blocked = (make_problem(frame, design_products(frame, blocked=flag)) for flag in (False, True))
        assert blocked.crossed.schur.products is None
        theta = random_theta(dense, rng)
        assert deviance(blocked, theta, True) == pytest.approx(deviance(dense, theta, True), rel=1e-12)


def test_blocked_derivatives_equal_the_dense_ones(both_problems):
    """All six parts of ThetaDerivatives, REML and ML, inside the parameter space and with each scalar
    term in turn on the boundary (its variance 0)."""
    dense, blocked = both_problems
    zeros = [None] + [t.theta_slice.start for t in dense.terms if t.k == 1]
    rng = np.random.default_rng(4)
    for zero, reml in [(zero, reml) for zero in zeros for reml in (True, False)]:
        theta = random_theta(dense, rng, zero=zero)
        expected = theta_derivatives(dense, solve(dense, theta, reml))
        found = theta_derivatives(blocked, solve(blocked, theta, reml))
        for field in DERIVATIVE_FIELDS:
            want = getattr(expected, field)
            np.testing.assert_allclose(getattr(found, field), want, rtol=1e-9, atol=1e-10 * np.abs(want).max(),
                                       err_msg=f"{field}, zero at {zero}, REML {reml}")


@pytest.mark.parametrize("name", VECTOR_DESIGNS)
def test_singular_template_with_several_columns_is_left_to_the_other_schemes(name):
    dense, blocked = problems(name)
    theta = random_theta(dense, np.random.default_rng(5))
    vector = next(t for t in blocked.terms if t.k > 1)
    theta[vector.diagonal_positions()[-1]] = 0.0
    assert not blocked_derivatives_available(blocked, theta)
    assert analytic_available(blocked, theta) == (blocked.q <= DENSE_MAX_Q)
    # below DENSE_MAX_Q the dense exact scheme takes over
    found = theta_derivatives(blocked, solve(blocked, theta, True))
    expected = theta_derivatives(dense, solve(dense, theta, True))
    np.testing.assert_allclose(found.log_det_hessian, expected.log_det_hessian, rtol=1e-9)


@pytest.mark.parametrize("design", ["two crossed intercepts", "slope on a later term"])
def test_blocked_fit_equals_the_dense_fit(design, monkeypatch):
    formula, sizes = SMALL_DESIGNS[design]
    data = crossed_data(*sizes, seed=11)
    dense = LinearMixedModel(formula, data).fit()
    monkeypatch.setattr(problem_module, "BLOCKED_MIN_COUPLING", 0)
    model = LinearMixedModel(formula, data)
    assert model.problem.crossed is not None
    blocked = model.fit()
    assert blocked.devcrit(True) == pytest.approx(dense.devcrit(True), rel=1e-12)
    np.testing.assert_allclose(blocked.theta, dense.theta, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(blocked.fixef, dense.fixef, rtol=1e-7)
    np.testing.assert_allclose(blocked.bse, dense.bse, rtol=1e-6)
    np.testing.assert_allclose(blocked.coef_table()["df"], dense.coef_table()["df"], rtol=1e-5)


def test_existing_fixtures_keep_the_dense_factorization():
    """Every multi-term lmer fixture (and so every chapter's design) is below the size at which the
    blocked factorization takes over, so their numbers are made exactly as before."""
    fixtures = ["lmer_cases.json", "lmertest_tables.json", "optimizer_criteria.json"]
    checked = 0
    for name in fixtures:
        content = json.loads((FIXTURES / name).read_text(encoding="utf-8"))
        for case in (content.get("cases") or content.get("criteria")).values():
            if not isinstance(case, dict) or case.get("call", "").count("|") < 2:
                continue
            formula = re.fullmatch(r"lmer\((.*?), data = d.*\)", case["call"]).group(1)
            data = pd.read_csv(FIXTURES / case["data"])
            problem = make_problem(build_model(formula, data))
            assert not uses_blocked_factor(problem.terms) and problem.crossed is None, case["call"]
            checked += 1
    assert checked >= 4


# -- InstEval (crossed_scale.json) -------------------------------------------------------------------


@pytest.fixture(scope="module")
def insteval() -> pd.DataFrame:
    return pd.read_csv(FIXTURES / "data_insteval.csv.gz")


@pytest.fixture(scope="module")
def subset_fits(insteval):
    fits = {}
    for name in ("students_1_600", "students_1_200"):
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            fits[name] = (LinearMixedModel(INSTEVAL_FORMULA, insteval.query(CROSSED[name]["rows"])).fit(), caught)
    return fits


def r_table(entry: dict) -> pd.DataFrame:
    return pd.DataFrame(entry["values"], index=entry["rownames"], columns=entry["colnames"])


@pytest.mark.parametrize("name", ["students_1_600", "students_1_200"])
def test_insteval_subsets_match_lmertest(subset_fits, name):
    fit, caught = subset_fits[name]
    case = CROSSED[name]
    assert fit.state.problem.crossed is not None  # the blocked factorization
    assert fit.nobs == case["nobs"]
    np.testing.assert_allclose(fit.fixef, list(case["fixef"].values()), rtol=1e-6)
    np.testing.assert_allclose(fit.bse, list(case["se"].values()), rtol=1e-6)
    np.testing.assert_allclose(fit.theta, list(case["theta"].values()), atol=1e-6)
    assert fit.devcrit(True) <= case["REMLcrit"] * (1 + 1e-10)
    table, expected = fit.coef_table(), r_table(case["coefficients"])
    np.testing.assert_allclose(table["df"], expected["df"], rtol=1e-4)
    np.testing.assert_allclose(table["t value"], expected["t value"], rtol=1e-6)
    anova, r_anova = fit.anova().table, case["anova_typeIII"]["columns"]
    np.testing.assert_allclose(anova["DenDF"], r_anova["DenDF"], rtol=1e-4)
    np.testing.assert_allclose(anova["F value"], r_anova["F value"], rtol=1e-6)
    singular = [w for w in caught if issubclass(w.category, SingularFitWarning)]
    assert fit.is_singular == case["isSingular"] == bool(singular)


def test_insteval_exact_derivatives_match_numderiv(subset_fits):
    """The exact Hessian of lmerTest's devfun_vp and Jacobian of its covariance against numDeriv's."""
    fit, _ = subset_fits["students_1_600"]
    problem, solution = fit.state.problem, fit.state.solution
    exact_hessian, exact_jacobian, used = varpar_hessian_jacobian(problem, solution, "analytic")
    assert used == "analytic"
    numerical_hessian, numerical_jacobian, _ = varpar_hessian_jacobian(problem, solution, "numerical")
    np.testing.assert_allclose(exact_hessian, numerical_hessian, rtol=1e-6, atol=1e-6 * np.abs(exact_hessian).max())
    np.testing.assert_allclose(exact_jacobian, numerical_jacobian, rtol=1e-6,
                               atol=1e-6 * np.abs(exact_jacobian).max())


def test_insteval_boundary_derivatives(subset_fits):
    """Students 1 to 200: the department's variance is 0.  The blocked derivatives there equal the dense
    scheme's (q = 1055 allows both); numDeriv's, which lmerTest uses, differ by about 2e-4 on the
    boundary's second derivative (its first step is the absolute 1e-4 at zero, where the criterion's
    rounding error is amplified) and agree elsewhere."""
    fit, _ = subset_fits["students_1_200"]
    problem, solution = fit.state.problem, fit.state.solution
    assert solution.theta[2] == 0.0
    frame = fit.state.frame
    dense = make_problem(frame, design_products(frame, blocked=False))
    expected = theta_derivatives(dense, solve(dense, solution.theta, True))
    found = theta_derivatives(problem, solution)
    for field in DERIVATIVE_FIELDS:
        want = getattr(expected, field)
        np.testing.assert_allclose(getattr(found, field), want, rtol=1e-8, atol=1e-9 * np.abs(want).max(),
                                   err_msg=field)
    exact_hessian, _, _ = varpar_hessian_jacobian(problem, solution, "analytic")
    numerical_hessian, _, _ = varpar_hessian_jacobian(problem, solution, "numerical")
    np.testing.assert_allclose(exact_hessian, numerical_hessian, rtol=1e-3, atol=1e-3)


def test_profiled_derivatives_of_a_crossed_slope_model_match_numderiv(monkeypatch):
    """The gradient and Hessian of the profiled criterion through the blocked factor with a random slope
    on a later term, against numDeriv's Hessian and central differences."""
    monkeypatch.setattr(problem_module, "BLOCKED_MIN_COUPLING", 0)
    formula, sizes = SMALL_DESIGNS["slope on a later term"]
    problem = make_problem(build_model(formula, crossed_data(*sizes, seed=13)))
    theta = random_theta(problem, np.random.default_rng(6))
    for reml in (True, False):
        gradient, hessian = profiled_derivatives(problem, solve(problem, theta, reml))
        objective = deviance_function(problem, reml)
        np.testing.assert_allclose(hessian, numderiv_hessian(objective, theta), rtol=1e-6, atol=1e-5)
        steps = 1e-5 * np.eye(len(theta))
        central = [(objective(theta + h) - objective(theta - h)) / 2e-5 for h in steps]
        np.testing.assert_allclose(gradient, central, rtol=1e-5, atol=1e-5)


@pytest.mark.slow
def test_full_insteval_reaches_lme4(insteval):
    """All of InstEval: lme4 stops 2.6e-5 away in theta with a criterion 1.6e-6 higher than ours."""
    case = CROSSED["full"]
    fit = LinearMixedModel(INSTEVAL_FORMULA, insteval).fit()
    assert fit.state.problem.crossed is not None
    assert fit.devcrit(True) <= case["REMLcrit"]
    assert fit.devcrit(True) == pytest.approx(case["REMLcrit"], rel=1e-10)
    np.testing.assert_allclose(fit.theta, list(case["theta"].values()), atol=1e-4)
    np.testing.assert_allclose(fit.fixef, list(case["fixef"].values()), rtol=1e-5)
    np.testing.assert_allclose(fit.bse, list(case["se"].values()), rtol=1e-3)
    assert fit.coef_table()["df"].notna().all()
