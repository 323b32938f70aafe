"""A fitted linear mixed model: :class:`LmerResult`, lmerTest's ``lmerModLmerTest``.

Made by :meth:`mlmtools.lmm.model.LinearMixedModel.fit` (and so by :func:`~mlmtools.lmm.model.lmer`)
from the model and its read-only fit state (:class:`~mlmtools.lmm.state.LmmFitState`).
Estimates follow lme4; ``summary()``, ``coef_table()`` and the tests of
:mod:`mlmtools.inference.contrasts` follow lmerTest (Satterthwaite's degrees of freedom); the printed
summary is laid out by :mod:`mlmtools.rstyle.summaries`.
"""

from __future__ import annotations

import warnings
from typing import Any, Protocol

import numpy as np
import pandas as pd

from mlmtools._blas import single_blas_thread, suits_one_thread
from mlmtools._stacklevel import user_stacklevel
from mlmtools.exceptions import ConvergenceWarning
from mlmtools.inference.contrasts import check_ddf, coefficient_table
from mlmtools.inference.satterthwaite import VarparInformation, check_derivatives, varpar_information
from mlmtools.lmm.derivatives import (
    ThetaDerivatives,
    analytic_available,
    theta_derivatives,
    varpar_hessian_jacobian,
)
from mlmtools.lmm.intervals import confint
from mlmtools.lmm.mixed_result import MixedModelResult
from mlmtools.lmm.pls import conditional_variances
from mlmtools.lmm.state import LmmFitState
from mlmtools.rstyle.summaries import LmerSummary


class RefittableModel(Protocol):
    """The model behind a fit, as the fit uses it (:class:`~mlmtools.lmm.model.LinearMixedModel`)."""

    data: pd.DataFrame | None
    data_name: str
    weights_label: str | None
    offset_label: str | None

    def fit(self, REML: bool = True, *, start: Any = None, optimizer: str | None = None) -> LmerResult:
        """Fit the model."""

    def refit(self, y: Any, REML: bool = True, *, start: Any = None,
              optimizer: str | None = None) -> LmerResult:
        """Fit the model to a new response."""


class LmerResult(MixedModelResult):
    """A fitted linear mixed model (the counterpart of lmerTest's ``lmerModLmerTest``).

    Create with :func:`~mlmtools.lmm.model.lmer` or
    :meth:`~mlmtools.lmm.model.LinearMixedModel.fit`.  Estimates follow lme4; ``summary()``,
    ``contest`` and ``anova`` follow lmerTest (Satterthwaite's degrees of freedom).

    Attributes
    ----------
    model : ~mlmtools.lmm.model.LinearMixedModel
        The model that was fitted (data, model frame, cross-products); ``refit`` reuses it.
    state : ~mlmtools.lmm.state.LmmFitState
        The read-only fit state: model frame, cross-products, optimizer summary, PLS
        solution, covariance of the fixed effects.

    Parameters
    ----------
    model, state
        As the attributes.
    derivatives : ~mlmtools.lmm.derivatives.ThetaDerivatives, optional
        The exact derivatives over theta at the optimum when the fit already computed them
        (for its gradient check); otherwise computed on first use.
    """

    has_residual = True
    state: LmmFitState

    def __init__(self, model: RefittableModel, state: LmmFitState,
                 derivatives: ThetaDerivatives | None = None):
        super().__init__(model, state)
        self._exact_derivatives = derivatives  # computed on first use when not given
        self._satterthwaite_cache: dict[str, VarparInformation] = {}

    # -- likelihood --------------------------------------------------------------------
    @property
    def REML(self) -> bool:
        """Whether the model was fitted by REML."""
        return self.state.optinfo.REML

    @property
    def sigma(self) -> float:
        """The residual standard deviation, :math:`\\sqrt{\\mathrm{pwrss}/(n-p)}` (REML) or
        :math:`\\sqrt{\\mathrm{pwrss}/n}` (ML)."""
        return self.state.solution.sigma

    def devcrit(self, REML: bool) -> float:
        """lme4's ``devCrit``: the REML criterion or the ML deviance at the fitted theta
        (no refit), whichever ``REML`` asks for."""
        return self.state.devcrit(REML)

    @property
    def reml_criterion(self) -> float:
        """REML criterion at the fitted theta (``REMLcrit``)."""
        return self.devcrit(True)

    @property
    def deviance(self) -> float:
        """``-2 log L`` of the fit: the ML deviance for an ML fit; for a REML fit the REML
        criterion, as lme4's ``deviance()`` returns it (lme4 also warns there)."""
        return self.devcrit(self.REML)

    @property
    def loglik(self) -> float:
        """The log-likelihood :math:`-d/2` (the REML one for REML fits)."""
        return -0.5 * self.devcrit(self.REML)

    @property
    def npar(self) -> int:
        """:math:`p + \\mathrm{length}(\\theta) + 1` (the 1 is :math:`\\sigma`)."""
        return self.state.problem.p + self.state.problem.n_theta + 1

    # -- fixed effects -----------------------------------------------------------------
    def vcov(self) -> pd.DataFrame:
        """Covariance of :math:`\\hat\\beta`: :math:`\\hat\\sigma^2 (R_X^\\top R_X)^{-1}`."""
        names = list(self.state.fixed_names)
        return pd.DataFrame(self.state.vcov.copy(), index=names, columns=names)

    # -- random effects ----------------------------------------------------------------
    def _conditional_variances(self) -> list[np.ndarray]:
        return conditional_variances(self.state.problem, self.theta, self.sigma)

    # -- fitted values, residuals, predictions -----------------------------------------
    def _linear_predictor(self, include_random: bool = True) -> np.ndarray:
        frame = self.state.frame
        eta = frame.X @ self.state.beta
        if include_random:
            eta = eta + self.state.problem.z_times(self.state.b)
        if frame.offset is not None:
            eta = eta + frame.offset
        return eta

    def fitted(self) -> pd.Series:
        """Conditional fitted values :math:`X\\hat\\beta + Z\\hat b + o`, indexed like the
        caller's kept rows."""
        return pd.Series(self._linear_predictor(), index=self.state.frame.row_index, name="fitted")

    def _residual_values(self, type: str = "response", scaled: bool = False) -> np.ndarray:
        """The values of :meth:`residuals` as an array."""
        if type not in ("response", "pearson"):
            raise ValueError(f"type must be 'response' or 'pearson', got {type!r}")
        frame = self.state.frame
        res = frame.y - self._linear_predictor()
        if type == "pearson" and frame.weights is not None:
            res = res * np.sqrt(frame.weights)
        if scaled:
            res = res / self.sigma
        return np.asarray(res, dtype=float)

    def residuals(self, type: str = "response", scaled: bool = False) -> pd.Series:
        """Residuals :math:`y - \\hat\\mu` (``"response"``) or
        :math:`\\sqrt{w}(y - \\hat\\mu)` (``"pearson"``), divided by :math:`\\hat\\sigma` when
        ``scaled`` (lme4's ``residuals(m, type, scaled)``)."""
        return pd.Series(self._residual_values(type, scaled), index=self.state.frame.row_index,
                         name="residuals")

    def predict(self, newdata: pd.DataFrame | None = None, re_form: str | None = None,
                allow_new_levels: bool = False) -> pd.Series:
        """Predictions, as lme4's ``predict.merMod``.

        .. math:: \\hat y = X_{new}\\hat\\beta + o + Z_{new}\\hat b

        Parameters
        ----------
        newdata : DataFrame, optional
            Rows to predict; the fitted rows when None.
        re_form : {None, "~0", "NA"}
            None: include all random effects; ``"~0"`` or ``"NA"``: population level.
        allow_new_levels : bool
            Levels not seen in the fit contribute 0 when True; otherwise they raise
            ValueError.
        """
        include_random = self._include_random(re_form)
        if newdata is None:
            values = self._linear_predictor(include_random)
            return pd.Series(values, index=self.state.frame.row_index, name="predicted")
        eta = self._new_linear_predictor(newdata, include_random, allow_new_levels)
        return pd.Series(eta, index=newdata.index, name="predicted")

    # -- inference ---------------------------------------------------------------------
    def theta_derivatives(self) -> ThetaDerivatives:
        """Exact derivatives over theta at the optimum (computed once; see
        :mod:`mlmtools.lmm.derivatives`)."""
        if self._exact_derivatives is None:
            self._exact_derivatives = theta_derivatives(self.state.problem, self.state.solution)
        return self._exact_derivatives

    def satterthwaite(self, derivatives: str | None = None) -> VarparInformation:
        """The quantities lmerTest stores at fit time (computed once per ``derivatives``
        choice, then cached; see :mod:`mlmtools.inference.satterthwaite`).

        Warns
        -----
        ConvergenceWarning
            Once, when first computed, if lmerTest would warn that the Hessian of the
            variance parameters has negative or near-zero eigenvalues (the messages are
            also shown by :meth:`summary`).
        """
        derivatives = check_derivatives(derivatives)
        if derivatives not in self._satterthwaite_cache:
            state = self.state
            with single_blas_thread(suits_one_thread(state.problem)):
                exact = (self.theta_derivatives()
                         if derivatives == "analytic" and analytic_available(state.problem) else None)
                hessian, jacobian, used = varpar_hessian_jacobian(state.problem, state.solution, derivatives,
                                                                  exact)
                info = varpar_information(np.append(self.theta, self.sigma), hessian, jacobian, state.vcov,
                                          used)
            self._satterthwaite_cache[derivatives] = info
            if info.messages:
                warnings.warn("; ".join(info.messages), ConvergenceWarning, stacklevel=user_stacklevel())
        return self._satterthwaite_cache[derivatives]

    def coef_table(self, ddf: str = "satterthwaite", derivatives: str | None = None) -> pd.DataFrame:
        """Fixed-effects table: Estimate, Std. Error, [df], t value / z value, p-value.

        ``derivatives`` (``"analytic"`` or ``"numerical"``) chooses how Satterthwaite's
        derivatives are taken (:mod:`mlmtools.inference.satterthwaite`).
        """
        return coefficient_table(self, check_ddf(ddf), derivatives)

    def summary(self, ddf: str = "satterthwaite", derivatives: str | None = None) -> LmerSummary:
        """lmerTest's summary (an :class:`~mlmtools.rstyle.summaries.LmerSummary`; print it
        for R's layout); see :meth:`coef_table` for ``derivatives``."""
        ddf = check_ddf(ddf)
        coefficients = self.coef_table(ddf, derivatives)
        notes = self.satterthwaite(derivatives).messages if ddf == "satterthwaite" else ()
        return LmerSummary(REML=self.REML, ddf=ddf, reml_criterion=self.reml_criterion,
                           **self._summary_fields(coefficients, notes))

    def confint(self, method: str = "profile", level: float = 0.95, **kwargs: Any) -> pd.DataFrame:
        """Confidence intervals, by likelihood profile unless ``method="wald"`` (as lme4's
        ``confint.merMod``); see :func:`mlmtools.lmm.intervals.confint`."""
        return confint(self, method=method, level=level, **kwargs)

    # -- refitting ---------------------------------------------------------------------
    def refit_ml(self) -> LmerResult:
        """Refit by maximum likelihood starting from this fit's theta (as lme4's
        ``refitML``); returns self for an ML fit."""
        if not self.REML:
            return self
        return self.model.fit(REML=False, start=self.theta, optimizer=self.state.optinfo.optimizer)

    def refit(self, y: Any) -> LmerResult:
        """The same model fitted to a new response (lme4's ``refit(fit, newresp)``): same
        criterion (REML or ML) and optimizer, lme4's start values for the new response.

        Parameters
        ----------
        y : array_like
            One value per row used by this fit.
        """
        return self.model.refit(y, REML=self.REML, optimizer=self.state.optinfo.optimizer)
