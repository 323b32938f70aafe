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

import contextlib
import dataclasses
import functools
import warnings
from collections.abc import Callable, Sequence
from typing import Any, Protocol

import numpy as np
import pandas as pd
from scipy import optimize, stats

from mlmtools._blas import single_blas_thread, suits_one_thread
from mlmtools._stacklevel import user_stacklevel
from mlmtools.exceptions import ConvergenceWarning, SingularFitWarning
from mlmtools.inference.wald import interval_columns, wald_table
from mlmtools.lmm.pls import deviance, solve
from mlmtools.lmm.problem import LmmProblem, TermLayout, make_problem
from mlmtools.lmm.state import LmmFitState, MixedFitState


class ProfiledFit(Protocol):
    """What the intervals read from a fit (:class:`~mlmtools.lmm.result.LmerResult` is one):
    its state, and its refit by maximum likelihood."""

    @property
    def state(self) -> LmmFitState:
        """The fit state."""

    def refit_ml(self) -> ProfiledFit:
        """The same model fitted by maximum likelihood."""


def parameter_names(state: MixedFitState) -> list[str]:
    """lme4's ``oldNames = FALSE`` names of the variance parameters, then ``sigma``."""
    names = []
    for t in state.problem.terms:
        for c in range(t.k):
            names.append(f"sd_{t.columns[c]}|{t.group}")
            for a in range(c + 1, t.k):
                names.append(f"cor_{t.columns[a]}.{t.columns[c]}|{t.group}")
    return names + ["sigma"]


def wald(state: LmmFitState, level: float = 0.95) -> pd.DataFrame:
    """Wald intervals :math:`\\hat\\beta \\pm z\\,\\mathrm{SE}`; NaN rows for variance
    parameters (:func:`~mlmtools.inference.wald.wald_table`)."""
    return wald_table(state.beta, state.vcov, parameter_names(state), list(state.fixed_names), level)


# -- the sd/cor parameterisation -------------------------------------------------------------

def to_sdcor(terms: Sequence[TermLayout], theta: np.ndarray, sigma: float = 1.0) -> np.ndarray:
    """The standard deviations and correlations of the random effects, term by term in theta's
    order (lme4's ``Cv_to_Sv``): for each term :math:`\\Sigma = \\sigma^2 T T^\\top`, its standard
    deviations and the correlations below the diagonal column by column (0 where a standard
    deviation is 0, as lme4's ``cov2sdcor``). ``sigma = 1`` gives a GLMM's :math:`TT^\\top`.

    Examples
    --------
    >>> from mlmtools.datasets import sleepstudy
    >>> from mlmtools.lmm import lmer
    >>> from mlmtools.lmm.intervals import to_sdcor, to_theta
    >>> fit = lmer("Reaction ~ Days + (Days | Subject)", sleepstudy())
    >>> sdcor = to_sdcor(fit.state.problem.terms, fit.theta, fit.sigma)
    >>> sdcor.round(3).tolist()
    [24.741, 0.066, 5.922]
    >>> bool(np.allclose(to_theta(fit.state.problem.terms, sdcor, fit.sigma), fit.theta))
    True
    """
    out: list[float] = []
    for t in terms:
        T = t.template(theta)
        cov = sigma**2 * T @ T.T
        sd = np.sqrt(np.diag(cov))
        for c in range(t.k):
            out.append(sd[c])
            out.extend(cov[a, c] / (sd[a] * sd[c]) if sd[a] * sd[c] > 0 else 0.0 for a in range(c + 1, t.k))
    return np.array(out)


def to_theta(terms: Sequence[TermLayout], sdcor: np.ndarray, sigma: float = 1.0) -> np.ndarray:
    """The inverse of :func:`to_sdcor` (lme4's ``Sv_to_Cv``): for each term the lower Cholesky
    factor :math:`T` of :math:`\\Sigma/\\sigma^2`, column by column; on a boundary (a zero
    standard deviation or :math:`|\\rho| = 1`) a triangular square root of the semi-definite
    matrix.

    Examples
    --------
    >>> from mlmtools.datasets import sleepstudy
    >>> from mlmtools.lmm import lmer
    >>> from mlmtools.lmm.intervals import to_theta
    >>> fit = lmer("Reaction ~ Days + (Days | Subject)", sleepstudy())
    >>> to_theta(fit.state.problem.terms, np.array([2.0, 0.5, 1.0])).round(4).tolist()
    [2.0, 0.5, 0.866]
    """
    theta: list[float] = []
    for t in terms:
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
    return np.array(theta)


def sd_cor_values(state: MixedFitState, theta: np.ndarray, sigma: float) -> np.ndarray:
    """:func:`to_sdcor` of the fit's terms, then ``sigma``: the order of :func:`parameter_names`."""
    return np.append(to_sdcor(state.problem.terms, theta, sigma), sigma)


def _to_theta(state: LmmFitState, sdcor: np.ndarray) -> tuple[np.ndarray, float]:
    """:func:`to_theta` of standard deviations and correlations followed by ``sigma``."""
    sigma = float(sdcor[-1])
    return to_theta(state.problem.terms, sdcor, sigma), sigma


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
    bounds: list[tuple[float | None, float | None]] = []
    for t in state.problem.terms:
        for c in range(t.k):
            bounds.append((0.0, None))
            bounds.extend([(-1.0, 1.0)] * (t.k - c - 1))
    return bounds + [(1e-12 * state.sigma, None)]


def _minimize(objective: Callable[[np.ndarray], float], x0: np.ndarray,
              bounds: list[tuple[float | None, float | None]]) -> tuple[float, np.ndarray]:
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
    best: dict[str, Any] = {"f": np.inf, "x": x0}

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
    with contextlib.suppress(nlopt.RoundoffLimited):  # the best point so far is as good as the tolerance allows
        opt.optimize(x0)
    return float(best["f"]), np.asarray(best["x"], dtype=float)


def _endpoint(zeta: Callable[[float], float], estimate: float, target: float, direction: int,
              limit: float | None, scale: float) -> float:
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


class _ProfiledDeviance:
    r"""The profiled ML deviance of one parameter: for a value :math:`\psi` of the focal
    parameter, the deviance minimised over the other parameters,

    .. math:: d(\psi) = \min_{\omega} D(\psi, \omega),

    and the signed root :math:`\zeta(\psi)`.

    Far from the estimate the inner problem can have a second, worse local minimum (for a
    standard deviation or sigma: another variance parameter on its bound with a correlation
    left anywhere), so :math:`\psi` is reached by continuation, as lme4's profile walks out from
    the optimum point by point: the values :math:`\hat\psi \pm s(2^k - 1)`, :math:`k = 1, 2,
    \dots` (the points :func:`_endpoint` steps through) are solved in turn, each started from
    the one before, and any value from the last of them before it; each inner minimisation is
    then run once more from where it stopped (near a bound BOBYQA can stop early). So
    :math:`d(\psi)` does not depend on which values were asked for before.

    Parameters
    ----------
    deviance : callable
        :math:`D(\psi, \omega)`.
    estimate : float
        :math:`\hat\psi`.
    rest_start : numpy.ndarray
        :math:`\hat\omega`.
    rest_bounds : list of tuple
        Bounds of :math:`\omega` (None for none).
    minimum : float
        :math:`D(\hat\psi, \hat\omega)`.
    step : float
        The first step :math:`s` of the continuation.
    """

    def __init__(self, deviance: Callable[[float, np.ndarray], float], estimate: float,
                 rest_start: np.ndarray, rest_bounds: list[tuple[float | None, float | None]],
                 minimum: float, step: float):
        self.deviance = deviance
        self.estimate = estimate
        self.rest_start = rest_start
        self.rest_bounds = rest_bounds
        self.minimum = minimum
        self.step = step
        self.solved: dict[float, tuple[float, np.ndarray]] = {estimate: (minimum, rest_start)}

    def _anchor(self, value: float) -> float:
        r"""The last continuation point :math:`\hat\psi \pm s(2^k - 1)` strictly between the
        estimate and ``value`` (the estimate when there is none)."""
        distance = abs(value - self.estimate)
        k = max(int(np.ceil(np.log2(distance / self.step + 1))) - 1, 0)
        while k > 0 and self.step * (2**k - 1) >= distance * (1 - 1e-9):  # a point is not its own anchor
            k -= 1
        return float(self.estimate + np.sign(value - self.estimate) * self.step * (2**k - 1))

    def _solve(self, value: float) -> tuple[float, np.ndarray]:
        """:math:`d(\\psi)` and the minimiser :math:`\\omega`, continued from :meth:`_anchor`."""
        if value not in self.solved:
            anchor = self._solve(self._anchor(value))[1]
            objective = functools.partial(self.deviance, value)
            best = _minimize(objective, anchor, self.rest_bounds)
            polished = _minimize(objective, best[1], self.rest_bounds)
            self.solved[value] = min(best, polished, key=lambda result: result[0])
        return self.solved[value]

    def profiled(self, value: float) -> float:
        r""":math:`d(\psi)` (class docstring)."""
        if not len(self.rest_start):
            return self.deviance(value, self.rest_start)
        return self._solve(value)[0]

    def zeta(self, value: float) -> float:
        r""":math:`\zeta(\psi) = \mathrm{sign}(\psi - \hat\psi)\sqrt{d(\psi) - d(\hat\psi)}`."""
        return float(np.sign(value - self.estimate) * np.sqrt(max(self.profiled(value) - self.minimum, 0.0)))


def _variance_profile(ml: LmmFitState, index: int) -> tuple[_ProfiledDeviance, tuple[float | None, float | None]]:
    """The profiled deviance of variance parameter ``index`` (sd/cor scale) from the ML fit's
    state, and the parameter's bounds."""
    start = sd_cor_values(ml, ml.theta, ml.sigma)
    bounds = _bounds(ml)
    others = [i for i in range(len(start)) if i != index]

    def deviance_at(value: float, rest: np.ndarray) -> float:
        full = start.copy()
        full[others] = rest
        full[index] = value
        return _ml_deviance_sdcor(ml, full)

    estimate = float(start[index])
    profile = _ProfiledDeviance(deviance_at, estimate, start[others], [bounds[i] for i in others],
                                _ml_deviance_sdcor(ml, start), 0.1 * abs(estimate) if estimate != 0 else 0.1)
    return profile, bounds[index]


def _profile_variance(ml: LmmFitState, index: int, z: float) -> tuple[float, float]:
    """The interval of variance parameter ``index`` (sd/cor scale) from the ML fit's state."""
    return _variance_interval(*_variance_profile(ml, index), z)


def _variance_interval(profile: _ProfiledDeviance, bounds: tuple[float | None, float | None],
                       z: float) -> tuple[float, float]:
    """Where the profile of a variance parameter within ``bounds`` crosses :math:`\\mp z`."""
    low_limit, high_limit = bounds
    estimate = profile.estimate
    if low_limit == 0.0 and estimate == 0.0:
        lower = 0.0
    else:
        lower = _endpoint(profile.zeta, estimate, -z, -1, low_limit, profile.step)
    upper = _endpoint(profile.zeta, estimate, z, 1, high_limit, profile.step)
    return lower, upper


def _fixed_profile(ml: LmmFitState, j: int) -> _ProfiledDeviance:
    """The profiled deviance of fixed effect ``j`` from the ML fit's state: the deviance
    profiled over theta with :math:`\\beta_j` moved into the offset."""
    frame = ml.frame
    keep = [i for i in range(frame.X.shape[1]) if i != j]
    base_offset = np.zeros(frame.n) if frame.offset is None else frame.offset
    estimate = float(ml.beta[j])
    problems: dict[float, LmmProblem] = {}

    def deviance_at(value: float, theta: np.ndarray) -> float:
        if value not in problems:
            reduced = dataclasses.replace(frame, X=frame.X[:, keep],
                                          fixed_names=tuple(frame.fixed_names[i] for i in keep),
                                          offset=base_offset + frame.X[:, j] * value)
            problems[value] = make_problem(reduced)
        return deviance(problems[value], theta, False)

    theta_bounds: list[tuple[float | None, float | None]] = [(float(lo) if np.isfinite(lo) else None, None)
                                                             for lo in ml.problem.lower]
    return _ProfiledDeviance(deviance_at, estimate, ml.theta.copy(), theta_bounds, ml.devcrit(False),
                             float(np.sqrt(ml.vcov[j, j])))


def _profile_fixed(ml: LmmFitState, j: int, z: float) -> tuple[float, float]:
    """The interval of fixed effect ``j`` from the ML fit's state."""
    return _fixed_interval(_fixed_profile(ml, j), z)


def _fixed_interval(profile: _ProfiledDeviance, z: float) -> tuple[float, float]:
    """Where the profile of a fixed effect crosses :math:`\\mp z`, searched in steps of its
    standard error (the profile's ``step``)."""
    return (_endpoint(profile.zeta, profile.estimate, -z, -1, None, profile.step),
            _endpoint(profile.zeta, profile.estimate, z, 1, None, profile.step))


def _ml_state(fit: ProfiledFit) -> LmmFitState:
    """The state of the maximum-likelihood fit the profile is computed from (the fit itself, or
    its ML refit), passing on the refit's singular-fit and convergence warnings once each."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        ml_fit = fit.refit_ml()
    for category in (SingularFitWarning, ConvergenceWarning):
        found = [w for w in caught if issubclass(w.category, category)]
        if found:
            warnings.warn(f"maximum-likelihood refit for the profile: {found[0].message}", category,
                          stacklevel=user_stacklevel())
    return ml_fit.state


def profile(fit: ProfiledFit, level: float = 0.95) -> pd.DataFrame:
    """Profile-likelihood intervals for all parameters (see the module docstring).

    Examples
    --------
    >>> from mlmtools.datasets import sleepstudy
    >>> from mlmtools.lmm import lmer
    >>> from mlmtools.lmm.intervals import profile
    >>> print(profile(lmer("Reaction ~ Days + (1 | Subject)", sleepstudy())).round(3))
                              2.5 %   97.5 %
    sd_(Intercept)|Subject   26.007   52.936
    sigma                    27.814   34.591
    (Intercept)             231.992  270.818
    Days                      8.887   12.048

    Warns
    -----
    SingularFitWarning, ConvergenceWarning
        Once each, when the maximum-likelihood refit of a REML fit (which the profile is
        computed from) is singular or did not converge.
    """
    z = stats.norm.ppf((1 + level) / 2)
    names = parameter_names(fit.state)
    ml = _ml_state(fit)
    rows = [_profile_variance(ml, i, z) for i in range(len(names))]
    rows += [_profile_fixed(ml, j, z) for j in range(len(ml.beta))]
    return pd.DataFrame(rows, index=names + list(fit.state.fixed_names), columns=interval_columns(level))


#: The interval methods that layers above this one provide, keyed by name; ``"boot"`` (the parametric
#: bootstrap) is registered by :mod:`mlmtools.simulate.parametric_bootstrap`, which the package imports.
INTERVAL_METHODS: dict[str, Callable[..., pd.DataFrame]] = {}


def register_interval_method(name: str, method: Callable[..., pd.DataFrame]) -> None:
    """Make ``confint(fit, method=name, level, **options)`` call ``method(fit, level, **options)``
    (how a higher layer offers an interval method without this module importing it)."""
    INTERVAL_METHODS[name] = method


def confint(fit: ProfiledFit, method: str = "profile", level: float = 0.95, **options: object) -> pd.DataFrame:
    """Confidence intervals for all parameters of a linear mixed model.

    Parameters
    ----------
    fit : ~mlmtools.lmm.result.LmerResult
    method : {"profile", "wald", "boot"}
        ``"profile"`` (the default, as in lme4's ``confint.merMod``) inverts the likelihood
        profile :math:`|\\zeta(\\psi)| \\le z_{(1+\\text{level})/2}` for every parameter;
        ``"wald"`` gives :math:`\\hat\\beta_j \\pm z_{(1+\\text{level})/2}\\,\\mathrm{SE}_j`
        for the fixed effects and NaN for the variance parameters (much faster);
        ``"boot"`` gives parametric bootstrap intervals
        (:func:`mlmtools.simulate.parametric_bootstrap.bootstrap_confint`).
    level : float
        Confidence level.
    **options
        Options of the bootstrap (``nsim``, ``seed``, ``type``, ``use_u``, ``n_jobs``,
        ``backend``); none for the other methods.

    Returns
    -------
    pandas.DataFrame
        Rows: variance parameters (lme4's names), ``sigma``, fixed effects; columns
        ``"2.5 %"`` and ``"97.5 %"`` (for level 0.95).

    Raises
    ------
    ValueError
        For an unknown method or a level outside (0, 1).
    TypeError
        For options given to the profile or Wald method.

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
    if method in INTERVAL_METHODS:
        return INTERVAL_METHODS[method](fit, level, **options)
    if options:
        raise TypeError(f"confint(method={method!r}) takes no options, got {', '.join(options)}")
    if method == "wald":
        return wald(fit.state, level)
    if method == "profile":
        with single_blas_thread(suits_one_thread(fit.state.problem)):
            return profile(fit, level)
    known = ", ".join(repr(m) for m in ("profile", "wald", *INTERVAL_METHODS))
    raise ValueError(f"method must be one of {known}, got {method!r}")
