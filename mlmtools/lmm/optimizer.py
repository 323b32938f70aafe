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

BOBYQA can report success while lme4's gradient check (:func:`gradient_check`) fails: it stops
when its trust region is small, which on a long curved valley happens before the bottom. The fit
then restarts it from where it stopped (:func:`restart_from_optimum`, at most
:data:`mlmtools.lmm.model.MAX_RESTARTS` times, keeping a restart only when its criterion is
lower), so it reaches at least lme4's criterion; a fit that passes the check is not touched,
and its numbers stay lme4's.

``"cobyqa"`` (SciPy's derivative-free trust-region method, tight tolerance) is the
fallback when the ``nlopt`` package is not installed.

The module also holds the pieces glmer reuses (:func:`bobyqa` for its first stage, the
boundary check :func:`check_boundary` and the gradient check :func:`check_gradient`), so
both model classes share one implementation; glmer's second-stage Nelder-Mead is in
:mod:`mlmtools.glmm.simplex`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import NamedTuple

import numpy as np

from mlmtools._nlopt import nlopt_available
from mlmtools.inference.numderiv import central_derivatives

OPTIMIZERS = ("nloptwrap", "cobyqa")


@dataclass(frozen=True)
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
    code : int
        The optimizer's convergence code as lme4 prints it: 0 when the optimizer reported
        success, else its failure code (NLopt's status, or 1).
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
    code: int = 0


class RunResult(NamedTuple):
    """One optimizer run: the best point, its value, whether the optimizer reported
    success, its message, its convergence code (0 on success) and the evaluations used."""

    x: np.ndarray
    fval: float
    ok: bool
    message: str
    code: int
    evals: int


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


_NLOPT_NAMES = {1: "NLOPT_SUCCESS", 2: "NLOPT_STOPVAL_REACHED", 3: "NLOPT_FTOL_REACHED",
                4: "NLOPT_XTOL_REACHED", 5: "NLOPT_MAXEVAL_REACHED", 6: "NLOPT_MAXTIME_REACHED"}


def _run_nlopt(objective: _CountingObjective, start: np.ndarray, lower: np.ndarray, maxeval: int,
               step: np.ndarray | None, xtol_abs: float | None, ftol_abs: float,
               xtol_rel: float) -> tuple[np.ndarray, float, bool, str, int]:
    import nlopt

    opt = nlopt.opt(nlopt.LN_BOBYQA, len(start))
    opt.set_lower_bounds(lower)
    opt.set_upper_bounds(np.full(len(start), np.inf))
    opt.set_min_objective(lambda x, grad: objective(x))
    if step is not None:
        opt.set_initial_step(step)
    if xtol_abs is not None:
        opt.set_xtol_abs(xtol_abs)
    opt.set_ftol_abs(ftol_abs)
    opt.set_xtol_rel(xtol_rel)
    opt.set_maxeval(maxeval)
    try:
        x = opt.optimize(np.asarray(start, dtype=float))
    except nlopt.RoundoffLimited:
        assert objective.best_x is not None  # NLopt evaluates the start before it can stop
        return objective.best_x, objective.best_f, False, "NLOPT_ROUNDOFF_LIMITED", int(nlopt.ROUNDOFF_LIMITED)
    code = opt.last_optimize_result()
    ok = code > 0 and code not in (nlopt.MAXEVAL_REACHED, nlopt.MAXTIME_REACHED)
    return (np.asarray(x, dtype=float), float(opt.last_optimum_value()), ok,
            _NLOPT_NAMES.get(code, str(code)), 0 if ok else int(code))


def _run_cobyqa(objective: _CountingObjective, start: np.ndarray, lower: np.ndarray, maxeval: int,
                step: np.ndarray | None, final_tr_radius: float) -> tuple[np.ndarray, float, bool, str, int]:
    """SciPy's COBYQA; with ``step``, over the scaled variables :math:`(x - x_0)/\\text{step}`
    from a unit trust region (NLopt's initial step has no COBYQA counterpart)."""
    from scipy.optimize import Bounds, minimize

    n = len(start)
    if step is None:
        res = minimize(objective, start, method="COBYQA", bounds=Bounds(lower, np.full(n, np.inf)),
                       options={"final_tr_radius": final_tr_radius, "maxfev": maxeval})
        x = np.asarray(res.x, dtype=float)
    else:
        res = minimize(  # type: ignore[call-overload]  # scipy-stubs lack COBYQA's initial_tr_radius
            lambda y: objective(start + y * step), np.zeros(n), method="COBYQA",
            bounds=Bounds((lower - start) / step, np.full(n, np.inf)),
            options={"initial_tr_radius": 1.0, "final_tr_radius": final_tr_radius, "maxfev": maxeval})
        x = start + np.asarray(res.x, dtype=float) * step
    return x, float(res.fun), bool(res.success), str(res.message), 0 if res.success else 1


def _default_optimizer() -> str:
    """lme4's ``"nloptwrap"``; ``"cobyqa"`` without NLopt (:func:`mlmtools._nlopt.nlopt_available`
    warns then)."""
    return "nloptwrap" if nlopt_available() else "cobyqa"


def _check_optimizer(optimizer: str | None) -> str:
    optimizer = _default_optimizer() if optimizer is None else optimizer
    if optimizer not in OPTIMIZERS:
        raise ValueError(f"unknown optimizer {optimizer!r}; choose one of {OPTIMIZERS}")
    return optimizer


def bobyqa(objective: Callable[[np.ndarray], float], start: np.ndarray, lower: np.ndarray, *,
           optimizer: str | None = None, maxeval: int = 100_000, step: np.ndarray | None = None,
           xtol_abs: float | None = 1e-8, ftol_abs: float = 1e-8, xtol_rel: float = 1e-4,
           final_tr_radius: float = 1e-10) -> RunResult:
    """One bounded derivative-free run minimising ``objective(x)`` over ``x >= lower``.

    ``"nloptwrap"``: NLopt's BOBYQA with the given tolerances (``xtol_abs=None`` leaves
    NLopt's default) and initial ``step``; ``"cobyqa"``: SciPy's COBYQA, stopping at a trust
    region of radius ``final_tr_radius`` (in units of ``step`` when given).  The start is
    first moved inside the bounds.

    Returns
    -------
    RunResult
    """
    run_with = _check_optimizer(optimizer)
    lower = np.asarray(lower, dtype=float)
    start = np.maximum(np.asarray(start, dtype=float), lower)
    counted = objective if isinstance(objective, _CountingObjective) else _CountingObjective(objective)
    before = counted.count
    if run_with == "nloptwrap":
        x, fval, ok, message, code = _run_nlopt(counted, start, lower, maxeval, step, xtol_abs,
                                                ftol_abs, xtol_rel)
    else:
        x, fval, ok, message, code = _run_cobyqa(counted, start, lower, maxeval, step, final_tr_radius)
    return RunResult(x, fval, ok, message, code, counted.count - before)


def check_boundary(objective: Callable[[np.ndarray], float], x: np.ndarray, fx: float,
                   lower: np.ndarray, tol: float = 1e-5) -> tuple[np.ndarray, float]:
    """lme4's ``check.boundary``: put each parameter with :math:`0 < x_i - \\ell_i <` ``tol``
    on its bound when that does not increase the objective.

    The test is relative to the parameter's own bound, never to the scale of the data.

    Returns
    -------
    tuple
        The (possibly moved) point and its objective value.
    """
    gap = x - lower
    for i in np.flatnonzero((gap > 0) & (gap < tol)):
        trial = x.copy()
        trial[i] = lower[i]
        f_trial = objective(trial)
        if f_trial <= fx:
            x, fx = trial, f_trial
    return x, fx


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
        bound when that does not increase the objective (:func:`check_boundary`).

    Returns
    -------
    OptSummary
    """
    optimizer = _check_optimizer(optimizer)
    start = np.asarray(start, dtype=float)
    lower = np.asarray(lower, dtype=float)
    counted = _CountingObjective(objective)
    run = bobyqa(counted, start, lower, optimizer=optimizer, maxeval=maxeval)
    x, fval, ok, code = run.x, run.fval, run.ok, run.code
    messages = [run.message]

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
                run = bobyqa(counted, x, lower, optimizer=optimizer, maxeval=maxeval)
                x, fval, ok, code = run.x, run.fval, run.ok, run.code
                messages.append(run.message)

    if boundary_tol > 0:
        x, fval = check_boundary(counted, x, fval, lower, boundary_tol)

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
        code=code,
    )


RESTART_MESSAGE = "the gradient check failed at the optimizer's stopping point: restarted from there"


def restart_from_optimum(objective: Callable[[np.ndarray], float], summary: OptSummary,
                         maxeval: int = 100_000, boundary_tol: float = 1e-5) -> OptSummary:
    """Run the optimizer again from where ``summary`` stopped (a polishing run).

    BOBYQA stops when its trust region is small (``xtol_rel``), which on a flat, curved
    valley can happen before the gradient is small; a fresh run from that point rebuilds its
    quadratic model there and goes on.  The fit calls this only when the optimizer reported
    success but lme4's gradient check (:func:`gradient_check`) fails, and keeps the new point
    only if its criterion is lower, so fits that pass the check are never touched.  The
    boundary check (:func:`check_boundary`) follows, as after the first run.

    Returns
    -------
    OptSummary
        The new optimum with the evaluations of both runs, the messages of both runs (the
        restart announced by ``RESTART_MESSAGE``) and the restart's convergence status.
    """
    counted = _CountingObjective(objective)
    run = bobyqa(counted, summary.final, summary.lower, optimizer=summary.optimizer, maxeval=maxeval)
    x, fval = run.x, run.fval
    if boundary_tol > 0:
        x, fval = check_boundary(counted, x, fval, summary.lower, boundary_tol)
    fval = counted(x)
    return OptSummary(initial=summary.initial, final=x, fmin=fval, feval=summary.feval + counted.count,
                      optimizer=summary.optimizer, REML=summary.REML, lower=summary.lower,
                      converged=run.ok, messages=[*summary.messages, RESTART_MESSAGE, run.message],
                      code=run.code)


def scaled_gradient_message(grad: np.ndarray, hess: np.ndarray, tol: float = 2e-3) -> str | None:
    """The test of lme4's ``check.conv.grad`` on a gradient and Hessian already restricted to
    the free parameters.

    The size is :math:`\\max_i |(R^{-1} g)_i|` with :math:`R` the upper Cholesky factor,
    :math:`R^\\top R = H`, when :math:`H` is positive definite, else :math:`\\max_i |g_i|`.

    Returns
    -------
    str or None
        lme4's message (C's ``%g`` numbers, as lme4's ``sprintf``) if the size exceeds
        ``tol``, else None.
    """
    if len(grad) == 0:
        return None
    try:
        upper = np.linalg.cholesky(hess).T
        size = float(np.max(np.abs(np.linalg.solve(upper, grad))))
    except np.linalg.LinAlgError:
        size = float(np.max(np.abs(grad)))
    if size > tol:
        return f"Model failed to converge with max|grad| = {size:.6g} (tol = {tol:g})"
    return None


def check_gradient(objective: Callable[[np.ndarray], float], x: np.ndarray, fx: float,
                   lower: np.ndarray, tol: float = 2e-3, delta: float = 1e-4,
                   derivatives: tuple[np.ndarray, np.ndarray] | None = None) -> str | None:
    """lme4's ``check.conv.grad`` at ``x``: the scaled gradient over the parameters not on
    their bound must be small (:func:`scaled_gradient_message`).

    The gradient and Hessian come from ``derivatives`` (over all parameters, at ``x``) when
    given, else from central differences with step ``delta``
    (:func:`mlmtools.inference.numderiv.central_derivatives`, lme4's ``deriv12``).

    Returns
    -------
    str or None
        A message if the check fails, else None.
    """
    free = np.flatnonzero(np.asarray(x) != np.asarray(lower))
    if free.size == 0:
        return None
    if derivatives is None:
        grad, hess = central_derivatives(objective, x, fx, delta, free)
    else:
        grad, hess = derivatives[0][free], derivatives[1][np.ix_(free, free)]
    return scaled_gradient_message(grad, hess, tol)


def gradient_check(objective: Callable[[np.ndarray], float], summary: OptSummary,
                   tol: float = 2e-3, delta: float = 1e-4,
                   derivatives: tuple[np.ndarray, np.ndarray] | None = None) -> str | None:
    """:func:`check_gradient` at the optimum recorded in ``summary``.

    Returns
    -------
    str or None
        A message if the check fails, else None.
    """
    return check_gradient(objective, summary.final, summary.fmin, summary.lower, tol, delta,
                          derivatives)
