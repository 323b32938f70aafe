"""Confidence intervals for linear mixed models: Wald and likelihood profile (lme4's
``confint.merMod``).

Parameters are named as lme4 names them with ``oldNames = FALSE``: per random term, in
theta's order, ``sd_<name>|<group>`` and ``cor_<name2>.<name1>|<group>``, then ``sigma``,
then the fixed effects.

* ``method="wald"``: :math:`\\hat\\beta_j \\pm z_{(1+\\text{level})/2}\\,\\mathrm{SE}_j`;
  NaN for the variance parameters, as lme4 reports NA.
* ``method="profile"``: the signed root of the ML deviance difference

  .. math::
      \\zeta(\\psi) = \\mathrm{sign}(\\psi - \\hat\\psi)\\sqrt{d(\\psi) - d(\\hat\\psi)},

  with :math:`d(\\psi)` the ML deviance minimised over all other parameters, and the
  interval :math:`\\{\\psi : |\\zeta(\\psi)| \\le z_{(1+\\text{level})/2}\\}`.  As lme4 does,
  a REML fit is profiled on the ML deviance (lme4 refits it by ML).  Here each end point is
  found by root finding on :math:`\\zeta`; lme4 interpolates a spline through a grid of
  profile points, so its end points differ from these exact roots in the 4th-5th digit.
"""

from __future__ import annotations

import dataclasses
import warnings
from typing import Protocol

import numpy as np
import pandas as pd
from scipy import optimize, stats

from mlmtools._blas import single_blas_thread, suits_one_thread
from mlmtools._stacklevel import user_stacklevel
from mlmtools.exceptions import ConvergenceWarning, SingularFitWarning
from mlmtools.lmm.pls import deviance, solve
from mlmtools.lmm.problem import make_problem
from mlmtools.lmm.state import LmmFitState
from mlmtools.rstyle.numbers import format_number, format_vector


class ProfiledFit(Protocol):
    """What the intervals read from a fit (:class:`~mlmtools.lmm.result.LmerResult` is one):
    its state, and its refit by maximum likelihood."""

    @property
    def state(self) -> LmmFitState:
        """The fit state."""

    def refit_ml(self) -> ProfiledFit:
        """The same model fitted by maximum likelihood."""


def parameter_names(state: LmmFitState) -> list[str]:
    """lme4's ``oldNames = FALSE`` names of the variance parameters, then ``sigma``."""
    names = []
    for t in state.problem.terms:
        for c in range(t.k):
            names.append(f"sd_{t.columns[c]}|{t.group}")
            for a in range(c + 1, t.k):
                names.append(f"cor_{t.columns[a]}.{t.columns[c]}|{t.group}")
    return names + ["sigma"]


def _columns(level: float) -> list[str]:
    """lme4's column labels: ``paste(format(100 * a, trim = TRUE, scientific = FALSE,
    digits = 3), "%")`` of both tail probabilities, formatted together as R formats a vector.

    :func:`mlmtools.format_vector` has no ``scientific = FALSE``; for the rare levels
    where it would choose scientific notation (level 0.999 and beyond) each label is
    formatted on its own instead."""
    lower = (1 - level) / 2
    percents = np.array([lower, 1 - lower]) * 100
    texts = format_vector(percents, 3)
    if any("e" in text for text in texts):
        texts = [format_number(p, 3) for p in percents]
    return [f"{text.strip()} %" for text in texts]


def wald(state: LmmFitState, level: float = 0.95) -> pd.DataFrame:
    """Wald intervals :math:`\\hat\\beta \\pm z\\,\\mathrm{SE}`; NaN rows for variance
    parameters."""
    z = stats.norm.ppf((1 + level) / 2)
    se = np.sqrt(np.diag(state.vcov))
    beta = state.beta
    var_names = parameter_names(state)
    values = np.vstack([np.full((len(var_names), 2), np.nan),
                        np.column_stack([beta - z * se, beta + z * se])])
    return pd.DataFrame(values, index=var_names + list(state.fixed_names), columns=_columns(level))


# -- the sd/cor parameterisation -------------------------------------------------------------

def _to_sdcor(state: LmmFitState, theta: np.ndarray, sigma: float) -> np.ndarray:
    out = []
    for t in state.problem.terms:
        T = t.template(theta)
        cov = sigma**2 * T @ T.T
        sd = np.sqrt(np.diag(cov))
        for c in range(t.k):
            out.append(sd[c])
            for a in range(c + 1, t.k):
                out.append(cov[a, c] / (sd[a] * sd[c]) if sd[a] * sd[c] > 0 else 0.0)
    return np.array(out + [sigma])


def _to_theta(state: LmmFitState, sdcor: np.ndarray) -> tuple[np.ndarray, float]:
    sigma = sdcor[-1]
    theta = []
    for t in state.problem.terms:
        values = sdcor[t.theta_slice]
        sd = np.zeros(t.k)
        corr = np.eye(t.k)
        index = 0
        for c in range(t.k):
            sd[c] = values[index]
            index += 1
            for a in range(c + 1, t.k):
                corr[a, c] = corr[c, a] = values[index]
                index += 1
        cov = corr * np.outer(sd, sd) / sigma**2
        try:
            T = np.linalg.cholesky(cov + 1e-300 * np.eye(t.k)) if t.k > 1 else np.sqrt(cov)
        except np.linalg.LinAlgError:
            vals, vecs = np.linalg.eigh(cov)
            T = np.linalg.qr((vecs * np.sqrt(np.clip(vals, 0, None))).T)[1].T
            T = T * np.sign(np.diag(T) + (np.diag(T) == 0))
        rows, cols = np.tril_indices(t.k)
        order = np.lexsort((rows, cols))
        theta.extend(T[rows[order], cols[order]])
    return np.array(theta), float(sigma)


def _ml_deviance_sdcor(state: LmmFitState, sdcor: np.ndarray) -> float:
    """:math:`-2\\ell` (ML) at given standard deviations, correlations and sigma:
    :math:`\\log|L|^2 + \\mathrm{pwrss}/\\sigma^2 + n\\log(2\\pi\\sigma^2) - \\log|W|`."""
    theta, sigma = _to_theta(state, sdcor)
    problem = state.problem
    try:
        s = solve(problem, theta, reml=False)
    except np.linalg.LinAlgError:
        return float("inf")
    return float(s.ldL2 - problem.log_det_w + s.pwrss / sigma**2
                 + problem.n * np.log(2 * np.pi * sigma**2))


def _bounds(state: LmmFitState) -> list[tuple[float | None, float | None]]:
    bounds = []
    for t in state.problem.terms:
        for c in range(t.k):
            bounds.append((0.0, None))
            bounds.extend([(-1.0, 1.0)] * (t.k - c - 1))
    return bounds + [(1e-12 * state.sigma, None)]


def _minimize(objective, x0: np.ndarray, bounds: list[tuple[float | None, float | None]]
              ) -> tuple[float, np.ndarray]:
    """Bounded minimisation for a profile point: NLopt's BOBYQA when available (few
    evaluations), else L-BFGS-B."""
    lower = np.array([-np.inf if lo is None else lo for lo, _ in bounds])
    upper = np.array([np.inf if hi is None else hi for _, hi in bounds])
    x0 = np.clip(x0, lower, upper)
    try:
        import nlopt
    except ImportError:
        result = optimize.minimize(objective, x0, method="L-BFGS-B", bounds=bounds,
                                   options={"ftol": 1e-15, "gtol": 1e-10})
        return float(result.fun), np.asarray(result.x)
    opt = nlopt.opt(nlopt.LN_BOBYQA, len(x0))
    opt.set_lower_bounds(lower)
    opt.set_upper_bounds(upper)
    best = {"f": np.inf, "x": x0}

    def tracked(x: np.ndarray, grad: np.ndarray) -> float:
        value = objective(x)
        if value < best["f"]:
            best["f"], best["x"] = value, np.array(x)
        return value

    opt.set_min_objective(tracked)
    opt.set_ftol_abs(1e-12)
    opt.set_xtol_rel(1e-10)
    opt.set_maxeval(20_000)
    step = np.where(np.abs(x0) > 0, 0.1 * np.abs(x0), 0.05)
    opt.set_initial_step(np.minimum(step, np.where(np.isfinite(upper - lower), (upper - lower) / 4, np.inf)))
    try:
        opt.optimize(x0)
    except nlopt.RoundoffLimited:
        pass  # the best point so far is as good as the tolerance allows
    return float(best["f"]), best["x"]


def _endpoint(zeta, estimate: float, target: float, direction: int, limit: float | None,
              scale: float) -> float:
    """Solve zeta(psi) = target walking from the estimate in ``direction``."""
    step = scale
    previous = estimate
    for _ in range(60):
        candidate = previous + direction * step
        if limit is not None and direction * (candidate - limit) >= 0:
            candidate = limit
        value = zeta(candidate)
        if direction * (value - target) >= 0:
            return optimize.brentq(lambda v: zeta(v) - target, min(previous, candidate),
                                   max(previous, candidate), xtol=1e-10 * max(1.0, abs(estimate)))
        if limit is not None and candidate == limit:
            return limit
        previous, step = candidate, step * 2
    return np.nan


def _profile_variance(ml: LmmFitState, index: int, z: float) -> tuple[float, float]:
    """The interval of variance parameter ``index`` (sd/cor scale) from the ML fit's state."""
    start = _to_sdcor(ml, ml.theta, ml.sigma)
    best = _ml_deviance_sdcor(ml, start)
    bounds = _bounds(ml)
    others = [i for i in range(len(start)) if i != index]

    def profiled(value: float) -> float:
        def objective(rest: np.ndarray) -> float:
            full = start.copy()
            full[others] = rest
            full[index] = value
            return _ml_deviance_sdcor(ml, full)

        if not others:
            return objective(np.zeros(0))
        value, _ = _minimize(objective, start[others], [bounds[i] for i in others])
        return value

    def zeta(value: float) -> float:
        return np.sign(value - start[index]) * np.sqrt(max(profiled(value) - best, 0.0))

    low_limit, high_limit = bounds[index]
    scale = 0.1 * abs(start[index]) if start[index] != 0 else 0.1
    if low_limit == 0.0 and start[index] == 0.0:
        lower = 0.0
    else:
        lower = _endpoint(zeta, start[index], -z, -1, low_limit, scale)
    upper = _endpoint(zeta, start[index], z, 1, high_limit, scale)
    return lower, upper


def _profile_fixed(ml: LmmFitState, j: int, z: float) -> tuple[float, float]:
    """The interval of fixed effect ``j`` from the ML fit's state."""
    frame = ml.frame
    keep = [i for i in range(frame.X.shape[1]) if i != j]
    base_offset = np.zeros(frame.n) if frame.offset is None else frame.offset
    best = ml.devcrit(False)
    estimate = ml.beta[j]
    theta_start = ml.theta.copy()

    def profiled(value: float) -> float:
        reduced = dataclasses.replace(frame, X=frame.X[:, keep],
                                      fixed_names=tuple(frame.fixed_names[i] for i in keep),
                                      offset=base_offset + frame.X[:, j] * value)
        problem = make_problem(reduced)
        value, _ = _minimize(lambda th: deviance(problem, th, False), theta_start,
                             [(lo if np.isfinite(lo) else None, None) for lo in problem.lower])
        return value

    def zeta(value: float) -> float:
        return np.sign(value - estimate) * np.sqrt(max(profiled(value) - best, 0.0))

    se = float(np.sqrt(ml.vcov[j, j]))
    return (_endpoint(zeta, estimate, -z, -1, None, se), _endpoint(zeta, estimate, z, 1, None, se))


def profile(fit: ProfiledFit, level: float = 0.95) -> pd.DataFrame:
    """Profile-likelihood intervals for all parameters (see the module docstring).

    Warns
    -----
    SingularFitWarning, ConvergenceWarning
        Once each, when the maximum-likelihood refit of a REML fit (which the profile is
        computed from) is singular or did not converge.
    """
    z = stats.norm.ppf((1 + level) / 2)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        ml_fit = fit.refit_ml()
    for category in (SingularFitWarning, ConvergenceWarning):
        found = [w for w in caught if issubclass(w.category, category)]
        if found:
            warnings.warn(f"maximum-likelihood refit for the profile: {found[0].message}", category,
                          stacklevel=user_stacklevel())
    names = parameter_names(fit.state)
    ml = ml_fit.state
    rows = [_profile_variance(ml, i, z) for i in range(len(names))]
    rows += [_profile_fixed(ml, j, z) for j in range(len(ml.beta))]
    return pd.DataFrame(rows, index=names + list(fit.state.fixed_names), columns=_columns(level))


def confint(fit: ProfiledFit, method: str = "profile", level: float = 0.95) -> pd.DataFrame:
    """Confidence intervals for all parameters of a linear mixed model.

    Parameters
    ----------
    fit : ~mlmtools.lmm.result.LmerResult
    method : {"profile", "wald"}
        ``"profile"`` (the default, as in lme4's ``confint.merMod``) inverts the likelihood
        profile :math:`|\\zeta(\\psi)| \\le z_{(1+\\text{level})/2}` for every parameter;
        ``"wald"`` gives :math:`\\hat\\beta_j \\pm z_{(1+\\text{level})/2}\\,\\mathrm{SE}_j`
        for the fixed effects and NaN for the variance parameters.  Wald is much faster.
    level : float
        Confidence level.

    Returns
    -------
    pandas.DataFrame
        Rows: variance parameters (lme4's names), ``sigma``, fixed effects; columns
        ``"2.5 %"`` and ``"97.5 %"`` (for level 0.95).

    Examples
    --------
    Wald intervals exist for the fixed effects only (NA for the variance parameters):

    >>> from mlmtools.datasets import sleepstudy
    >>> from mlmtools.lmm import lmer
    >>> from mlmtools.rstyle import print_rounded
    >>> fit = lmer("Reaction ~ Days + (1 + Days | Subject)", sleepstudy())
    >>> print(print_rounded(confint(fit, method="wald").loc[["(Intercept)", "Days"]], 3))
                  2.5 %  97.5 %
    (Intercept) 238.029 264.781
    Days          7.438  13.497
    """
    if not 0 < level < 1:
        raise ValueError(f"level must be between 0 and 1, got {level}")
    method = method.lower() if isinstance(method, str) else method
    if method == "wald":
        return wald(fit.state, level)
    if method == "profile":
        with single_blas_thread(suits_one_thread(fit.state.problem)):
            return profile(fit, level)
    raise ValueError(f"method must be 'wald' or 'profile', got {method!r}")
