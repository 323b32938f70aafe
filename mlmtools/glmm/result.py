"""A fitted generalized linear mixed model: :class:`GlmerResult`, lme4's ``glmerMod``.

Made by :meth:`mlmtools.glmm.model.GeneralizedLinearMixedModel.fit` (and so by
:func:`~mlmtools.glmm.model.glmer`) from the model and its read-only fit state
(:class:`GlmmFitState`); the printed summary is laid out by :mod:`mlmtools.rstyle.summaries`.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats

from mlmtools._stacklevel import user_stacklevel
from mlmtools.exceptions import ConvergenceWarning
from mlmtools.glmm.families import Family
from mlmtools.glmm.pirls import GlmmData, PirlsResult, conditional_variances, unscaled_fixed_vcov
from mlmtools.lmm.mixed_result import MixedModelResult
from mlmtools.lmm.state import MixedFitState
from mlmtools.rstyle.summaries import GlmerSummary

RESIDUAL_TYPES = ("deviance", "pearson", "response", "working")
GLMM_DDF = ("none", "wald")


@dataclass(frozen=True, kw_only=True, eq=False)
class GlmmFitState(MixedFitState):
    """The state of a fitted GLMM: :class:`~mlmtools.lmm.state.MixedFitState` plus

    Attributes
    ----------
    data : ~mlmtools.glmm.pirls.GlmmData
        Response, designs, prior weights, offset and family, as PIRLS uses them.
    mode : ~mlmtools.glmm.pirls.PirlsResult
        PIRLS at the optimum: conditional modes, means, working weights, deviance residuals.
    objective : float
        The Laplace or quadrature deviance at the optimum.
    nAGQ : int
        Quadrature nodes per level (0 and 1: Laplace).
    hessian : numpy.ndarray or None
        Finite-difference Hessian of the deviance over :math:`(\\theta, \\beta)` (None for
        ``nAGQ = 0``).

    ``vcov`` is :math:`2H^{-1}` restricted to :math:`\\beta` (:func:`fixed_effects_vcov`).
    """

    data: GlmmData
    mode: PirlsResult
    objective: float
    nAGQ: int
    hessian: np.ndarray | None

    @property
    def sigma(self) -> float:
        """Always 1, as binomial and Poisson models have no scale parameter."""
        return 1.0


def fixed_effects_vcov(data: GlmmData, theta: np.ndarray, mode: PirlsResult, hessian: np.ndarray | None,
                       n_theta: int) -> np.ndarray:
    """lme4's ``vcov.merMod`` of a GLMM: :math:`2H^{-1}` (the :math:`\\beta` block, symmetrised),
    or :math:`(R_X^\\top R_X)^{-1}` at the final PIRLS weights when there is no Hessian or it is
    not positive definite (with a warning, as lme4)."""
    if hessian is not None:
        try:
            inverse = np.linalg.inv(hessian)
            block = inverse[n_theta:, n_theta:]
            block = block + block.T  # 2 H^{-1}, symmetrised
            if not np.isfinite(block).all():
                raise np.linalg.LinAlgError("non-finite Hessian")
            np.linalg.cholesky(block)
            return block
        except np.linalg.LinAlgError:
            warnings.warn("variance-covariance matrix computed from finite-difference Hessian is "
                          "not positive definite or contains NA values: falling back to the "
                          "var-cov estimated from RX", ConvergenceWarning, stacklevel=user_stacklevel())
    return unscaled_fixed_vcov(data, theta, mode.working_weights)


class GlmerResult(MixedModelResult):
    """A fitted generalized linear mixed model (the counterpart of lme4's ``glmerMod``).

    Create with :func:`~mlmtools.glmm.model.glmer`. Shares the names of
    :class:`~mlmtools.lmm.result.LmerResult` (``fixef``, ``vcov()``, ``varcorr()``, ``ranef()``,
    ``loglik``, ``aic``, ``bic``, ``predict()``, ``summary()``); there is no residual variance.

    Attributes
    ----------
    model : ~mlmtools.glmm.model.GeneralizedLinearMixedModel
        The model that was fitted; ``refit`` reuses it.
    state : GlmmFitState
        The read-only fit state.
    """

    state: GlmmFitState

    # -- model facts -------------------------------------------------------------------
    @property
    def family(self) -> Family:
        """The response distribution and link."""
        return self.state.data.family

    @property
    def sigma(self) -> float:
        """Always 1, as lme4's ``sigma()``: binomial and Poisson models have no scale parameter."""
        return 1.0

    @property
    def nAGQ(self) -> int:
        """Quadrature nodes per level (0 and 1 mean the Laplace approximation)."""
        return self.state.nAGQ

    @property
    def hessian(self) -> np.ndarray | None:
        """Finite-difference Hessian of the deviance over :math:`(\\theta, \\beta)`."""
        return self.state.hessian

    @property
    def npar(self) -> int:
        """:math:`p + \\mathrm{length}(\\theta)`."""
        return self.state.problem.p + self.state.problem.n_theta

    @property
    def loglik(self) -> float:
        """:math:`-d/2`, with :math:`d` the Laplace or quadrature deviance at the optimum."""
        return -0.5 * self.state.objective

    @property
    def deviance(self) -> float:
        """The conditional deviance :math:`\\sum_i d_i(y_i, \\hat\\mu_i)` at the conditional modes,
        as lme4's ``deviance()`` of a GLMM (not :math:`-2\\ell`; see :attr:`loglik`)."""
        return float(np.sum(self.state.mode.dev_resids))

    @property
    def method(self) -> str:
        """``"Laplace Approximation"`` or ``"Adaptive Gauss-Hermite Quadrature, nAGQ = k"``."""
        if self.nAGQ > 1:
            return f"Adaptive Gauss-Hermite Quadrature, nAGQ = {self.nAGQ}"
        return "Laplace Approximation"

    # -- fixed effects -----------------------------------------------------------------
    def vcov(self) -> pd.DataFrame:
        """Covariance of :math:`\\hat\\beta`: :math:`2H^{-1}` (the :math:`\\beta` block), with
        :math:`H` the finite-difference Hessian of the deviance over :math:`(\\theta, \\beta)`;
        :math:`(R_X^\\top R_X)^{-1}` from the final PIRLS weights when no Hessian is available."""
        names = list(self.state.fixed_names)
        return pd.DataFrame(self.state.vcov.copy(), index=names, columns=names)

    def coef_table(self, ddf: str = "none") -> pd.DataFrame:
        """Fixed-effects table: Estimate, Std. Error, z value, Pr(>|z|) (Wald z tests,
        :math:`p = 2\\Phi(-|z|)`).

        ``ddf`` exists for symmetry with lmer; GLMMs use z tests, so only ``"none"`` (or
        ``"wald"``) is accepted and anything else raises ValueError.
        """
        if not isinstance(ddf, str) or ddf.lower() not in GLMM_DDF:
            raise ValueError(f"ddf must be one of {GLMM_DDF}: GLMMs use z tests (no denominator "
                             f"degrees of freedom), got {ddf!r}")
        estimate = self.state.beta
        std_error = np.sqrt(np.diag(self.state.vcov))
        z = estimate / std_error
        return pd.DataFrame({"Estimate": estimate, "Std. Error": std_error, "z value": z,
                             "Pr(>|z|)": 2.0 * stats.norm.sf(np.abs(z))},
                            index=list(self.state.fixed_names))

    # -- random effects ----------------------------------------------------------------
    def _conditional_variances(self) -> list[np.ndarray]:
        return conditional_variances(self.state.data, self.theta, self.state.mode.working_weights)

    # -- fitted values, residuals, predictions -----------------------------------------
    def fitted(self) -> pd.Series:
        """Conditional means :math:`\\hat\\mu = g^{-1}(X\\hat\\beta + Z\\hat b + o)`."""
        return pd.Series(self.state.mode.mu, index=self.state.frame.row_index, name="fitted")

    def _residual_values(self, type: str = "deviance", scaled: bool = False) -> np.ndarray:
        """The values of :meth:`residuals` as an array."""
        if type not in RESIDUAL_TYPES:
            raise ValueError(f"type must be one of {RESIDUAL_TYPES}, got {type!r}")
        data, mode = self.state.data, self.state.mode
        y, mu, eta, family = data.y, mode.mu, mode.eta, self.family
        if type == "deviance":
            values = np.sign(y - mu) * np.sqrt(np.maximum(mode.dev_resids, 0.0))
        elif type == "pearson":
            values = (y - mu) * np.sqrt(data.weights / family.variance(mu))
        elif type == "response":
            values = y - mu
        else:
            values = (y - mu) / family.mu_eta(eta)
        return values / self.sigma if scaled else values

    def residuals(self, type: str = "deviance", scaled: bool = False) -> pd.Series:
        """Residuals of the conditional fit (lme4's ``residuals.glmResp``).

        ``"deviance"``: :math:`\\mathrm{sign}(y-\\hat\\mu)\\sqrt{d_i}`; ``"pearson"``:
        :math:`(y-\\hat\\mu)\\sqrt{w}/\\sqrt{V(\\hat\\mu)}`; ``"response"``: :math:`y-\\hat\\mu`;
        ``"working"``: :math:`(y-\\hat\\mu)/(d\\mu/d\\eta)`. ``scaled`` divides by
        :math:`\\sigma = 1` (kept for symmetry with lmer).
        """
        return pd.Series(self._residual_values(type, scaled), index=self.state.frame.row_index,
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
            eta = self.state.frame.X @ self.state.beta + self.state.data.offset
            if include_random:
                eta = eta + self.state.problem.Z @ self.state.b
            index = self.state.frame.row_index
        else:
            eta = self._new_linear_predictor(newdata, include_random, allow_new_levels)
            index = newdata.index
        values = self.family.linkinv(eta) if type == "response" else eta
        return pd.Series(values, index=index, name="predicted")

    # -- printing and refitting --------------------------------------------------------
    def summary(self) -> GlmerSummary:
        """lme4's ``summary(glmer)`` (a :class:`~mlmtools.rstyle.summaries.GlmerSummary`;
        print it for R's layout)."""
        return GlmerSummary(method=self.method, family=self.family.name, link=self.family.link,
                            **self._summary_fields(self.coef_table()))

    def refit(self, y: Any) -> GlmerResult:
        """The same model fitted to a new response with the same ``nAGQ`` (lme4's ``refit``).

        Parameters
        ----------
        y : array_like
            One value per row used by this fit, on the model frame's scale (proportions for
            a ``cbind`` response, whose trials are kept).
        """
        return self.model.refit(y, nAGQ=self.nAGQ)
