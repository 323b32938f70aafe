"""lme4's optimization of a GLMM: the deviance as a function of the parameters and the two stages.

1. stage 1 (lme4's ``nAGQ = 0``): minimise the Laplace deviance over :math:`\\theta` alone, with
   :math:`\\beta` and :math:`u` from PIRLS (:func:`mlmtools.glmm.pirls.penalized_irls`), by BOBYQA;
2. stage 2: minimise the Laplace deviance (``nAGQ = 1``) or the adaptive Gauss-Hermite deviance
   (``nAGQ > 1``, :mod:`mlmtools.glmm.agq`) over :math:`(\\theta, \\beta)`, PIRLS giving
   :math:`\\tilde u` at each point, with lme4's own bounded Nelder-Mead
   (:func:`mlmtools.glmm.simplex.nelder_mead`, replayed step for step: lme4 reports the best
   point that search evaluated, a little short of the exact optimum);
3. the finite-difference gradient and Hessian :math:`H` of that deviance over
   :math:`(\\theta, \\beta)` at the optimum (central differences, step :math:`10^{-4}`, lme4's
   ``deriv12``): the gradient check, and the standard errors :math:`V = 2H^{-1}`.

Every evaluation starts PIRLS from the same stored linear predictor and stops at lme4's
``tolPwrss``, as lme4 does; the finite-difference Hessian is sensitive to these details
(standard errors move by up to 0.5 % with an exactly converged PIRLS), so they are kept.
Stage 1 uses NLopt's BOBYQA (SciPy's COBYQA without ``nlopt``) to a tight tolerance; its
optimum agrees with lme4's ``minqa::bobyqa`` to about 1e-8.

:func:`refit_from` is lme4's ``refit()`` of a fitted GLMM whose family changed (what
``glmer.nb`` does at every new negative binomial :math:`\\theta`): stage 2 again, from the old
estimates, with ``Nelder_Mead``'s default steps.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from mlmtools.glmm.agq import agq_deviance
from mlmtools.glmm.pirls import (
    GlmmData,
    PirlsError,
    PirlsResult,
    PirlsStart,
    penalized_irls,
    pirls_start,
    unscaled_fixed_vcov,
)
from mlmtools.glmm.simplex import nelder_mead
from mlmtools.inference.numderiv import central_derivatives
from mlmtools.lmm.optimizer import OptSummary, bobyqa, check_boundary, check_gradient
from mlmtools.lmm.problem import LmmProblem

HESSIAN_DELTA = 1e-4  # lme4's deriv12
GRADIENT_TOL = 2e-3  # glmerControl(check.conv.grad = .makeCC(tol = 2e-3))
BOUNDARY_TOL = 1e-5  # glmerControl(boundary.tol = 1e-5)
DEFAULT_SIMPLEX_STEP = 0.02  # lme4::Nelder_Mead's xst without glmer's adjustment


class GlmmDeviance:
    """The deviance of a GLMM as a function of the optimizer's parameters.

    As in lme4, every evaluation runs PIRLS from the same stored linear predictor (lme4's
    ``lp0``): first the one reached at lme4's initial theta from the family's starting means,
    then, for stage 2, the one at the end of stage 1. This makes the objective a deterministic
    function of the parameters, identical to lme4's.
    """

    def __init__(self, data: GlmmData, n_theta: int, nAGQ: int, start: np.ndarray):
        self.data = data
        self.n_theta = n_theta
        self.nAGQ = nAGQ
        self.start = start
        self.first: PirlsStart = pirls_start(data, start)

    def restart_from(self, linear_predictor: np.ndarray) -> None:
        """Store a new linear predictor to start every later evaluation from."""
        self.start = linear_predictor
        self.first = pirls_start(self.data, linear_predictor)

    def mode(self, theta: np.ndarray, beta: np.ndarray, update_beta: bool) -> PirlsResult:
        """PIRLS at (theta, beta) from the stored start."""
        return penalized_irls(self.data, theta, beta, self.first, update_beta=update_beta)

    def stage1(self, theta: np.ndarray) -> float:
        """Laplace deviance at theta with beta and u from PIRLS (lme4's ``nAGQ = 0``)."""
        try:
            return self.mode(theta, np.zeros(self.data.p), update_beta=True).laplace
        except (PirlsError, np.linalg.LinAlgError):
            return float("inf")

    def stage2(self, params: np.ndarray) -> float:
        """Laplace (``nAGQ = 1``) or adaptive quadrature deviance at (theta, beta)."""
        theta, beta = params[:self.n_theta], params[self.n_theta:]
        try:
            result = self.mode(theta, beta, update_beta=False)
        except (PirlsError, np.linalg.LinAlgError):
            return float("inf")
        if self.nAGQ > 1:
            return agq_deviance(self.data, theta, beta, result, self.nAGQ)
        return result.laplace


@dataclass(frozen=True)
class StageOutcome:
    """Where the stages ended.

    Attributes
    ----------
    optinfo : ~mlmtools.lmm.optimizer.OptSummary
    beta : numpy.ndarray
    mode : ~mlmtools.glmm.pirls.PirlsResult
        PIRLS at the optimum.
    hessian : numpy.ndarray or None
        Finite-difference Hessian over :math:`(\\theta, \\beta)` (None for ``nAGQ = 0``).
    deviance : GlmmDeviance
        The objective, with the linear predictor the last stage started from.
    """

    optinfo: OptSummary
    beta: np.ndarray
    mode: PirlsResult
    hessian: np.ndarray | None
    deviance: GlmmDeviance


def start_theta(problem: LmmProblem) -> np.ndarray:
    """lme4's initial theta: 1 on the templates' diagonals, 0 elsewhere."""
    theta0 = np.zeros(problem.n_theta)
    for t in problem.terms:
        theta0[t.diagonal_positions()] = 1.0
    return theta0


def initial_linear_predictor(data: GlmmData, theta: np.ndarray) -> np.ndarray:
    """lme4's first ``lp0``: PIRLS over (u, beta) at the initial theta, started from the
    linked starting means :math:`g(\\mu_{start})` of the family."""
    family = data.family
    linked = family.linkfun(family.mustart(data.y, data.weights))
    result = penalized_irls(data, theta, np.zeros(data.p), linked, update_beta=True)
    return result.linear_predictor


def run_stages(data: GlmmData, problem: LmmProblem, nAGQ: int) -> StageOutcome:
    """Stage 1, then (``nAGQ >= 1``) stage 2 with its derivatives and checks (module docstring)."""
    n_theta = problem.n_theta
    theta0 = start_theta(problem)
    deviance = GlmmDeviance(data, n_theta, nAGQ, initial_linear_predictor(data, theta0))
    stage1_run = bobyqa(deviance.stage1, theta0, problem.lower, maxeval=20_000,
                        step=np.full(n_theta, 0.2), xtol_abs=None, ftol_abs=1e-10, xtol_rel=1e-8,
                        final_tr_radius=1e-9)
    theta1, f1 = stage1_run.x, stage1_run.fval
    messages = [f"stage 1 (bobyqa): {stage1_run.message}"]
    if nAGQ == 0:
        theta1, f1 = check_boundary(deviance.stage1, theta1, f1, problem.lower, BOUNDARY_TOL)
        mode = deviance.mode(theta1, np.zeros(data.p), update_beta=True)
        optinfo = OptSummary(initial=theta0, final=np.asarray(theta1, dtype=float), fmin=float(mode.laplace),
                             feval=stage1_run.evals, optimizer="bobyqa", REML=False, lower=problem.lower.copy(),
                             converged=bool(stage1_run.ok), messages=messages, code=stage1_run.code)
        return StageOutcome(optinfo, np.asarray(mode.beta, dtype=float), mode, None, deviance)
    stage1 = deviance.mode(theta1, np.zeros(data.p), update_beta=True)
    deviance.restart_from(stage1.linear_predictor)
    se = np.sqrt(np.diag(unscaled_fixed_vcov(data, theta1, stage1.working_weights)))
    step = 0.2 * np.concatenate([np.full(n_theta, 0.1), np.minimum(se, 10.0)])
    return _stage2(deviance, problem, np.concatenate([theta1, stage1.beta]), step, theta0, messages,
                   stage1_run.evals, stage1_run.ok)


def _stage2(deviance: GlmmDeviance, problem: LmmProblem, start: np.ndarray, step: np.ndarray,
            theta0: np.ndarray, messages: list[str], evals: int, ok: bool) -> StageOutcome:
    """Nelder-Mead over (theta, beta) from ``start``, derivatives at its optimum, the gradient
    and boundary checks, and PIRLS at the final point."""
    data, n_theta = deviance.data, problem.n_theta
    lower = np.concatenate([problem.lower, np.full(data.p, -np.inf)])
    run = nelder_mead(deviance.stage2, start, lower, step, xtol_abs=step * 5e-4)
    params, fmin = run.x, run.fval
    messages = messages + [f"stage 2 (Nelder_Mead): {run.message}"]
    ok = ok and run.ok
    # lme4 takes the derivatives at the Nelder-Mead optimum, then checks the boundary
    grad, hessian = central_derivatives(deviance.stage2, params, fmin, HESSIAN_DELTA)
    gradient_problem = check_gradient(deviance.stage2, params, fmin, lower, GRADIENT_TOL,
                                      derivatives=(grad, hessian))
    if gradient_problem is not None:
        messages.append(gradient_problem)
        ok = False
    params, fmin = check_boundary(deviance.stage2, params, fmin, lower, BOUNDARY_TOL)
    theta, beta = params[:n_theta], params[n_theta:]
    mode = deviance.mode(theta, beta, update_beta=False)
    optinfo = OptSummary(initial=theta0, final=np.asarray(theta, dtype=float), fmin=float(fmin),
                         feval=evals + run.evals, optimizer="Nelder_Mead", REML=False,
                         lower=problem.lower.copy(), converged=bool(ok), messages=messages, code=run.code)
    return StageOutcome(optinfo, np.asarray(beta, dtype=float), mode, hessian, deviance)


def refit_from(data: GlmmData, problem: LmmProblem, previous: StageOutcome) -> StageOutcome:
    """lme4's ``refit()`` of a Laplace fit for the response and family in ``data``.

    The stored start is, as in lme4, PIRLS over u at the previous theta with the fixed effects
    of lme4's predictor module, which are zero after a fit (stage 2 carries :math:`X\\beta` in the
    offset), from the family's starting means. Nelder-Mead then starts at the previous
    :math:`(\\theta, \\beta)` with lme4's default initial steps (0.02 on every coordinate).
    """
    theta, beta = previous.optinfo.final, previous.beta
    family = data.family
    linked = family.linkfun(family.mustart(data.y, data.weights))
    start = penalized_irls(data, theta, np.zeros(data.p), linked, update_beta=False)
    deviance = GlmmDeviance(data, problem.n_theta, 1, start.linear_predictor)
    step = np.full(problem.n_theta + data.p, DEFAULT_SIMPLEX_STEP)
    return _stage2(deviance, problem, np.concatenate([theta, beta]), step, theta, [], 0, True)
