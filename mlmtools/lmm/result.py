"""A fitted linear mixed model: :class:`LmerResult`, lmerTest's ``lmerModLmerTest``.

Made by :meth:`mlmtools.lmm.model.LinearMixedModel.fit` (and so by :func:`~mlmtools.lmm.model.lmer`)
from the model and its read-only fit state (:class:`~mlmtools.lmm.state.LmmFitState`).
Estimates follow lme4; ``summary()``, ``coef_table()`` and the tests of
:mod:`mlmtools.inference.contrasts` follow lmerTest (Satterthwaite's degrees of freedom); the printed
summary is laid out by :mod:`mlmtools.rstyle.summaries`.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from typing import Any, Protocol

import numpy as np
import pandas as pd

from mlmtools._blas import single_blas_thread, suits_one_thread
from mlmtools._stacklevel import user_stacklevel
from mlmtools.exceptions import ConvergenceWarning
from mlmtools.frame.inputs import as_pandas
from mlmtools.inference.anova_tables import anova as anova_table
from mlmtools.inference.contrasts import check_ddf, coefficient_table
from mlmtools.inference.kenward_roger import KenwardRogerAdjustment, adjusted_covariance
from mlmtools.inference.satterthwaite import VarparInformation, check_derivatives, varpar_information
from mlmtools.inference.wald import fixed_part_predictions
from mlmtools.lmm.derivatives import (
    ThetaDerivatives,
    analytic_available,
    theta_derivatives,
    varpar_hessian_jacobian,
)
from mlmtools.lmm.intervals import confint
from mlmtools.lmm.marginal_covariance import covariance_parameter_matrices
from mlmtools.lmm.mixed_result import MixedModelResult
from mlmtools.lmm.pls import conditional_variances
from mlmtools.lmm.re_form import RandomEffectsSelection, select_random_effects
from mlmtools.lmm.state import LmmFitState
from mlmtools.rstyle.summaries import AnovaTable, LmerSummary


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

    def with_formula(self, formula: str) -> RefittableModel:
        """The model of another formula on the same data."""


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
    model: RefittableModel
    state: LmmFitState

    def __init__(self, model: RefittableModel, state: LmmFitState,
                 derivatives: ThetaDerivatives | None = None):
        super().__init__(model, state)
        self._exact_derivatives = derivatives  # computed on first use when not given
        self._satterthwaite_cache: dict[str, VarparInformation] = {}
        self._kenward_roger: KenwardRogerAdjustment | None = None

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

    @property
    def tvalues(self) -> pd.Series:
        """t values :math:`\\hat\\beta_j/\\mathrm{SE}_j` (statsmodels' ``tvalues``; the ``t value``
        column of :meth:`coef_table`)."""
        return self.wald_ratios().rename("tvalues")

    # -- random effects ----------------------------------------------------------------
    def _conditional_variances(self) -> list[np.ndarray]:
        return conditional_variances(self.state.problem, self.theta, self.sigma)

    def _leverage_weights(self) -> tuple[np.ndarray, np.ndarray]:
        weights = self.state.frame.weights
        prior = np.ones(self.nobs) if weights is None else np.asarray(weights, dtype=float)
        return prior, prior

    # -- fitted values, residuals, predictions -----------------------------------------
    def _linear_predictor(self, include_random: bool | RandomEffectsSelection = True) -> np.ndarray:
        frame = self.state.frame
        eta: np.ndarray = frame.X @ self.state.beta
        if isinstance(include_random, RandomEffectsSelection):
            problem = self.state.problem
            b = np.concatenate([include_random.masked(self.state.b[t.b_slice].reshape(t.n_levels, t.k), i).ravel()
                                for i, t in enumerate(problem.terms)])
            eta = eta + problem.z_times(b)
        elif include_random:
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

    def predict(self, newdata: pd.DataFrame | None = None, *, re_form: str | None = None,
                se_fit: bool = False, interval: str | None = None, level: float = 0.95,
                allow_new_levels: bool = False) -> pd.Series | pd.DataFrame:
        """Predictions, as lme4's ``predict.merMod``, with standard errors and intervals of the
        fixed-effect part.

        .. math:: \\hat y = X_{new}\\hat\\beta + o + Z_{new}\\hat b

        With ``se_fit`` or ``interval="confidence"`` the prediction is the population-level
        :math:`x^\\top\\hat\\beta + o` whatever ``re_form`` says (as for glmer fits), with
        :math:`\\mathrm{SE} = \\sqrt{x^\\top V x}` (:math:`V` = :meth:`vcov`) and the Wald interval
        :math:`\\hat y \\mp z_{(1+\\ell)/2}\\,\\mathrm{SE}`
        (:func:`~mlmtools.inference.wald.fixed_part_predictions`).

        Parameters
        ----------
        newdata : DataFrame, optional
            Rows to predict (a pandas, polars or pyarrow data frame); the fitted rows when None.
        re_form : str or None
            None: include all random effects; ``"~0"`` or ``"NA"``: population level; a
            formula such as ``"~(1 | school)"``: only the random effects it names
            (:mod:`mlmtools.lmm.re_form`).
        se_fit : bool
            Add the standard errors of the fixed part (column ``se_fit``).
        interval : {None, "confidence"}
            Add the limits ``lwr`` and ``upr`` of its confidence interval at ``level``.
        level : float
            Confidence level of the interval.
        allow_new_levels : bool
            Levels not seen in the fit contribute 0 when True; otherwise they raise
            ValueError.

        Returns
        -------
        pandas.Series or pandas.DataFrame
            The Series ``predicted``; with ``se_fit`` or ``interval`` a DataFrame with columns
            ``fit``, ``se_fit`` and, for an interval, ``lwr`` and ``upr``.

        Examples
        --------
        >>> import pandas as pd
        >>> from mlmtools.datasets import sleepstudy
        >>> from mlmtools.lmm import lmer
        >>> fit = lmer("Reaction ~ Days + (Days | Subject)", sleepstudy())
        >>> print(fit.predict(pd.DataFrame({"Days": [0, 9]}), interval="confidence").round(2))
              fit  se_fit     lwr     upr
        0  251.41    6.82  238.03  264.78
        1  345.61   14.63  316.94  374.28
        """
        newdata = None if newdata is None else as_pandas(newdata, "newdata")
        include_random = select_random_effects(re_form, self.state.frame)
        if se_fit or interval is not None:
            frame = self.state.frame
            if newdata is None:
                X, offset, index = frame.X, frame.offset, frame.row_index
            else:
                X, offset = self._new_fixed_design(newdata)
                index = newdata.index
            return fixed_part_predictions(X, self.state.beta, self.state.vcov, offset, index, interval, level)
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
                         if derivatives == "analytic" and analytic_available(state.problem, state.solution.theta)
                         else None)
                hessian, jacobian, used = varpar_hessian_jacobian(state.problem, state.solution, derivatives,
                                                                  exact)
                info = varpar_information(np.append(self.theta, self.sigma), hessian, jacobian, state.vcov,
                                          used)
            self._satterthwaite_cache[derivatives] = info
            if info.messages:
                warnings.warn("; ".join(info.messages), ConvergenceWarning, stacklevel=user_stacklevel())
        return self._satterthwaite_cache[derivatives]

    def kenward_roger(self) -> KenwardRogerAdjustment:
        """Kenward and Roger's adjusted covariance of the fixed effects and its pieces (pbkrtest's
        ``vcovAdj``; computed once, :mod:`mlmtools.inference.kenward_roger`).

        Raises
        ------
        ValueError
            For a maximum-likelihood fit (the method is defined for REML, as lmerTest requires)
            or a fit with prior weights (pbkrtest leaves them out of the covariance).

        Examples
        --------
        >>> from mlmtools.datasets import sleepstudy
        >>> from mlmtools.lmm import lmer
        >>> fit = lmer("Reaction ~ Days + (Days | Subject)", sleepstudy())
        >>> fit.kenward_roger().vcov_adjusted.round(3).tolist()
        [[46.575, -1.451], [-1.451, 2.389]]
        """
        if self._kenward_roger is None:
            weights = self.state.frame.weights
            if not self.REML:
                raise ValueError("Kenward-Roger's method is only available for REML model fits")
            if weights is not None and np.any(weights != 1):
                raise ValueError("Kenward-Roger's method is not available for fits with prior weights "
                                 "(pbkrtest leaves the weights out); use ddf='satterthwaite'")
            sigma_matrix, derivatives = covariance_parameter_matrices(self.state.problem, self.theta, self.sigma)
            self._kenward_roger = adjusted_covariance(self.state.vcov, sigma_matrix, derivatives,
                                                      np.asarray(self.state.frame.X, dtype=float))
        return self._kenward_roger

    def coef_table(self, ddf: str = "satterthwaite", derivatives: str | None = None) -> pd.DataFrame:
        """Fixed-effects table: Estimate, Std. Error, [df], t value / z value, p-value.

        ``ddf`` is ``"satterthwaite"`` (lmerTest's default), ``"Kenward-Roger"`` (pbkrtest's
        adjusted covariance and df, :meth:`kenward_roger`), ``"residual"`` (the residual df) or
        ``"none"`` (z tests).
        ``derivatives`` (``"analytic"`` or ``"numerical"``) chooses how Satterthwaite's
        derivatives are taken (:mod:`mlmtools.inference.satterthwaite`).

        Examples
        --------
        >>> from mlmtools.datasets import sleepstudy
        >>> from mlmtools.lmm import lmer
        >>> from mlmtools.rstyle import print_rounded
        >>> fit = lmer("Reaction ~ Days + (Days | Subject)", sleepstudy())
        >>> print(print_rounded(fit.coef_table(ddf="Kenward-Roger").iloc[:, :4], 3))
                    Estimate Std. Error df t value
        (Intercept)  251.405      6.825 17  36.838
        Days          10.467      1.546 17   6.771
        """
        return coefficient_table(self, check_ddf(ddf), derivatives)

    def summary(self, ddf: str = "satterthwaite", derivatives: str | None = None) -> LmerSummary:
        """lmerTest's summary (an :class:`~mlmtools.rstyle.summaries.LmerSummary`; print it
        for R's layout); see :meth:`coef_table` for ``ddf`` and ``derivatives``.

        Examples
        --------
        >>> from mlmtools.datasets import sleepstudy
        >>> from mlmtools.lmm import lmer
        >>> fit = lmer("Reaction ~ Days + (Days | Subject)", sleepstudy())
        >>> print(str(fit.summary(ddf="Kenward-Roger")).splitlines()[0])
        Linear mixed model fit by REML. t-tests use Kenward-Roger's method [
        """
        ddf = check_ddf(ddf)
        coefficients = self.coef_table(ddf, derivatives)
        notes = self.satterthwaite(derivatives).messages if ddf == "satterthwaite" else ()
        return LmerSummary(REML=self.REML, ddf=ddf, reml_criterion=self.reml_criterion,
                           **self._summary_fields(coefficients, notes))

    def anova(self, *others: LmerResult, **options: Any) -> AnovaTable:
        """lmerTest's ``anova``: without other fits the type III F table of this fit's terms;
        with others lme4's likelihood-ratio tests of the nested fits
        (:func:`mlmtools.inference.anova_tables.anova`, which documents ``options``).

        Examples
        --------
        >>> from mlmtools.datasets import sleepstudy
        >>> from mlmtools.lmm import lmer
        >>> data = sleepstudy()
        >>> small = lmer("Reaction ~ 1 + (Days | Subject)", data)
        >>> large = lmer("Reaction ~ Days + (Days | Subject)", data)
        >>> print(f"{large.anova(small).table['Pr(>Chisq)'].iloc[-1]:.3g}")
        1.23e-06
        """
        return anova_table(self, *others, **options)

    def confint(self, parm: str | Sequence[str] | None = None, level: float = 0.95, method: str = "profile",
                **kwargs: Any) -> pd.DataFrame:
        """Confidence intervals, by likelihood profile unless ``method="wald"`` (as lme4's
        ``confint.merMod``); see :func:`mlmtools.lmm.intervals.confint`.  ``parm`` keeps the
        rows it names (lme4's parameter names, e.g. ``"sd_(Intercept)|Subject"``, ``"Days"``);
        all of them when None."""
        table = confint(self, method=method, level=level, **kwargs)
        if parm is None:
            return table
        names = [parm] if isinstance(parm, str) else list(parm)
        unknown = [name for name in names if name not in table.index]
        if unknown:
            raise ValueError(f"unknown parameter {', '.join(map(repr, unknown))}; the parameters are "
                             f"{', '.join(map(repr, table.index))}")
        return table.loc[names]

    # -- refitting ---------------------------------------------------------------------
    def update(self, formula: str) -> LmerResult:
        """The model with another formula fitted to the same data by the same criterion and
        optimizer (lme4's ``update(fit, formula)``, with the whole new formula written out).

        Raises
        ------
        ValueError
            As :meth:`~mlmtools.lmm.model.LinearMixedModel.with_formula`.

        Examples
        --------
        >>> from mlmtools.datasets import sleepstudy
        >>> from mlmtools.lmm import lmer
        >>> fit = lmer("Reaction ~ Days + (Days | Subject)", sleepstudy())
        >>> round(fit.update("Reaction ~ Days + (1 | Subject)").reml_criterion, 3)
        1786.465
        """
        return self.model.with_formula(formula).fit(self.REML, optimizer=self.state.optinfo.optimizer)

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
