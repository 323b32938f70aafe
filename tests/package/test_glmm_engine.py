"""glmer's engine: the block elimination of the penalized system, the response bound to its
family, vectorized quadrature, one BLAS thread, and the speed issue's two fits against lme4.

Reference numbers: ``fixtures/glmer_speed_cases.json`` (grouseticks with three scalar terms, a binary
panel with a correlated random slope), made by ``fixtures/r/make_glmer_speed_cases.R``. Both lie on
flat criteria where lme4's first stage (minqa's BOBYQA) and ours (NLopt's) stop a little apart;
measured agreement: fixed effects 1e-5, theta 2e-5, standard errors 1e-5, log-likelihood 1e-10.
Everything else here is checked against dense linear algebra or the formulas themselves.
"""

from __future__ import annotations

import json
import pickle
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp
from scipy import stats
from scipy.special import xlogy
from threadpoolctl import threadpool_info

import mlmtools.glmm.stages as stages
from mlmtools.glmm import GeneralizedLinearMixedModel, glmer
from mlmtools.glmm.agq import agq_deviance, gauss_hermite_normal
from mlmtools.glmm.elimination import make_plan
from mlmtools.glmm.families import Binomial, Poisson
from mlmtools.glmm.penalized_system import BlockedZLambda
from mlmtools.glmm.pirls import z_lambda
from mlmtools.glmm.stages import run_stages

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"
SPEED = json.loads((FIXTURES / "glmer_speed_cases.json").read_text(encoding="utf-8"))["cases"]
SPEED_MODELS = {
    "grouse_three_terms": ("TICKS ~ YEAR + scale(HEIGHT) + (1 | BROOD) + (1 | INDEX) + (1 | LOCATION)",
                           "data_grouseticks.csv", "poisson"),
    "binary_panel_slope": ("y ~ time + trt + (time | id)", "data_binary_panel.csv", "binomial"),
}
TEXT = {"INDEX": str, "BROOD": str, "YEAR": str, "LOCATION": str, "id": str}


def read(filename: str) -> pd.DataFrame:
    return pd.read_csv(FIXTURES / filename, dtype=TEXT)


def close(actual, expected, rtol: float, atol: float = 0.0) -> None:
    np.testing.assert_allclose(np.asarray(actual, dtype=float), np.asarray(expected, dtype=float),
                               rtol=rtol, atol=atol)


def _designs() -> dict[str, GeneralizedLinearMixedModel]:
    rng = np.random.default_rng(3)
    n = 300
    data = pd.DataFrame({"y": rng.integers(0, 2, n), "x": rng.normal(size=n),
                         "a": rng.integers(0, 20, n).astype(str), "b": rng.integers(0, 12, n).astype(str),
                         "c": rng.integers(0, 5, n).astype(str)})
    models = {name: GeneralizedLinearMixedModel(formula, read(filename), family)
              for name, (formula, filename, family) in SPEED_MODELS.items()}
    models["crossed"] = GeneralizedLinearMixedModel("y ~ x + (1 | a) + (1 + x | b) + (1 | c)", data)
    models["slope_then_scalar"] = GeneralizedLinearMixedModel("y ~ x + (1 + x | a) + (1 | c)", data)
    models["three_by_three"] = GeneralizedLinearMixedModel("y ~ x + (1 + x + I(x^2) | a)", data)
    return models


DESIGNS = _designs()


def _dense(model: GeneralizedLinearMixedModel, theta: np.ndarray, w: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    problem = model.problem
    blocks = [sp.kron(sp.identity(t.n_levels), sp.csr_matrix(t.template(theta))) for t in problem.terms]
    M = (problem.Z @ sp.block_diag(blocks, format="csr")).toarray()
    return M, M.T @ (w[:, None] * M) + np.eye(problem.q)


@pytest.mark.parametrize("name", list(DESIGNS))
def test_blocked_factor_equals_dense_linear_algebra(name):
    model = DESIGNS[name]
    problem = model.problem
    rng = np.random.default_rng(11)
    theta = rng.uniform(0.3, 1.5, problem.n_theta)
    w = rng.uniform(0.1, 2.0, problem.n)
    zl = BlockedZLambda(model.glmm_data.plan, problem.terms, problem.term_matrices, theta)
    M, A = _dense(model, theta, w)
    factor = zl.factor(w)
    u, v = rng.normal(size=problem.q), rng.normal(size=problem.n)
    rhs = rng.normal(size=(problem.q, 3))
    close(factor.log_det, np.linalg.slogdet(A)[1], 1e-12)
    close(factor.solve(rhs[:, 0]), np.linalg.solve(A, rhs[:, 0]), 1e-10, atol=1e-13)
    close(factor.solve(rhs), np.linalg.solve(A, rhs), 1e-10, atol=1e-13)
    close(zl.times(u), M @ u, 1e-12, atol=1e-13)
    close(zl.t_times(v), M.T @ v, 1e-12, atol=1e-13)
    inverse = np.linalg.inv(A)
    for t, blocks in zip(problem.terms, factor.diagonal_blocks_of_inverse(problem.terms)):
        columns = np.arange(t.b_slice.start, t.b_slice.stop).reshape(t.n_levels, t.k)
        close(blocks, inverse[columns[:, :, None], columns[:, None, :]], 1e-10, atol=1e-14)
    if model.glmm_data.plan.tail_size == 0:
        close(np.sort(factor.l_diagonal), np.sort(np.diag(np.linalg.cholesky(A))), 1e-12)


def test_elimination_plan_keeps_nested_designs_sparse():
    grouse = DESIGNS["grouse_three_terms"].glmm_data.plan
    # observation, brood, location: each eliminated level by level, no dense part at all
    assert [(step.k, step.n_levels) for step in grouse.steps] == [(1, 403), (1, 118), (1, 63)]
    assert grouse.tail_size == 0 and grouse.n_entries < 3 * 584
    panel = DESIGNS["binary_panel_slope"].glmm_data.plan
    assert [(step.k, step.n_levels) for step in panel.steps] == [(2, 60)] and panel.tail_size == 0
    crossed = DESIGNS["crossed"].glmm_data.plan
    assert len(crossed.steps) == 1 and crossed.tail_size == 2 * 12 + 5
    problem = DESIGNS["crossed"].problem
    plan = make_plan(problem.terms, problem.term_codes, problem.term_matrices)
    assert np.array_equal(plan.keys, crossed.keys)


def test_single_scalar_sums_add_in_observation_order():
    rng = np.random.default_rng(5)
    codes = rng.integers(0, 50, 2_000)
    data = pd.DataFrame({"y": rng.integers(0, 2, 2_000), "g": codes})
    model = GeneralizedLinearMixedModel("y ~ 1 + (1 | g)", data)
    zl = z_lambda(model.glmm_data, np.array([0.8]))
    v = rng.normal(size=2_000)
    n_levels = model.problem.terms[0].n_levels
    level_codes = model.glmm_data.term_codes[0]
    assert np.array_equal(zl.t_times(v), np.bincount(level_codes, zl.values * v, minlength=n_levels))
    w = rng.uniform(size=2_000)
    assert np.array_equal(zl.factor(w).diagonal, np.bincount(level_codes, w * zl.values**2, minlength=n_levels) + 1)


def test_bound_deviances_follow_the_formulas():
    rng = np.random.default_rng(9)
    mu = rng.uniform(0.01, 0.99, 500)
    binary = rng.integers(0, 2, 500).astype(float)
    for y, wt in [(binary, np.ones(500)), (binary, rng.integers(1, 4, 500).astype(float)),
                  (rng.integers(0, 6, 500) / 5.0, np.full(500, 5.0))]:
        full = 2.0 * wt * (xlogy(y, y / mu) + xlogy(1.0 - y, (1.0 - y) / (1.0 - mu)))
        close(Binomial().deviance_function(y, wt)(mu), full, 1e-14)
        m = np.round(wt)
        k = np.round(m * y)
        close(Binomial().aic(y, mu, wt, None), -2.0 * np.sum(wt / m * stats.binom.logpmf(k, m, mu)), 1e-12)
    # 0/1 data: the unit deviance is -2 log p of the observed outcome, and aic is their sum
    probability = np.where(binary == 1.0, mu, 1.0 - mu)
    unit = Binomial().deviance_function(binary, np.ones(500))(mu)
    assert np.array_equal(unit, -2.0 * np.log(probability))
    assert Binomial().aic(binary, mu, np.ones(500), None) == float(-2.0 * np.log(probability).sum())
    # proportions keep the general formula, bit for bit
    shares = rng.integers(0, 6, 500) / 5.0
    assert np.array_equal(Binomial().dev_resids(shares, mu, np.full(500, 5.0)),
                          10.0 * (xlogy(shares, shares / mu) + xlogy(1.0 - shares, (1.0 - shares) / (1.0 - mu))))
    counts = rng.poisson(3.0, 500).astype(float)
    assert np.array_equal(Poisson().dev_resids(counts, mu * 5, np.ones(500)),
                          2.0 * (xlogy(counts, counts / (mu * 5)) - (counts - mu * 5)))


def test_vectorized_quadrature_equals_one_node_at_a_time():
    data = pd.read_csv(FIXTURES / "data_gee_binary.csv")
    model = GeneralizedLinearMixedModel("y ~ x + treat + (1 | id)", data)
    glmm = model.glmm_data
    theta, beta = np.array([1.1]), np.array([-0.5, 0.8, 0.3])
    deviance = stages.GlmmDeviance(glmm, 1, 10, np.zeros(glmm.n))
    mode = deviance.mode(theta, beta, update_beta=False)
    codes, z = glmm.scalar_term
    n_levels = glmm.terms[0].n_levels
    fixed = glmm.X @ beta + glmm.offset
    devc0 = np.bincount(codes, mode.dev_resids, minlength=n_levels) + mode.u**2
    total = np.zeros(n_levels)
    for node, weight in zip(*gauss_hermite_normal(10)):
        u = mode.u + node / mode.l_diagonal
        mu = glmm.family.linkinv(fixed + theta[0] * z * u[codes])
        change = np.bincount(codes, glmm.family.dev_resids(glmm.y, mu, glmm.weights), minlength=n_levels) + u**2 - devc0
        total += weight * np.exp(0.5 * node**2 - 0.5 * change)
    one_at_a_time = float(np.sum(devc0) + mode.log_det_L2 - 2.0 * np.sum(np.log(total)))
    assert agq_deviance(glmm, theta, beta, mode, 10) == one_at_a_time


def test_fit_runs_on_one_blas_thread_and_restores_the_count(monkeypatch, sleepstudy):
    before = [lib["num_threads"] for lib in threadpool_info() if lib["user_api"] == "blas"]
    seen = []
    original = stages.nelder_mead

    def recording(*args, **kwargs):
        seen.extend(lib["num_threads"] for lib in threadpool_info() if lib["user_api"] == "blas")
        return original(*args, **kwargs)

    monkeypatch.setattr(stages, "nelder_mead", recording)
    glmer("slow ~ Days + (1 | Subject)", sleepstudy.assign(slow=(sleepstudy["Reaction"] > 300).astype(int)))
    assert seen and set(seen) == {1}
    assert [lib["num_threads"] for lib in threadpool_info() if lib["user_api"] == "blas"] == before


@pytest.fixture(scope="module")
def speed_fits():
    return {name: glmer(formula, read(filename), family=family)
            for name, (formula, filename, family) in SPEED_MODELS.items()}


@pytest.mark.parametrize("name", list(SPEED_MODELS))
def test_speed_cases_against_lme4(speed_fits, name):
    fit, case = speed_fits[name], SPEED[name]
    formula, filename, _ = SPEED_MODELS[name]
    assert formula in case["call"] and case["data"] == filename
    close(fit.fixef, list(case["fixef"].values()), 2e-5)
    close(fit.theta, list(case["theta"].values()), 5e-5)
    close(np.sqrt(np.diag(fit.vcov())), list(case["se"].values()), 2e-5)
    close(fit.loglik, case["logLik"], 1e-9)
    close(fit.varcorr()["sdcor"], case["varcorr"]["columns"]["sdcor"], 5e-5)
    assert fit.is_singular == case["isSingular"]


def test_blocked_fits_pickle_and_refit_as_fresh_fits(speed_fits):
    fit = speed_fits["binary_panel_slope"]
    restored = pickle.loads(pickle.dumps(fit))
    assert "plan" not in restored.state.data.__dict__
    assert np.array_equal(restored.predict(), fit.predict())
    assert np.array_equal(restored.ranef(cond_var=True)["id"].attrs["cond_var"],
                          fit.ranef(cond_var=True)["id"].attrs["cond_var"])
    model = fit.model
    again = model.result_of(run_stages(model.glmm_data, model.problem, 1))
    assert np.array_equal(again.theta, fit.theta) and again.loglik == fit.loglik
