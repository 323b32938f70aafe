"""Confidence intervals of a GLMM (lme4's ``confint.merMod``) and of its fixed-effect predictions.

Parameters are named as lme4 names them with ``oldNames = FALSE``: per random term, in
theta's order, ``sd_<name>|<group>`` and ``cor_<name2>.<name1>|<group>`` (then ``sigma`` for
families with a dispersion), then the fixed effects.

* ``method="wald"``: :math:`\\hat\\beta_j \\pm z_{(1+\\text{level})/2}\\,\\mathrm{SE}_j`; NaN for
  the variance parameters, as lme4 reports NA.
* ``method="profile"``: the signed root of the deviance difference

  .. math::
      \\zeta(\\psi) = \\mathrm{sign}(\\psi - \\hat\\psi)\\sqrt{d(\\psi) - d(\\hat\\psi)},

  with :math:`d(\\psi)` the fit's Laplace (or quadrature) deviance minimised over all other
  parameters (random-effect standard deviations and correlations, and the fixed effects, as
  lme4's ``profile.merMod`` does for a GLMM), and the interval
  :math:`\\{\\psi : |\\zeta(\\psi)| \\le z_{(1+\\text{level})/2}\\}`. Each end point is found by
  root finding on :math:`\\zeta`; lme4 interpolates a spline through a grid of profile points
  computed with Nelder-Mead, so its end points differ from these roots in the 4th digit.
  As in lme4, a fit whose family has a dispersion cannot be profiled, and a deviance below the
  fit's raises an error (the fit was not at the optimum).

Predictions with standard errors are the Wald table of
:func:`mlmtools.inference.wald.fixed_part_predictions` with the fit's ``vcov``.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Sequence
from typing import Protocol

import numpy as np
import pandas as pd
from scipy import optimize, stats

from mlmtools.glmm.families import Family
from mlmtools.glmm.stages import GlmmDeviance
from mlmtools.inference.wald import fixed_part_predictions, interval_columns, wald_table
from mlmtools.lmm.intervals import to_sdcor, to_theta
from mlmtools.lmm.problem import TermLayout

DEVIANCE_TOL = 1e-9  # profile.merMod(devtol = 1e-9)
METHODS = ("profile", "wald")


class IntervalFit(Protocol):
    """What the intervals read from a fit (:class:`~mlmtools.glmm.result.GlmerResult` is one)."""

    @property
    def theta(self) -> np.ndarray:
        """:math:`\\hat\\theta`."""

    @property
    def fixef(self) -> pd.Series:
        """:math:`\\hat\\beta`, named."""

    @property
    def family(self) -> Family:
        """The family and link."""

    def vcov(self) -> pd.DataFrame:
        """Covariance of :math:`\\hat\\beta`."""

    def terms(self) -> tuple[TermLayout, ...]:
        """The random-effects terms."""

    def deviance_function(self) -> GlmmDeviance:
        """The deviance over :math:`(\\theta, \\beta)` the fit minimised."""

    @property
    def objective(self) -> float:
        """The deviance at the optimum."""


def variance_names(terms: Sequence[TermLayout], dispersion: bool) -> list[str]:
    """lme4's ``oldNames = FALSE`` names of the variance parameters (``sigma`` last when the
    family has a dispersion)."""
    names = []
    for t in terms:
        for c in range(t.k):
            names.append(f"sd_{t.columns[c]}|{t.group}")
            names.extend(f"cor_{t.columns[a]}.{t.columns[c]}|{t.group}" for a in range(c + 1, t.k))
    return names + (["sigma"] if dispersion else [])


def wald(fit: IntervalFit, level: float, dispersion: bool) -> pd.DataFrame:
    """Wald intervals :math:`\\hat\\beta \\pm z\\,\\mathrm{SE}`; NaN rows for variance parameters
    (:func:`~mlmtools.inference.wald.wald_table`)."""
    return wald_table(fit.fixef.to_numpy(), fit.vcov().to_numpy(), variance_names(fit.terms(), dispersion),
                      list(fit.fixef.index), level)


def _minimize(objective: Callable[[np.ndarray], float], start: np.ndarray, lower: np.ndarray,
              upper: np.ndarray, steps: np.ndarray) -> float:
    """The smallest value NLopt's BOBYQA finds from ``start`` within the bounds."""
    if start.size == 0:
        return objective(start)
    try:
        import nlopt
    except ImportError as error:
        raise ImportError("profile intervals of a GLMM need the nlopt package (pip install nlopt)") from error
    opt = nlopt.opt(nlopt.LN_BOBYQA, start.size)
    opt.set_lower_bounds(lower)
    opt.set_upper_bounds(upper)
    best = {"f": np.inf}

    def tracked(x: np.ndarray, grad: np.ndarray) -> float:
        value = objective(x)
        best["f"] = min(best["f"], value)
        return value

    opt.set_min_objective(tracked)
    opt.set_ftol_abs(1e-10)
    opt.set_xtol_rel(1e-8)
    opt.set_maxeval(5_000)
    opt.set_initial_step(steps)
    with contextlib.suppress(nlopt.RoundoffLimited):  # the best point so far is as good as the tolerance allows
        opt.optimize(np.clip(start, lower, upper))
    return float(best["f"])


class _Profile:
    """The profile :math:`\\zeta` of one parameter (in the sd/cor and beta scale)."""

    def __init__(self, fit: IntervalFit, index: int):
        self.deviance = fit.deviance_function()
        self.terms = fit.terms()
        self.n_var = len(to_sdcor(self.terms, fit.theta))
        self.estimate = np.concatenate([to_sdcor(self.terms, fit.theta), fit.fixef.to_numpy()])
        self.base = fit.objective
        self.index = index
        self.others = np.array([i for i in range(self.estimate.size) if i != index], dtype=int)
        se = np.sqrt(np.diag(fit.vcov().to_numpy()))
        lower: list[float] = []
        upper: list[float] = []
        for t in self.terms:
            for c in range(t.k):
                lower.append(0.0)
                upper.append(np.inf)
                for _ in range(c + 1, t.k):
                    lower.append(-1.0)
                    upper.append(1.0)
        self.lower = np.array(lower + [-np.inf] * se.size)
        self.upper = np.array(upper + [np.inf] * se.size)
        scale_var = np.maximum(0.1 * np.abs(self.estimate[:self.n_var]), 0.02)
        self.scale = np.concatenate([scale_var, se])
        width = self.upper - self.lower
        self.steps = np.where(np.isfinite(width), np.minimum(self.scale, width / 4), self.scale)[self.others]

    def deviance_at(self, params: np.ndarray) -> float:
        theta = to_theta(self.terms, params[:self.n_var])
        return self.deviance.stage2(np.concatenate([theta, params[self.n_var:]]))

    def zeta(self, value: float) -> float:
        """Signed root of the profiled deviance difference at ``value``."""
        def objective(rest: np.ndarray) -> float:
            params = self.estimate.copy()
            params[self.others] = rest
            params[self.index] = value
            return self.deviance_at(params)

        profiled = _minimize(objective, self.estimate[self.others], self.lower[self.others],
                             self.upper[self.others], self.steps)
        difference = profiled - self.base
        if difference < -DEVIANCE_TOL:
            raise ValueError("profiling detected new, lower deviance: the fit is not at the optimum "
                             f"(deviance {profiled!r} below the fit's {self.base!r})")
        return float(np.sign(value - self.estimate[self.index]) * np.sqrt(max(difference, 0.0)))

    def endpoint(self, target: float) -> float:
        """The value where :math:`\\zeta` reaches ``target``, walking from the estimate in the
        direction of its sign (the bound when :math:`\\zeta` does not get there first)."""
        i, direction = self.index, (1.0 if target > 0 else -1.0)
        estimate, limit = self.estimate[i], (self.upper[i] if target > 0 else self.lower[i])
        if estimate == limit:
            return float(limit)
        previous, step = estimate, self.scale[i]
        for _ in range(60):
            candidate = previous + direction * step
            if direction * (candidate - limit) >= 0:
                candidate = limit
            if direction * (self.zeta(candidate) - target) >= 0:
                low, high = sorted((previous, candidate))
                return float(optimize.brentq(lambda v: self.zeta(v) - target, low, high,
                                             xtol=1e-8 * max(1.0, abs(estimate))))
            if candidate == limit:
                return float(limit)
            previous, step = candidate, step * 2
        return float("nan")


def profile(fit: IntervalFit, level: float, parm: Sequence[int]) -> pd.DataFrame:
    """Profile-likelihood intervals of the parameters at positions ``parm`` (module docstring;
    :meth:`GlmerResult.confint <mlmtools.glmm.result.GlmerResult.confint>` names them).

    Examples
    --------
    >>> from mlmtools.datasets import sleepstudy
    >>> from mlmtools.glmm import glmer
    >>> from mlmtools.glmm.intervals import profile
    >>> data = sleepstudy().assign(slow=lambda d: (d["Reaction"] > 300).astype(int))
    >>> fit = glmer("slow ~ Days + (1 | Subject)", data, family="binomial")
    >>> print(profile(fit, 0.95, [1]).round(3))
                 2.5 %  97.5 %
    (Intercept) -4.749  -1.976
    """
    z = stats.norm.ppf((1 + level) / 2)
    names = variance_names(fit.terms(), False) + list(fit.fixef.index)
    rows = []
    for i in parm:
        one = _Profile(fit, i)
        rows.append((one.endpoint(-z), one.endpoint(z)))
    return pd.DataFrame(rows, index=[names[i] for i in parm], columns=interval_columns(level))


def parameter_positions(parm: str | Sequence[str] | None, names: Sequence[str], n_var: int) -> list[int]:
    """Positions of the parameters ``parm`` names (lme4's ``get.which``): None for all,
    ``"theta_"`` for the variance parameters, ``"beta_"`` for the fixed effects."""
    if parm is None:
        return list(range(len(names)))
    wanted = [parm] if isinstance(parm, str) else list(parm)
    positions: set[int] = set()
    for item in wanted:
        if item == "theta_":
            positions.update(range(n_var))
        elif item == "beta_":
            positions.update(range(n_var, len(names)))
        elif item in names:
            positions.add(names.index(item))
        else:
            raise ValueError(f"unknown parameter {item!r}; the parameters are: {', '.join(names)}")
    return sorted(positions)


def fixed_prediction(X: np.ndarray, beta: np.ndarray, vcov: np.ndarray, offset: np.ndarray,
                     family: Family, type: str, level: float) -> pd.DataFrame:
    """``fit``, ``se_fit``, ``lwr``, ``upr`` of :math:`\\eta = X\\beta + o` on the link or response
    scale: :func:`mlmtools.inference.wald.fixed_part_predictions` with a default index."""
    return fixed_part_predictions(X, beta, vcov, offset, pd.RangeIndex(len(X)), "confidence", level,
                                  response_scale=None if type == "link" else family)
