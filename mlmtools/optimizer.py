"""Bounded minimisation of a profiled deviance, returning a fit-state record.

The fourth stage of the pipeline ``model frame -> deviance -> optimizer -> result``.
:func:`optimize_theta` minimises any function of theta over the box ``lower <= theta``
and returns an :class:`OptSummary` (after MixedModels.jl's ``OptSummary``) that the
result object keeps.

The default, ``"nloptwrap"``, is what lme4 uses since 2018: NLopt's BOBYQA with
``xtol_abs = 1e-8``, ``ftol_abs = 1e-8``, ``maxeval = 1e5`` and nloptr's default
``xtol_rel = 1e-4``.  Run from lme4's start values it stops where R stops, which is what
makes the printed variance components agree with R's to many digits.  After the run, as
lme4's ``optimizeLmer`` does, parameters sitting on their bound are probed with a one-sided
difference (``restart_edge``) and parameters within ``1e-5`` of their bound are set to it
when that does not increase the deviance (``check.boundary``).

``"cobyqa"`` (SciPy's derivative-free trust-region method, tight tolerance) is the
fallback when the ``nlopt`` package is not installed.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

OPTIMIZERS = ("nloptwrap", "cobyqa")


@dataclass
class OptSummary:
    """The state of an optimisation: where it started, where it stopped, and how.

    Attributes
    ----------
    initial : numpy.ndarray
        Start values of theta.
    final : numpy.ndarray
        Theta at the optimum.
    fmin : float
        Objective at ``final``.
    feval : int
        Number of objective evaluations (including the boundary checks).
    optimizer : str
        Name of the optimizer.
    REML : bool
        Whether the objective was the REML criterion.
    lower : numpy.ndarray
        Lower bounds of theta.
    converged : bool
        False if the optimizer reported failure or the convergence check failed.
    messages : list of str
        Optimizer return message and any convergence diagnostics.
    """

    initial: np.ndarray
    final: np.ndarray
    fmin: float
    feval: int
    optimizer: str
    REML: bool
    lower: np.ndarray
    converged: bool = True
    messages: list[str] = field(default_factory=list)


class _CountingObjective:
    def __init__(self, fn: Callable[[np.ndarray], float]):
        self.fn = fn
        self.count = 0
        self.best_x: np.ndarray | None = None
        self.best_f = np.inf

    def __call__(self, theta: np.ndarray) -> float:
        self.count += 1
        theta = np.array(theta, dtype=float)
        value = float(self.fn(theta))
        if value < self.best_f:
            self.best_x, self.best_f = theta, value
        return value


def _run_nlopt(objective: _CountingObjective, start: np.ndarray, lower: np.ndarray,
               maxeval: int) -> tuple[np.ndarray, float, bool, str]:
    import nlopt

    opt = nlopt.opt(nlopt.LN_BOBYQA, len(start))
    opt.set_lower_bounds(lower)
    opt.set_upper_bounds(np.full(len(start), np.inf))
    opt.set_min_objective(lambda x, grad: objective(x))
    opt.set_xtol_abs(1e-8)
    opt.set_ftol_abs(1e-8)
    opt.set_xtol_rel(1e-4)
    opt.set_maxeval(maxeval)
    try:
        x = opt.optimize(np.asarray(start, dtype=float))
    except nlopt.RoundoffLimited:
        return objective.best_x, objective.best_f, False, "NLOPT_ROUNDOFF_LIMITED"
    code = opt.last_optimize_result()
    names = {
        nlopt.SUCCESS: "NLOPT_SUCCESS",
        nlopt.STOPVAL_REACHED: "NLOPT_STOPVAL_REACHED",
        nlopt.FTOL_REACHED: "NLOPT_FTOL_REACHED",
        nlopt.XTOL_REACHED: "NLOPT_XTOL_REACHED",
        nlopt.MAXEVAL_REACHED: "NLOPT_MAXEVAL_REACHED",
        nlopt.MAXTIME_REACHED: "NLOPT_MAXTIME_REACHED",
    }
    ok = code > 0 and code not in (nlopt.MAXEVAL_REACHED, nlopt.MAXTIME_REACHED)
    return np.asarray(x, dtype=float), float(opt.last_optimum_value()), ok, names.get(code, str(code))


def _run_cobyqa(objective: _CountingObjective, start: np.ndarray, lower: np.ndarray,
                maxeval: int) -> tuple[np.ndarray, float, bool, str]:
    from scipy.optimize import Bounds, minimize

    res = minimize(objective, start, method="COBYQA",
                   bounds=Bounds(lower, np.full(len(start), np.inf)),
                   options={"final_tr_radius": 1e-10, "maxfev": maxeval})
    return np.asarray(res.x, dtype=float), float(res.fun), bool(res.success), str(res.message)


def _default_optimizer() -> str:
    try:
        import nlopt  # noqa: F401
    except ImportError:
        return "cobyqa"
    return "nloptwrap"


def optimize_theta(
    objective: Callable[[np.ndarray], float],
    start: np.ndarray,
    lower: np.ndarray,
    *,
    REML: bool,
    optimizer: str | None = None,
    maxeval: int = 100_000,
    restart_edge: bool = True,
    boundary_tol: float = 1e-5,
) -> OptSummary:
    """Minimise ``objective(theta)`` subject to ``theta >= lower``.

    Parameters
    ----------
    objective : callable
        Function of theta returning the profiled deviance.
    start : array_like
        Start values.
    lower : array_like
        Lower bounds (``0`` for template diagonals, ``-inf`` otherwise); there are no
        upper bounds.
    REML : bool
        Recorded in the summary.
    optimizer : {"nloptwrap", "cobyqa"}, optional
        Defaults to ``"nloptwrap"`` when ``nlopt`` is installed, else ``"cobyqa"``.
    maxeval : int
        Maximum number of objective evaluations per run.
    restart_edge : bool
        If a parameter ends on its bound and the one-sided difference
        :math:`(d(\\theta + 10^{-5} e_i) - d(\\theta)) / 10^{-5}` is negative, restart
        from the optimum (lme4's ``restart_edge``).
    boundary_tol : float
        Parameters with :math:`0 < \\theta_i - \\ell_i <` ``boundary_tol`` are moved to the
        bound when that does not increase the objective (lme4's ``check.boundary``).

    Returns
    -------
    OptSummary
    """
    optimizer = _default_optimizer() if optimizer is None else optimizer
    if optimizer not in OPTIMIZERS:
        raise ValueError(f"unknown optimizer {optimizer!r}; choose one of {OPTIMIZERS}")
    run = _run_nlopt if optimizer == "nloptwrap" else _run_cobyqa
    start = np.asarray(start, dtype=float)
    lower = np.asarray(lower, dtype=float)
    counted = _CountingObjective(objective)
    x, fval, ok, message = run(counted, start, lower, maxeval)
    messages = [message]

    if restart_edge:
        on_bound = np.flatnonzero(x == lower)
        if on_bound.size:
            f0 = counted(x)
            slopes = []
            for i in on_bound:
                shifted = x.copy()
                shifted[i] += 1e-5
                slopes.append((counted(shifted) - f0) / 1e-5)
            if min(slopes) < 0:
                messages.append("some theta parameters on the boundary, restarting")
                x, fval, ok, message = run(counted, x, lower, maxeval)
                messages.append(message)

    if boundary_tol > 0:
        gap = x - lower
        for i in np.flatnonzero((gap > 0) & (gap < boundary_tol)):
            trial = x.copy()
            trial[i] = lower[i]
            f_trial = counted(trial)
            if f_trial <= fval:
                x, fval = trial, f_trial

    fval = counted(x)
    return OptSummary(
        initial=start.copy(),
        final=x,
        fmin=fval,
        feval=counted.count,
        optimizer=optimizer,
        REML=REML,
        lower=lower.copy(),
        converged=ok,
        messages=messages,
    )


def _central_differences(objective: Callable[[np.ndarray], float], x: np.ndarray, f0: float,
                         free: np.ndarray, delta: float) -> tuple[np.ndarray, np.ndarray]:
    """Gradient and Hessian over the ``free`` coordinates by central differences (lme4's
    ``deriv12``)."""
    k = free.size
    grad = np.empty(k)
    hess = np.empty((k, k))
    for a, i in enumerate(free):
        e_i = np.zeros_like(x)
        e_i[i] = delta
        f_plus, f_minus = objective(x + e_i), objective(x - e_i)
        grad[a] = (f_plus - f_minus) / (2 * delta)
        hess[a, a] = (f_plus - 2 * f0 + f_minus) / delta**2
        for c in range(a):
            e_j = np.zeros_like(x)
            e_j[free[c]] = delta
            hess[a, c] = hess[c, a] = (
                objective(x + e_i + e_j) - objective(x + e_i - e_j)
                - objective(x - e_i + e_j) + objective(x - e_i - e_j)
            ) / (4 * delta**2)
    return grad, hess


def gradient_check(objective: Callable[[np.ndarray], float], summary: OptSummary,
                   tol: float = 2e-3, delta: float = 1e-4,
                   derivatives: tuple[np.ndarray, np.ndarray] | None = None) -> str | None:
    """lme4's ``check.conv.grad``: the scaled gradient at the optimum must be small.

    The gradient :math:`g` and Hessian :math:`H` of the objective over the parameters not
    on their bound come from ``derivatives`` (exact ones at ``summary.final``, over all
    parameters) when given, else from central differences with step ``delta`` as lme4
    takes them; the check uses :math:`\\max_i |(R^{-1} g)_i|` with :math:`R^\\top R = H` when :math:`H` is
    positive definite and :math:`\\max_i |g_i|` otherwise.

    Returns
    -------
    str or None
        A message if the check fails, else None.
    """
    x = summary.final
    free = np.flatnonzero(x != summary.lower)
    if free.size == 0:
        return None
    if derivatives is None:
        grad, hess = _central_differences(objective, x, summary.fmin, free, delta)
    else:
        grad, hess = derivatives[0][free], derivatives[1][np.ix_(free, free)]
    try:
        upper = np.linalg.cholesky(hess).T
        size = float(np.max(np.abs(np.linalg.solve(upper, grad))))
    except np.linalg.LinAlgError:
        size = float(np.max(np.abs(grad)))
    if size > tol:
        return f"Model failed to converge with max|grad| = {size:.6g} (tol = {tol:g})"
    return None
