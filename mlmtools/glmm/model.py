"""Generalized linear mixed models you can fit and refit: :class:`GeneralizedLinearMixedModel`, :func:`glmer`.

The model is :math:`g(E[y \\mid b]) = X\\beta + Zb + o` with :math:`b = \\Lambda_\\theta u`,
:math:`u \\sim N(0, I)` (binomial with the logit link or Poisson with the log link; the
parameterization is that of :mod:`mlmtools.lmm.problem`, without :math:`\\sigma`).
:meth:`GeneralizedLinearMixedModel.fit` (and :func:`glmer`) fit it as lme4's ``glmer()`` does:

1. stage 1 (lme4's ``nAGQ = 0``): minimise the Laplace deviance over :math:`\\theta` alone,
   with :math:`\\beta` and :math:`u` from PIRLS (:func:`mlmtools.glmm.pirls.penalized_irls`);
2. stage 2: minimise the Laplace deviance (``nAGQ = 1``) or the adaptive Gauss-Hermite
   deviance (``nAGQ > 1``, :mod:`mlmtools.glmm.agq`) over :math:`(\\theta, \\beta)`, PIRLS
   giving :math:`\\tilde u` at each point, with lme4's own bounded Nelder-Mead
   (:func:`mlmtools.glmm.simplex.nelder_mead`, replayed step for step: lme4 reports the best
   point that search evaluated, a little short of the exact optimum);
3. standard errors of :math:`\\hat\\beta` from the finite-difference Hessian :math:`H` of that
   deviance over :math:`(\\theta, \\beta)` (central differences, step :math:`10^{-4}`):
   :math:`V = 2H^{-1}` restricted to the :math:`\\beta` block (lme4's ``vcov.merMod``).

Every evaluation starts PIRLS from the same stored linear predictor and stops at lme4's
``tolPwrss``, as lme4 does; the finite-difference Hessian is sensitive to these details
(standard errors move by up to 0.5 % with an exactly converged PIRLS), so they are kept.
Stage 1 uses NLopt's BOBYQA (SciPy's COBYQA without ``nlopt``) to a tight tolerance; its
optimum agrees with lme4's ``minqa::bobyqa`` to about 1e-8.

Building a :class:`GeneralizedLinearMixedModel` evaluates the formula and the random-effects
design once; :meth:`~GeneralizedLinearMixedModel.refit` fits a new response with them.
"""


from __future__ import annotations

import dataclasses
import warnings
from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

from mlmtools._stacklevel import user_stacklevel
from mlmtools.exceptions import ConvergenceWarning, SingularFitWarning
from mlmtools.frame import ModelFrame, build_model
from mlmtools.glmm.agq import MAX_NODES, agq_deviance
from mlmtools.glmm.families import Family, get_family
from mlmtools.glmm.pirls import GlmmData, PirlsError, PirlsResult, penalized_irls, unscaled_fixed_vcov
from mlmtools.glmm.result import GlmerResult, GlmmFitState, fixed_effects_vcov
from mlmtools.glmm.simplex import nelder_mead
from mlmtools.inference.numderiv import central_derivatives
from mlmtools.lmm.optimizer import OptSummary, bobyqa, check_boundary, check_gradient
from mlmtools.lmm.problem import LmmProblem, make_problem
from mlmtools.lmm.pls import lambda_times

HESSIAN_DELTA = 1e-4  # lme4's deriv12
GRADIENT_TOL = 2e-3  # glmerControl(check.conv.grad = .makeCC(tol = 2e-3))
BOUNDARY_TOL = 1e-5  # glmerControl(boundary.tol = 1e-5)


class _Deviance:
    """The deviance of a GLMM as a function of the optimizer's parameters.

    As in lme4, every evaluation runs PIRLS from the same stored linear predictor ``start``
    (lme4's ``lp0``): first the one reached at lme4's initial theta from the family's starting
    means, then, for stage 2, the one at the end of stage 1.  This makes the objective a
    deterministic function of the parameters, identical to lme4's.
    """

    def __init__(self, data: GlmmData, n_theta: int, nAGQ: int, start: np.ndarray):
        self.data = data
        self.n_theta = n_theta
        self.nAGQ = nAGQ
        self.start = start

    def mode(self, theta: np.ndarray, beta: np.ndarray, update_beta: bool) -> PirlsResult:
        """PIRLS at (theta, beta) from the stored start."""
        return penalized_irls(self.data, theta, beta, self.start, update_beta=update_beta)

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


def _rows_of(values: Any, data: pd.DataFrame, frame: ModelFrame) -> np.ndarray:
    """A weights argument (column name or per-row values) restricted to the rows kept."""
    if isinstance(values, str):
        return data.loc[frame.row_index, values].to_numpy(dtype=float)
    keep = data.index.isin(frame.row_index)
    return np.asarray(values, dtype=float).reshape(-1)[keep]


def _binomial_trials(frame: ModelFrame, data: pd.DataFrame, weights: Any) -> np.ndarray | None:
    """Trials of a ``cbind(successes, failures)`` response (frame weights divided by the prior
    weights), None for other responses."""
    if frame.response_kind != "cbind":
        return None
    if weights is None:
        return frame.weights.copy()
    prior = _rows_of(weights, data, frame)
    return np.divide(frame.weights, prior, out=np.zeros_like(frame.weights), where=prior > 0)


def _check_nagq(nAGQ: Any, problem: LmmProblem) -> int:
    if isinstance(nAGQ, bool) or not isinstance(nAGQ, (int, np.integer)) or not 0 <= nAGQ <= MAX_NODES:
        raise ValueError(f"nAGQ must be an integer between 0 and {MAX_NODES}, got {nAGQ!r}")
    if nAGQ > 1 and (len(problem.terms) != 1 or problem.terms[0].k != 1):
        raise ValueError("nAGQ > 1 is only available for models with a single, scalar "
                         "random-effects term, e.g. (1 | g); use nAGQ=1 (Laplace)")
    return int(nAGQ)


def _initial_linear_predictor(data: GlmmData, theta: np.ndarray) -> np.ndarray:
    """lme4's first ``lp0``: PIRLS over (u, beta) at the initial theta, started from the
    linked starting means :math:`g(\\mu_{start})` of the family."""
    family = data.family
    linked = family.linkfun(family.mustart(data.y, data.weights))
    result = penalized_irls(data, theta, np.zeros(data.p), linked, update_beta=True)
    return result.linear_predictor


class GeneralizedLinearMixedModel:
    """A generalized linear mixed model built from a formula and data, not yet fitted.

    Building it evaluates the formula on the data (:func:`mlmtools.frame.model_frame.build_model`), checks
    the response against the family and sets up the random-effects design; fitting then runs
    the two stages of the module docstring.

    Parameters
    ----------
    formula : str
        lme4 formula, e.g. ``"y ~ x + (1 | g)"`` or ``"cbind(s, f) ~ x + (1 | g)"``.
    data : pandas.DataFrame
    family : {"binomial", "poisson"} or Family
        As in :func:`glmer`.
    weights, offset : str or array_like, optional
        Prior weights and offset (a column name or one value per row).
    data_name : str
        Name shown after ``Data:`` in printed output.

    Attributes
    ----------
    data : pandas.DataFrame
    data_name : str
    weights_label, offset_label : str or None
        The ``weights`` and ``offset`` arguments when they named a column.
    family : ~mlmtools.glmm.families.Family
    frame : ~mlmtools.frame.model_frame.ModelFrame
    problem : ~mlmtools.lmm.problem.LmmProblem
        The random-effects layout and bounds (its response part is not used).
    glmm_data : ~mlmtools.glmm.pirls.GlmmData
        Response, designs, prior weights, offset and family, as PIRLS uses them.
    """

    def __init__(self, formula: str, data: pd.DataFrame, family: str | Family = "binomial",
                 weights: Any = None, offset: Any = None, *, data_name: str = "data"):
        family_object = get_family(family)
        frame = build_model(formula, data, weights=weights, offset=offset, allow_n_levels=True)
        self._assign(frame, family_object, _binomial_trials(frame, data, weights),
                     make_problem(dataclasses.replace(frame, weights=None)), data, data_name,
                     weights if isinstance(weights, str) else None, offset if isinstance(offset, str) else None)

    def _assign(self, frame: ModelFrame, family: Family, trials: np.ndarray | None, problem: LmmProblem,
                data: pd.DataFrame, data_name: str, weights_label: str | None, offset_label: str | None) -> None:
        """Check the response against the family and set every attribute."""
        counts = frame.response_kind == "cbind"
        check_weights = trials if counts else (np.ones(frame.n) if frame.weights is None else frame.weights)
        family.validate(np.asarray(frame.y, dtype=float), check_weights, frame.response_name, counts)
        n = frame.n
        self.data = data
        self.data_name = data_name
        self.weights_label = weights_label
        self.offset_label = offset_label
        self.family = family
        self.frame = frame
        self.problem = problem
        self.glmm_data = GlmmData(
            y=np.asarray(frame.y, dtype=float), X=np.asarray(frame.X, dtype=float), Z=problem.Z,
            terms=problem.terms,
            weights=np.ones(n) if frame.weights is None else np.asarray(frame.weights, dtype=float),
            offset=np.zeros(n) if frame.offset is None else np.asarray(frame.offset, dtype=float),
            family=family, trials=trials,
        )

    def with_response(self, y: Sequence[float] | np.ndarray) -> GeneralizedLinearMixedModel:
        """The same model with a new response (on the model frame's scale: proportions for a
        ``cbind`` response, whose trials are kept), checked against the family."""
        values = np.asarray(y, dtype=float).reshape(-1)
        if values.shape[0] != self.frame.n:
            raise ValueError(f"the new response has {values.shape[0]} values; the model has "
                             f"{self.frame.n} rows")
        model = type(self).__new__(type(self))
        model._assign(dataclasses.replace(self.frame, y=values), self.family, self.glmm_data.trials, self.problem,
                      self.data, self.data_name, self.weights_label, self.offset_label)
        return model

    def fit(self, nAGQ: int = 1) -> GlmerResult:
        """Fit the model (the two stages of the module docstring).

        Parameters
        ----------
        nAGQ : int
            0, 1 (Laplace, default) or the number of quadrature nodes (at most 100).

        Returns
        -------
        ~mlmtools.glmm.result.GlmerResult
        """
        problem, data = self.problem, self.glmm_data
        nAGQ = _check_nagq(nAGQ, problem)
        n_theta = problem.n_theta
        theta0 = np.zeros(n_theta)
        for t in problem.terms:
            theta0[t.diagonal_positions()] = 1.0
        deviance = _Deviance(data, n_theta, nAGQ, _initial_linear_predictor(data, theta0))

        stage1_run = bobyqa(deviance.stage1, theta0, problem.lower, maxeval=20_000,
                            step=np.full(n_theta, 0.2), xtol_abs=None, ftol_abs=1e-10, xtol_rel=1e-8,
                            final_tr_radius=1e-9)
        theta1, f1, ok, code, evals = stage1_run.x, stage1_run.fval, stage1_run.ok, stage1_run.code, stage1_run.evals
        messages = [f"stage 1 (bobyqa): {stage1_run.message}"]
        hessian = None
        if nAGQ == 0:
            theta1, f1 = check_boundary(deviance.stage1, theta1, f1, problem.lower, BOUNDARY_TOL)
            mode = deviance.mode(theta1, np.zeros(data.p), update_beta=True)
            theta, beta, fmin = theta1, mode.beta, mode.laplace
        else:
            stage1 = deviance.mode(theta1, np.zeros(data.p), update_beta=True)
            deviance.start = stage1.linear_predictor
            lower = np.concatenate([problem.lower, np.full(data.p, -np.inf)])
            se = np.sqrt(np.diag(unscaled_fixed_vcov(data, theta1, stage1.working_weights)))
            step = 0.2 * np.concatenate([np.full(n_theta, 0.1), np.minimum(se, 10.0)])
            stage2_run = nelder_mead(deviance.stage2, np.concatenate([theta1, stage1.beta]), lower, step,
                                     xtol_abs=step * 5e-4)
            params, fmin = stage2_run.x, stage2_run.fval
            evals += stage2_run.evals
            ok = ok and stage2_run.ok
            code = stage2_run.code
            messages.append(f"stage 2 (Nelder_Mead): {stage2_run.message}")
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
                             feval=evals, optimizer="bobyqa" if nAGQ == 0 else "Nelder_Mead", REML=False,
                             lower=problem.lower.copy(), converged=bool(ok), messages=messages, code=code)
        state = GlmmFitState(
            frame=self.frame, problem=problem, optinfo=optinfo, beta=np.asarray(beta, dtype=float),
            b=lambda_times(problem, optinfo.final, mode.u),
            vcov=fixed_effects_vcov(data, optinfo.final, mode, hessian, n_theta),
            data=data, mode=mode, objective=float(fmin), nAGQ=int(nAGQ), hessian=hessian)
        if not ok:
            warnings.warn("the optimizer did not converge: " + "; ".join(messages), ConvergenceWarning,
                          stacklevel=user_stacklevel())
        fit = GlmerResult(self, state)
        if fit.is_singular:
            warnings.warn("boundary (singular) fit: see help('isSingular')", SingularFitWarning,
                          stacklevel=user_stacklevel())
        return fit

    def refit(self, y: Sequence[float] | np.ndarray, nAGQ: int = 1) -> GlmerResult:
        """Fit the model to a new response: :meth:`fit` of :meth:`with_response`."""
        return self.with_response(y).fit(nAGQ)

    def __repr__(self) -> str:
        return (f"<GeneralizedLinearMixedModel {self.frame.formula!r}: {self.family.name}, "
                f"{self.frame.n} observations>")


def glmer(formula: str, data: pd.DataFrame, family: str | Family = "binomial", nAGQ: int = 1,
          weights: Any = None, offset: Any = None, *, data_name: str = "data") -> GlmerResult:
    """Fit a generalized linear mixed model with lme4's formula syntax (lme4's ``glmer``).

    The model is :math:`g(E[y\\mid b]) = X\\beta + Zb + o`, :math:`b = \\Lambda_\\theta u`,
    :math:`u \\sim N(0, I)`. Parameters maximise the Laplace approximation of the likelihood

    .. math:: -2\\ell(\\theta, \\beta) \\approx -2\\sum_i\\log p(y_i\\mid\\tilde\\mu_i)
        + \\lVert\\tilde u\\rVert^2 + \\log|L|^2

    (``nAGQ=1``), or its adaptive Gauss-Hermite refinement with ``nAGQ`` nodes per level
    (``nAGQ > 1``, one scalar random-effects term only); ``nAGQ=0`` stops after lme4's first
    stage (beta from PIRLS). See :mod:`mlmtools.glmm.pirls` and :mod:`mlmtools.glmm.agq`. The same as
    ``GeneralizedLinearMixedModel(formula, data, family, weights, offset).fit(nAGQ)``.

    Parameters
    ----------
    formula : str
        lme4 formula, e.g. ``"y ~ x + (1 | g)"`` or ``"cbind(s, f) ~ x + (1 | g)"``.
    data : pandas.DataFrame
    family : {"binomial", "poisson"}
        Binomial with the logit link (0/1 responses, ``cbind(successes, failures)``, or
        proportions with ``weights`` = trials) or Poisson with the log link.
    nAGQ : int
        0, 1 (Laplace, default) or the number of quadrature nodes (at most 100).
    weights, offset : str or array_like, optional
        Prior weights and offset (a column name or one value per row).
    data_name : str
        Name shown after ``Data:`` in printed output.

    Returns
    -------
    ~mlmtools.glmm.result.GlmerResult

    Raises
    ------
    ValueError
        Unknown family; a binomial response outside [0, 1] or with non-integer successes;
        negative or non-integer Poisson counts; ``nAGQ > 1`` with more than one random-effects
        term or a vector-valued term.

    Warns
    -----
    ConvergenceWarning
        If an optimizer stage fails or lme4's gradient check does.
    SingularFitWarning
        If a template diagonal is below 1e-4 (``isSingular``).

    Examples
    --------
    A binary outcome made from the sleep study: was the reaction time above 300 ms?

    >>> from mlmtools.datasets import sleepstudy
    >>> from mlmtools.rstyle import print_named_vector
    >>> data = sleepstudy()
    >>> data["slow"] = (data["Reaction"] > 300).astype(int)
    >>> fit = glmer("slow ~ Days + (1 | Subject)", data, family="binomial")
    >>> print(print_named_vector(fit.fixef, digits=4))
    (Intercept)        Days
        -3.1955      0.5852
    """
    return GeneralizedLinearMixedModel(formula, data, family, weights, offset, data_name=data_name).fit(nAGQ)
