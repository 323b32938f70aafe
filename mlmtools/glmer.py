"""Generalized linear mixed models with lme4's syntax and numbers: :func:`glmer` and its result.

The model is :math:`g(E[y \\mid b]) = X\\beta + Zb + o` with :math:`b = \\Lambda_\\theta u`,
:math:`u \\sim N(0, I)` (binomial with the logit link or Poisson with the log link; the
parameterization is that of :mod:`mlmtools.deviance`, without :math:`\\sigma`).
:func:`glmer` fits it as lme4's ``glmer()`` does:

1. stage 1 (lme4's ``nAGQ = 0``): minimise the Laplace deviance over :math:`\\theta` alone,
   with :math:`\\beta` and :math:`u` from PIRLS (:func:`mlmtools.pirls.pirls`);
2. stage 2: minimise the Laplace deviance (``nAGQ = 1``) or the adaptive Gauss-Hermite
   deviance (``nAGQ > 1``, :mod:`mlmtools.agq`) over :math:`(\\theta, \\beta)`, PIRLS
   giving :math:`\\tilde u` at each point, with lme4's own bounded Nelder-Mead
   (:func:`mlmtools.optimizer.nelder_mead`, replayed step for step: lme4 reports the best point that search
   evaluated, a little short of the exact optimum);
3. standard errors of :math:`\\hat\\beta` from the finite-difference Hessian :math:`H` of that
   deviance over :math:`(\\theta, \\beta)` (central differences, step :math:`10^{-4}`):
   :math:`V = 2H^{-1}` restricted to the :math:`\\beta` block (lme4's ``vcov.merMod``).

Every evaluation starts PIRLS from the same stored linear predictor and stops at lme4's
``tolPwrss``, as lme4 does; the finite-difference Hessian is sensitive to these details
(standard errors move by up to 0.5 % with an exactly converged PIRLS), so they are kept.
Stage 1 uses NLopt's BOBYQA (SciPy's COBYQA without ``nlopt``) to a tight tolerance; its
optimum agrees with lme4's ``minqa::bobyqa`` to about 1e-8.
"""

from __future__ import annotations

import dataclasses
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats

from mlmtools import rformat
from mlmtools.agq import MAX_NODES, agq_deviance
from mlmtools.deviance import LmmProblem, lambda_times, make_problem
from mlmtools.exceptions import ConvergenceWarning, SingularFitWarning
from mlmtools.families import Family, get_family
from mlmtools.lmer import MixedModelResult
from mlmtools.merformat import (
    CORRELATION_MAX,
    DIGITS,
    TextReport,
    format_call,
    format_coefficients,
    format_convergence,
    format_correlation,
    format_criterion,
    format_groups,
    format_random_effects,
    format_title,
)
from mlmtools.modelframe import ModelFrame
from mlmtools.numderiv import central_derivatives
from mlmtools.optimizer import OptSummary, bobyqa, check_boundary, check_gradient, nelder_mead
from mlmtools.pirls import (
    GlmmData,
    PirlsError,
    PirlsResult,
    conditional_variances,
    pirls,
    unscaled_fixed_vcov,
)

HESSIAN_DELTA = 1e-4  # lme4's deriv12
GRADIENT_TOL = 2e-3  # glmerControl(check.conv.grad = .makeCC(tol = 2e-3))
BOUNDARY_TOL = 1e-5  # glmerControl(boundary.tol = 1e-5)
CLASS_NAME = "glmerMod"
RESIDUAL_TYPES = ("deviance", "pearson", "response", "working")
GLMM_DDF = ("none", "wald")


# ---------------------------------------------------------------------------------------------
# The objective functions of the two stages
# ---------------------------------------------------------------------------------------------


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
        return pirls(self.data, theta, beta, self.start, update_beta=update_beta)

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


# ---------------------------------------------------------------------------------------------
# The result
# ---------------------------------------------------------------------------------------------


class GlmerResult(MixedModelResult):
    """A fitted generalized linear mixed model (the counterpart of lme4's ``glmerMod``).

    Create with :func:`glmer`. Shares the names of :class:`~mlmtools.lmer.LmerResult`
    (``fixef``, ``vcov()``, ``varcorr()``, ``ranef()``, ``loglik``, ``aic``, ``bic``,
    ``predict()``, ``summary()``); there is no residual variance.
    """

    def __init__(self, frame: ModelFrame, problem: LmmProblem, data: GlmmData, optinfo: OptSummary,
                 beta: np.ndarray, mode: PirlsResult, objective_value: float, nAGQ: int,
                 hessian: np.ndarray | None, data_name: str = "data"):
        super().__init__(frame, problem, optinfo, beta, lambda_times(problem, optinfo.final, mode.u),
                         data_name)
        self._data = data
        self._mode = mode
        self._objective = float(objective_value)
        self.nAGQ = int(nAGQ)
        self.hessian = hessian
        self.weights_label: str | None = None
        self.offset_label: str | None = None
        self._vcov = self._compute_vcov()

    # -- model facts -------------------------------------------------------------------
    @property
    def family(self) -> Family:
        """The response distribution and link."""
        return self._data.family

    @property
    def sigma(self) -> float:
        """Always 1, as lme4's ``sigma()``: binomial and Poisson models have no scale parameter."""
        return 1.0

    @property
    def npar(self) -> int:
        """:math:`p + \\mathrm{length}(\\theta)`."""
        return self._problem.p + self._problem.n_theta

    @property
    def df_resid(self) -> int:
        """``nobs - npar``."""
        return self.nobs - self.npar

    @property
    def loglik(self) -> float:
        """:math:`-d/2`, with :math:`d` the Laplace or quadrature deviance at the optimum."""
        return -0.5 * self._objective

    @property
    def deviance(self) -> float:
        """The conditional deviance :math:`\\sum_i d_i(y_i, \\hat\\mu_i)` at the conditional modes,
        as lme4's ``deviance()`` of a GLMM (not :math:`-2\\ell`; see :attr:`loglik`)."""
        return float(np.sum(self._mode.dev_resids))

    @property
    def method(self) -> str:
        """``"Laplace Approximation"`` or ``"Adaptive Gauss-Hermite Quadrature, nAGQ = k"``."""
        if self.nAGQ > 1:
            return f"Adaptive Gauss-Hermite Quadrature, nAGQ = {self.nAGQ}"
        return "Laplace Approximation"

    # -- fixed effects -----------------------------------------------------------------
    def _compute_vcov(self) -> np.ndarray:
        n_theta = self._problem.n_theta
        if self.hessian is not None:
            try:
                inverse = np.linalg.inv(self.hessian)
                block = inverse[n_theta:, n_theta:]
                block = block + block.T  # 2 H^{-1}, symmetrised
                if not np.isfinite(block).all():
                    raise np.linalg.LinAlgError("non-finite Hessian")
                np.linalg.cholesky(block)
                return block
            except np.linalg.LinAlgError:
                warnings.warn("variance-covariance matrix computed from finite-difference Hessian is "
                              "not positive definite or contains NA values: falling back to the "
                              "var-cov estimated from RX", ConvergenceWarning, stacklevel=5)
        return unscaled_fixed_vcov(self._data, self.theta, self._mode.working_weights)

    def vcov(self) -> pd.DataFrame:
        """Covariance of :math:`\\hat\\beta`: :math:`2H^{-1}` (the :math:`\\beta` block), with
        :math:`H` the finite-difference Hessian of the deviance over :math:`(\\theta, \\beta)`;
        :math:`(R_X^\\top R_X)^{-1}` from the final PIRLS weights when no Hessian is available."""
        names = list(self._frame.fixed_names)
        return pd.DataFrame(self._vcov.copy(), index=names, columns=names)

    def coef_table(self, ddf: str = "none") -> pd.DataFrame:
        """Fixed-effects table: Estimate, Std. Error, z value, Pr(>|z|) (Wald z tests,
        :math:`p = 2\\Phi(-|z|)`).

        ``ddf`` exists for symmetry with lmer; GLMMs use z tests, so only ``"none"`` (or
        ``"wald"``) is accepted and anything else raises ValueError.
        """
        if not isinstance(ddf, str) or ddf.lower() not in GLMM_DDF:
            raise ValueError(f"ddf must be one of {GLMM_DDF}: GLMMs use z tests (no denominator "
                             f"degrees of freedom), got {ddf!r}")
        estimate = self._beta
        std_error = np.sqrt(np.diag(self._vcov))
        z = estimate / std_error
        return pd.DataFrame({"Estimate": estimate, "Std. Error": std_error, "z value": z,
                             "Pr(>|z|)": 2.0 * stats.norm.sf(np.abs(z))},
                            index=list(self._frame.fixed_names))

    # -- variance components -----------------------------------------------------------
    def varcorr(self) -> pd.DataFrame:
        """Variance components as R's ``as.data.frame(VarCorr(m))``, without a residual row.

        For each term :math:`\\Sigma_i = T_i T_i^\\top`: variances first (``sdcor`` the
        standard deviations), then covariances (``sdcor`` the correlations).
        """
        rows = []
        theta = self.theta
        for label, t in zip(self._group_labels, self._problem.terms):
            T = t.template(theta)
            cov = T @ T.T
            sd = np.sqrt(np.diag(cov))
            for a in range(t.k):
                rows.append((label, t.columns[a], None, cov[a, a], sd[a]))
            for a in range(t.k):
                for c in range(a + 1, t.k):
                    corr = cov[c, a] / (sd[a] * sd[c]) if sd[a] * sd[c] > 0 else np.nan
                    rows.append((label, t.columns[a], t.columns[c], cov[c, a], corr))
        return pd.DataFrame(rows, columns=["grp", "var1", "var2", "vcov", "sdcor"]).astype(
            {"grp": object, "var1": object, "var2": object})

    def _conditional_variances(self) -> list[np.ndarray]:
        return conditional_variances(self._data, self.theta, self._mode.working_weights)

    # -- fitted values, residuals, predictions -----------------------------------------
    def fitted(self) -> pd.Series:
        """Conditional means :math:`\\hat\\mu = g^{-1}(X\\hat\\beta + Z\\hat b + o)`."""
        return pd.Series(self._mode.mu, index=self._frame.row_index, name="fitted")

    def residuals(self, type: str = "deviance", scaled: bool = False) -> pd.Series:
        """Residuals of the conditional fit (lme4's ``residuals.glmResp``).

        ``"deviance"``: :math:`\\mathrm{sign}(y-\\hat\\mu)\\sqrt{d_i}`; ``"pearson"``:
        :math:`(y-\\hat\\mu)\\sqrt{w}/\\sqrt{V(\\hat\\mu)}`; ``"response"``: :math:`y-\\hat\\mu`;
        ``"working"``: :math:`(y-\\hat\\mu)/(d\\mu/d\\eta)`. ``scaled`` divides by
        :math:`\\sigma = 1` (kept for symmetry with lmer).
        """
        if type not in RESIDUAL_TYPES:
            raise ValueError(f"type must be one of {RESIDUAL_TYPES}, got {type!r}")
        y, mu, eta, family = self._data.y, self._mode.mu, self._mode.eta, self.family
        if type == "deviance":
            values = np.sign(y - mu) * np.sqrt(np.maximum(self._mode.dev_resids, 0.0))
        elif type == "pearson":
            values = (y - mu) * np.sqrt(self._data.weights / family.variance(mu))
        elif type == "response":
            values = y - mu
        else:
            values = (y - mu) / family.mu_eta(eta)
        return pd.Series(values / self.sigma if scaled else values, index=self._frame.row_index,
                         name="residuals")

    def predict(self, newdata: pd.DataFrame | None = None, re_form: str | None = None,
                allow_new_levels: bool = False, type: str = "link") -> pd.Series:
        """Predictions, as lme4's ``predict.merMod``.

        .. math:: \\hat\\eta = X_{new}\\hat\\beta + o + Z_{new}\\hat b,\\qquad
            \\hat\\mu = g^{-1}(\\hat\\eta)\\ (\\texttt{type="response"})

        Parameters
        ----------
        newdata : DataFrame, optional
            Rows to predict; the fitted rows when None.
        re_form : {None, "~0", "NA"}
            None: include the random effects; ``"~0"`` or ``"NA"``: population level.
        allow_new_levels : bool
            Unseen levels contribute 0 when True; otherwise they raise ValueError.
        type : {"link", "response"}
            Linear predictor or mean.
        """
        if type not in ("link", "response"):
            raise ValueError(f"type must be 'link' or 'response', got {type!r}")
        include_random = self._include_random(re_form)
        if newdata is None:
            eta = self._frame.X @ self._beta + self._data.offset
            if include_random:
                eta = eta + self._problem.Z @ self._b
            index = self._frame.row_index
        else:
            eta = self._new_linear_predictor(newdata, include_random, allow_new_levels)
            index = newdata.index
        values = self.family.linkinv(eta) if type == "response" else eta
        return pd.Series(values, index=index, name="predicted")

    # -- printing and tidying ----------------------------------------------------------
    def summary(self) -> GlmerSummary:
        """lme4's ``summary(glmer)`` (a :class:`GlmerSummary`; print it for R's layout)."""
        return GlmerSummary.from_fit(self)

    def __repr__(self) -> str:
        return str(self.summary())

    def _repr_html_(self) -> str:
        return self.summary()._repr_html_()


# ---------------------------------------------------------------------------------------------
# The summary
# ---------------------------------------------------------------------------------------------


@dataclass(repr=False)
class GlmerSummary(TextReport):
    """Everything ``summary(glmer_fit)`` shows, as data; ``str()`` gives lme4's layout.

    The fields are those of :class:`~mlmtools.lmer_summary.LmerSummary`, with the family
    and link in place of the REML flag, and the optimizer of the last stage (``optimizer``,
    ``code``) printed with the notes.
    """

    method: str
    family: str
    link: str
    formula: str
    data_name: str
    call_extras: list[tuple[str, str]]
    likelihood: pd.Series
    residual_quantiles: np.ndarray
    varcorr: pd.DataFrame
    term_columns: list[tuple[str, tuple[str, ...]]]
    ngroups: dict[str, int]
    nobs: int
    coefficients: pd.DataFrame
    correlation: pd.DataFrame
    messages: list[str] = field(default_factory=list)
    optimizer: str = "Nelder_Mead"
    code: int = 0

    @classmethod
    def from_fit(cls, fit: GlmerResult) -> GlmerSummary:
        """Compute the summary tables of a fit."""
        vcov = fit.vcov().to_numpy()
        sd = np.sqrt(np.diag(vcov))
        names = list(fit.fixef.index)
        messages = []
        if fit.is_singular:
            messages.append("boundary (singular) fit: see help('isSingular')")
        if not fit.converged:
            messages.extend(m for m in fit.optinfo.messages if m.startswith("Model failed"))
        extras = []
        if fit.weights_label:
            extras.append(("Weights:", fit.weights_label))
        if fit.offset_label:
            extras.append((" Offset:", fit.offset_label))
        return cls(
            method=fit.method, family=fit.family.name, link=fit.family.link, formula=fit.formula,
            data_name=fit.data_name, call_extras=extras,
            likelihood=pd.Series({"AIC": fit.aic, "BIC": fit.bic, "logLik": fit.loglik,
                                  "-2*log(L)": -2 * fit.loglik, "df.resid": fit.df_resid}),
            residual_quantiles=np.quantile(fit.residuals("pearson", scaled=True).to_numpy(),
                                           [0, 0.25, 0.5, 0.75, 1]),
            varcorr=fit.varcorr(),
            term_columns=[(label, t.columns) for label, t in zip(fit._group_labels, fit._problem.terms)],
            ngroups=fit.ngroups, nobs=fit.nobs, coefficients=fit.coef_table(),
            correlation=pd.DataFrame(vcov / np.outer(sd, sd), index=names, columns=names),
            messages=messages, optimizer=fit.optinfo.optimizer, code=fit.optinfo.code,
        )

    def format(self) -> str:
        """The printed summary, as lme4's ``print(summary(m))``."""
        blocks = [
            format_title(f"Generalized linear mixed model fit by maximum likelihood ({self.method})",
                         CLASS_NAME),
            f" Family: {self.family}  ( {self.link} )",
            format_call(self.formula, self.data_name, self.call_extras) + "\n",
            format_criterion(False, np.nan, self.likelihood) + "\n",
            "Scaled residuals: \n" + rformat.print_quantiles(self.residual_quantiles, DIGITS) + "\n",
            "Random effects:\n" + format_random_effects(self.varcorr, self.term_columns, DIGITS),
            format_groups(self.nobs, self.ngroups),
        ]
        if len(self.coefficients):
            blocks.append("\nFixed effects:\n" + format_coefficients(self.coefficients))
            if 1 < len(self.coefficients) <= CORRELATION_MAX:
                blocks.append("\nCorrelation of Fixed Effects:\n" + format_correlation(self.correlation))
        if self.messages or self.code != 0:
            blocks.append(format_convergence(self.optimizer, self.code, self.messages))
        return "\n".join(blocks)


# ---------------------------------------------------------------------------------------------
# Entry point
# ---------------------------------------------------------------------------------------------


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
    result = pirls(data, theta, np.zeros(data.p), linked, update_beta=True)
    return result.linear_predictor


def fit_glmm(frame: ModelFrame, family: Family, nAGQ: int, *, trials: np.ndarray | None = None,
             data_name: str = "data", stacklevel: int = 1) -> GlmerResult:
    """Fit a GLMM to a prepared :class:`ModelFrame` (the two stages of the module docstring)."""
    problem = make_problem(dataclasses.replace(frame, weights=None))
    nAGQ = _check_nagq(nAGQ, problem)
    n = frame.n
    data = GlmmData(
        y=np.asarray(frame.y, dtype=float), X=np.asarray(frame.X, dtype=float), Z=problem.Z,
        terms=problem.terms,
        weights=np.ones(n) if frame.weights is None else np.asarray(frame.weights, dtype=float),
        offset=np.zeros(n) if frame.offset is None else np.asarray(frame.offset, dtype=float),
        family=family, trials=trials,
    )
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
    fit = GlmerResult(frame, problem, data, optinfo, beta, mode, fmin, nAGQ, hessian, data_name)
    if not ok:
        warnings.warn("the optimizer did not converge: " + "; ".join(messages), ConvergenceWarning,
                      stacklevel=stacklevel + 1)
    if fit.is_singular:
        warnings.warn("boundary (singular) fit: see help('isSingular')", SingularFitWarning,
                      stacklevel=stacklevel + 1)
    return fit


def glmer(formula: str, data: pd.DataFrame, family: str | Family = "binomial", nAGQ: int = 1,
          weights: Any = None, offset: Any = None, *, data_name: str = "data") -> GlmerResult:
    """Fit a generalized linear mixed model with lme4's formula syntax (lme4's ``glmer``).

    The model is :math:`g(E[y\\mid b]) = X\\beta + Zb + o`, :math:`b = \\Lambda_\\theta u`,
    :math:`u \\sim N(0, I)`. Parameters maximise the Laplace approximation of the likelihood

    .. math:: -2\\ell(\\theta, \\beta) \\approx -2\\sum_i\\log p(y_i\\mid\\tilde\\mu_i)
        + \\lVert\\tilde u\\rVert^2 + \\log|L|^2

    (``nAGQ=1``), or its adaptive Gauss-Hermite refinement with ``nAGQ`` nodes per level
    (``nAGQ > 1``, one scalar random-effects term only); ``nAGQ=0`` stops after lme4's first
    stage (beta from PIRLS). See :mod:`mlmtools.pirls` and :mod:`mlmtools.agq`.

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
    GlmerResult

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
    >>> from mlmtools.rformat import print_named_vector
    >>> data = sleepstudy()
    >>> data["slow"] = (data["Reaction"] > 300).astype(int)
    >>> fit = glmer("slow ~ Days + (1 | Subject)", data, family="binomial")
    >>> print(print_named_vector(fit.fixef, digits=4))
    (Intercept)        Days
        -3.1955      0.5852
    """
    family_object = get_family(family)
    from mlmtools.modelframe import build_model

    frame = build_model(formula, data, weights=weights, offset=offset, allow_n_levels=True, stacklevel=3)
    trials = _binomial_trials(frame, data, weights)
    counts = frame.response_kind == "cbind"
    check_weights = trials if counts else (np.ones(frame.n) if frame.weights is None else frame.weights)
    family_object.validate(np.asarray(frame.y, dtype=float), check_weights, frame.response_name, counts)
    fit = fit_glmm(frame, family_object, nAGQ, trials=trials, data_name=data_name, stacklevel=2)
    fit.weights_label = weights if isinstance(weights, str) else None
    fit.offset_label = offset if isinstance(offset, str) else None
    return fit
