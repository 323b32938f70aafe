"""A fitted generalized linear mixed model: :class:`GlmerResult`, lme4's ``glmerMod``.

Made by :meth:`mlmtools.glmm.model.GeneralizedLinearMixedModel.fit` (and so by
:func:`~mlmtools.glmm.model.glmer`) from the model and its read-only fit state
(:class:`GlmmFitState`); the printed summary is laid out by :mod:`mlmtools.rstyle.summaries`.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats

from mlmtools._blas import single_blas_thread
from mlmtools._stacklevel import user_stacklevel
from mlmtools.exceptions import ConvergenceWarning
from mlmtools.frame.inputs import as_pandas
from mlmtools.glmm.families import Family
from mlmtools.glmm.intervals import METHODS, fixed_prediction, parameter_positions, profile, variance_names, wald
from mlmtools.glmm.pirls import GlmmData, PirlsResult, conditional_variances, unscaled_fixed_vcov
from mlmtools.glmm.stages import GlmmDeviance
from mlmtools.inference.anova_tables import compare_models
from mlmtools.lmm.mixed_result import MixedModelResult
from mlmtools.lmm.problem import TermLayout
from mlmtools.lmm.state import MixedFitState
from mlmtools.rstyle.summaries import AnovaTable, GlmerSummary

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

    start_linear_predictor : numpy.ndarray
        The linear predictor every evaluation of the last stage started PIRLS from (lme4's
        ``lp0``): with it, :meth:`GlmerResult.deviance_function` is the function the fit minimised.

    ``vcov`` is :math:`2H^{-1}` restricted to :math:`\\beta` (:func:`fixed_effects_vcov`).
    """

    data: GlmmData
    mode: PirlsResult
    objective: float
    nAGQ: int
    hessian: np.ndarray | None
    start_linear_predictor: np.ndarray

    @property
    def sigma(self) -> float:
        """The residual scale (:func:`residual_scale`)."""
        return residual_scale(self.data, self.mode)


def residual_scale(data: GlmmData, mode: PirlsResult) -> float:
    """lme4's ``sigma()`` of a GLMM: 1 for families without a dispersion; for the others (Gamma,
    Gaussian) lme4's ``sigmaML``,

    .. math:: \\hat\\sigma^2 = \\frac{1}{n}\\Big(\\sum_i w_i\\frac{(y_i-\\hat\\mu_i)^2}{V(\\hat\\mu_i)}
        + \\lVert\\tilde u\\rVert^2\\Big).
    """
    if not data.family.has_dispersion:
        return 1.0
    weighted = np.sum(data.weights * (data.y - mode.mu) ** 2 / data.family.variance(mode.mu))
    return float(np.sqrt((weighted + mode.sqr_u) / data.n))


def fixed_effects_vcov(data: GlmmData, theta: np.ndarray, mode: PirlsResult, hessian: np.ndarray | None,
                       n_theta: int, sigma: float = 1.0) -> np.ndarray:
    """lme4's ``vcov.merMod`` of a GLMM: :math:`2H^{-1}` (the :math:`\\beta` block, symmetrised),
    or :math:`\\sigma^2(R_X^\\top R_X)^{-1}` at the final PIRLS weights when there is no Hessian or
    it is not positive definite (with a warning, as lme4)."""
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
    return sigma**2 * unscaled_fixed_vcov(data, theta, mode.working_weights)


class GlmerResult(MixedModelResult):
    """A fitted generalized linear mixed model (the counterpart of lme4's ``glmerMod``).

    Create with :func:`~mlmtools.glmm.model.glmer`. Shares the names of
    :class:`~mlmtools.lmm.result.LmerResult` (``fixef``, ``vcov()``, ``varcorr()``, ``ranef()``,
    ``loglik``, ``aic``, ``bic``, ``predict()``, ``confint()``, ``anova()``, ``summary()``); the
    residual variance is that of the family's dispersion (Gamma, Gaussian), none otherwise.

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
        """lme4's ``sigma()``: 1 for binomial, Poisson and negative binomial models; the
        estimated dispersion's square root for Gamma and Gaussian ones (:attr:`GlmmFitState.sigma`)."""
        return self.state.sigma

    @property
    def has_residual(self) -> bool:  # type: ignore[override]
        """Whether the variance components end with a residual row (families with a dispersion)."""
        return self.family.has_dispersion

    @property
    def REML(self) -> bool:
        """A GLMM is fitted by maximum likelihood, so this is always False."""
        return False

    @property
    def objective(self) -> float:
        """The Laplace or quadrature deviance at the optimum, :math:`-2\\ell`."""
        return self.state.objective

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
        """:math:`p + \\mathrm{length}(\\theta)`, plus one for a dispersion and one for the
        negative binomial theta (lme4's ``npar.merMod``)."""
        extra = int(self.family.has_dispersion) + int(self.family.name.startswith("Negative Binomial"))
        return self.state.problem.p + self.state.problem.n_theta + extra

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

    @property
    def zvalues(self) -> pd.Series:
        """Wald z values :math:`\\hat\\beta_j/\\mathrm{SE}_j` (statsmodels' ``zvalues``; the
        ``z value`` column of :meth:`coef_table`)."""
        return self.wald_ratios().rename("zvalues")

    def coef_table(self, ddf: str = "none") -> pd.DataFrame:
        """Fixed-effects table: Estimate, Std. Error, z value, Pr(>|z|) (Wald z tests,
        :math:`p = 2\\Phi(-|z|)`); lme4 heads the statistic ``t value`` for families with a
        dispersion, with the same normal p-values.

        ``ddf`` exists for symmetry with lmer; GLMMs use z tests, so only ``"none"`` (or
        ``"wald"``) is accepted and anything else raises ValueError.
        """
        if not isinstance(ddf, str) or ddf.lower() not in GLMM_DDF:
            raise ValueError(f"ddf must be one of {GLMM_DDF}: GLMMs use z tests (no denominator "
                             f"degrees of freedom), got {ddf!r}")
        estimate = self.state.beta
        std_error = np.sqrt(np.diag(self.state.vcov))
        z = estimate / std_error
        statistic = "t value" if self.family.has_dispersion else "z value"
        return pd.DataFrame({"Estimate": estimate, "Std. Error": std_error, statistic: z,
                             "Pr(>|z|)": 2.0 * stats.norm.sf(np.abs(z))},
                            index=list(self.state.fixed_names))

    # -- random effects ----------------------------------------------------------------
    def _conditional_variances(self) -> list[np.ndarray]:
        variances = conditional_variances(self.state.data, self.theta, self.state.mode.working_weights)
        return variances if self.sigma == 1.0 else [self.sigma**2 * v for v in variances]

    def _leverage_weights(self) -> tuple[np.ndarray, np.ndarray]:
        return self.state.mode.working_weights, self.state.data.weights

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
        scaled_values: np.ndarray = values / self.sigma if scaled else values
        return scaled_values

    def residuals(self, type: str = "deviance", scaled: bool = False) -> pd.Series:
        """Residuals of the conditional fit (lme4's ``residuals.glmResp``).

        ``"deviance"``: :math:`\\mathrm{sign}(y-\\hat\\mu)\\sqrt{d_i}`; ``"pearson"``:
        :math:`(y-\\hat\\mu)\\sqrt{w}/\\sqrt{V(\\hat\\mu)}`; ``"response"``: :math:`y-\\hat\\mu`;
        ``"working"``: :math:`(y-\\hat\\mu)/(d\\mu/d\\eta)`. ``scaled`` divides by
        :math:`\\sigma` (1 unless the family has a dispersion).
        """
        return pd.Series(self._residual_values(type, scaled), index=self.state.frame.row_index,
                         name="residuals")

    def predict(self, newdata: pd.DataFrame | None = None, *, re_form: str | None = None,
                type: str = "link", se_fit: bool = False, interval: str | None = None,
                level: float = 0.95, allow_new_levels: bool = False) -> pd.Series | pd.DataFrame:
        """Predictions, as lme4's ``predict.merMod``, with standard errors and intervals of the
        fixed-effect part.

        .. math:: \\hat\\eta = X_{new}\\hat\\beta + o + Z_{new}\\hat b,\\qquad
            \\hat\\mu = g^{-1}(\\hat\\eta)\\ (\\texttt{type="response"})

        With ``se_fit`` or ``interval="confidence"`` the prediction is the population-level
        :math:`x^\\top\\hat\\beta + o` whatever ``re_form`` says, with
        :math:`\\mathrm{SE} = \\sqrt{x^\\top V x}` (:math:`V` = :meth:`vcov`); on the response scale
        :math:`|d\\mu/d\\eta|\\,\\mathrm{SE}` (delta method) and the link-scale interval
        :math:`\\hat\\eta \\pm z\\,\\mathrm{SE}` mapped through :math:`g^{-1}`.

        Parameters
        ----------
        newdata : DataFrame, optional
            Rows to predict; the fitted rows when None.
        re_form : {None, "~0", "NA"}
            None: include the random effects; ``"~0"`` or ``"NA"``: population level.
        type : {"link", "response"}
            Linear predictor or mean.
        se_fit : bool
            Add the standard errors (column ``se_fit``).
        interval : {None, "confidence"}
            Add the limits ``lwr`` and ``upr`` of a confidence interval at ``level``.
        level : float
            Confidence level of the interval.
        allow_new_levels : bool
            Unseen levels contribute 0 when True; otherwise they raise ValueError.

        Returns
        -------
        pandas.Series or pandas.DataFrame
            The Series ``predicted``; with ``se_fit`` or ``interval`` a DataFrame with columns
            ``fit``, ``se_fit`` and, for an interval, ``lwr`` and ``upr``.

        Examples
        --------
        >>> import pandas as pd
        >>> from mlmtools.datasets import sleepstudy
        >>> from mlmtools.glmm import glmer
        >>> data = sleepstudy().assign(slow=lambda d: (d["Reaction"] > 300).astype(int))
        >>> fit = glmer("slow ~ Days + (1 | Subject)", data)
        >>> table = fit.predict(pd.DataFrame({"Days": [0, 9]}), re_form="NA", type="response",
        ...                     interval="confidence")
        >>> table.round(3).to_numpy().tolist()
        [[0.039, 0.026, 0.011, 0.136], [0.888, 0.06, 0.71, 0.963]]
        """
        if type not in ("link", "response"):
            raise ValueError(f"type must be 'link' or 'response', got {type!r}")
        if interval not in (None, "confidence"):
            raise ValueError(f"interval must be None or 'confidence', got {interval!r}")
        if not 0 < level < 1:
            raise ValueError(f"level must be between 0 and 1, got {level!r}")
        newdata = None if newdata is None else as_pandas(newdata, "newdata")
        include_random = self._include_random(re_form)
        frame = self.state.frame
        if se_fit or interval is not None:
            if newdata is None:
                X, offset, index = frame.X, self.state.data.offset, frame.row_index
            else:
                X, formula_offset = self._new_fixed_design(newdata)
                offset = np.zeros(len(newdata)) if formula_offset is None else formula_offset
                index = newdata.index
            table = fixed_prediction(np.asarray(X, dtype=float), self.state.beta, self.state.vcov, offset,
                                     self.family, type, level)
            table.index = index
            return table if interval is not None else table[["fit", "se_fit"]]
        if newdata is None:
            eta = frame.X @ self.state.beta + self.state.data.offset
            if include_random:
                eta = eta + self.state.problem.Z @ self.state.b
            index = frame.row_index
        else:
            eta = self._new_linear_predictor(newdata, include_random, allow_new_levels)
            index = newdata.index
        values = self.family.linkinv(eta) if type == "response" else eta
        return pd.Series(values, index=index, name="predicted")

    # -- intervals and tests -----------------------------------------------------------
    def terms(self) -> tuple[TermLayout, ...]:
        """The random-effects terms (lme4's order)."""
        return self.state.problem.terms

    def deviance_function(self) -> GlmmDeviance:
        """The deviance over :math:`(\\theta, \\beta)` the fit minimised (lme4's
        ``getME(fit, "devfun")``): Laplace or quadrature, each evaluation starting PIRLS from the
        fit's stored linear predictor."""
        return GlmmDeviance(self.state.data, self.state.problem.n_theta, max(self.nAGQ, 1),
                            self.state.start_linear_predictor)

    def confint(self, parm: str | Sequence[str] | None = None, level: float = 0.95,
                method: str = "profile") -> pd.DataFrame:
        """Confidence intervals, as lme4's ``confint.merMod`` (see :mod:`mlmtools.glmm.intervals`).

        Parameters
        ----------
        parm : str or sequence of str, optional
            Parameters by name (``"sd_(Intercept)|herd"``, a fixed effect), or ``"theta_"`` /
            ``"beta_"`` for all variance parameters / fixed effects; all when None.
        level : float
            Confidence level.
        method : {"profile", "wald"}
            Likelihood profile (lme4's default) or Wald (:math:`\\hat\\beta \\pm z\\,\\mathrm{SE}`,
            NaN for the variance parameters).

        Returns
        -------
        pandas.DataFrame
            One row per parameter; columns ``"2.5 %"`` and ``"97.5 %"`` (for level 0.95).

        Raises
        ------
        ValueError
            An unknown method or parameter, a level outside (0, 1), a profile of a fit with a
            dispersion or of a first-stage (``nAGQ=0``) fit, or a profile that finds a lower
            deviance than the fit's.

        Examples
        --------
        >>> from mlmtools.datasets import sleepstudy
        >>> from mlmtools.glmm import glmer
        >>> data = sleepstudy().assign(slow=lambda d: (d["Reaction"] > 300).astype(int))
        >>> fit = glmer("slow ~ Days + (1 | Subject)", data)
        >>> fit.confint(method="wald").round(3)
                              2.5 %  97.5 %
        sd_(Intercept)|Subject    NaN     NaN
        (Intercept)            -4.539  -1.852
        Days                    0.393   0.777
        """
        method = method.lower() if isinstance(method, str) else method
        if method not in METHODS:
            raise ValueError(f"method must be one of {METHODS}, got {method!r}")
        if not isinstance(level, (int, float)) or not 0 < level < 1:
            raise ValueError(f"level must be between 0 and 1, got {level!r}")
        dispersion = self.family.has_dispersion
        names = variance_names(self.terms(), dispersion)
        positions = parameter_positions(parm, names + list(self.fixef.index), len(names))
        if method == "wald":
            return wald(self, level, dispersion).iloc[positions]
        if dispersion:
            raise ValueError("can't (yet) profile GLMMs with non-fixed scale parameters (as lme4): "
                             "use method='wald'")
        if self.nAGQ == 0:
            raise ValueError("a first-stage fit (nAGQ=0) has no deviance over the fixed effects to "
                             "profile: refit with nAGQ=1 or use method='wald'")
        with single_blas_thread():
            return profile(self, level, positions)

    def refit_ml(self) -> GlmerResult:
        """Itself: a GLMM is already a maximum-likelihood fit (for :func:`anova`)."""
        return self

    def anova(self, *others: GlmerResult) -> AnovaTable:
        """Likelihood-ratio tests of nested fits of the same data (lme4's ``anova(m1, m2, ...)``):
        for models sorted by their number of parameters,
        :math:`\\chi^2 = 2\\max(0, \\ell_k - \\ell_{k-1})` on :math:`\\mathrm{npar}_k - \\mathrm{npar}_{k-1}`
        degrees of freedom (:func:`mlmtools.inference.anova_tables.compare_models`).

        Examples
        --------
        >>> from mlmtools.datasets import sleepstudy
        >>> from mlmtools.glmm import glmer
        >>> data = sleepstudy().assign(slow=lambda d: (d["Reaction"] > 300).astype(int))
        >>> null = glmer("slow ~ 1 + (1 | Subject)", data)
        >>> fit = glmer("slow ~ Days + (1 | Subject)", data)
        >>> table = fit.anova(null).table
        >>> table[["npar", "Chisq", "Df"]].round(2)
                npar  Chisq    Df
        model2     2    NaN  <NA>
        model1     3  60.27     1
        """
        if not others:
            raise ValueError("anova of a glmer fit compares nested fits: give at least one more "
                             "model, e.g. fit.anova(null_fit)")
        return compare_models(self, *others)

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
        fit: GlmerResult = self.model.refit(y, nAGQ=self.nAGQ)
        return fit
