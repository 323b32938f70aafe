"""The names every fitted model answers to: R's, and statsmodels' as aliases of them.

One implementation, two vocabularies. :class:`ResultAliases` is mixed into
:class:`~mlmtools.lmm.result.LmerResult`, :class:`~mlmtools.glmm.result.GlmerResult` (through
``MixedModelResult``) and :class:`~mlmtools.gee.result.GeeFit`;
each statsmodels name reads the R-named member that computes it:

================  ========  ==========================  ================================
name              kind      computed by (R)             statsmodels
================  ========  ==========================  ================================
``params``        property  ``fixef``                   ``params``
``bse``           property  ``sqrt(diag(vcov()))``      ``bse``
``pvalues``       property  ``coef_table()``'s p-value  ``pvalues``
``fittedvalues``  property  ``fitted()``                ``fittedvalues``
``resid``         property  ``residuals("response")``   ``resid`` (response residuals)
``llf``           property  ``loglik`` (``logLik()``)   ``llf``
``conf_int()``    method    Wald limits of ``params``   ``conf_int(alpha)``
================  ========  ==========================  ================================

``tvalues`` (lmer) and ``zvalues`` (glmer, GEE) are :math:`\\hat\\beta_j/\\mathrm{SE}_j`, defined
on each class with :meth:`ResultAliases.wald_ratios`.  The convention (properties for values,
methods for computations with options) is tabulated in ``CONTRIBUTING.md`` and the API page.
"""

from __future__ import annotations

from typing import Protocol

import numpy as np
import pandas as pd

from mlmtools.inference.wald import interval_columns, wald_limits


class EstimatesSource(Protocol):
    """The R-named members :class:`ResultAliases` reads (every fitted model has them)."""

    @property
    def fixef(self) -> pd.Series:
        """The coefficient estimates."""

    def vcov(self) -> pd.DataFrame:
        """Their covariance."""

    def coef_table(self) -> pd.DataFrame:
        """The coefficient table, p-values last."""

    def fitted(self) -> pd.Series:
        """Fitted values."""

    def residuals(self, type: str = ...) -> pd.Series:
        """Residuals of a given type."""


class LikelihoodSource(Protocol):
    """A fit with a log-likelihood."""

    @property
    def loglik(self) -> float:
        """The log-likelihood at the estimates."""


def check_alpha(alpha: float) -> float:
    """A significance level strictly between 0 and 1, or ValueError naming it."""
    if isinstance(alpha, bool) or not isinstance(alpha, (int, float, np.floating)) or not 0 < alpha < 1:
        raise ValueError(f"alpha must be a number between 0 and 1, got {alpha!r}")
    return float(alpha)


class ResultAliases:
    """statsmodels' names of a fitted model, each an alias of the member R users know.

    Mixed into every result class; a class provides ``fixef``, ``vcov()``, ``coef_table()``,
    ``fitted()``, ``residuals(type=...)`` and, when it has a likelihood, ``loglik``.
    """

    @property
    def params(self: EstimatesSource) -> pd.Series:
        """The coefficient estimates :math:`\\hat\\beta` (statsmodels' name of ``fixef``)."""
        return self.fixef

    @property
    def bse(self: EstimatesSource) -> pd.Series:
        """Standard errors :math:`\\sqrt{\\mathrm{diag}\\,V}` of the estimates, :math:`V` = ``vcov()``
        (statsmodels' ``bse``; R's ``sqrt(diag(vcov(fit)))``).

        Examples
        --------
        >>> from mlmtools.datasets import sleepstudy
        >>> from mlmtools.lmm import lmer
        >>> fit = lmer("Reaction ~ Days + (Days | Subject)", sleepstudy())
        >>> fit.bse.round(3).to_dict()
        {'(Intercept)': 6.825, 'Days': 1.546}
        """
        covariance = self.vcov()
        return pd.Series(np.sqrt(np.diag(covariance.to_numpy())), index=covariance.index, name="bse")

    def wald_ratios(self: EstimatesSource) -> pd.Series:
        """:math:`\\hat\\beta_j / \\mathrm{SE}_j`: the t values of an lmer fit, the Wald z values of
        glmer and GEE fits (``tvalues`` and ``zvalues`` read it)."""
        covariance = self.vcov()
        estimates = self.fixef
        return pd.Series(estimates.to_numpy() / np.sqrt(np.diag(covariance.to_numpy())), index=estimates.index,
                         name="statistic")

    @property
    def pvalues(self: EstimatesSource) -> pd.Series:
        """Two-sided p-values of the coefficient table's tests (statsmodels' ``pvalues``): lmer's with
        Satterthwaite's df (lmerTest's ``summary``), glmer's Wald z tests, GEE's Wald
        :math:`\\chi^2_1` tests (geepack's ``Pr(>|W|)``, equal to the z test's).

        Examples
        --------
        >>> from mlmtools.datasets import sleepstudy
        >>> from mlmtools.lmm import lmer
        >>> fit = lmer("Reaction ~ Days + (Days | Subject)", sleepstudy())
        >>> print(f"{fit.pvalues['Days']:.3g}")
        3.26e-06
        """
        table = self.coef_table()
        return pd.Series(table.iloc[:, -1].to_numpy(dtype=float), index=table.index, name="pvalues")

    @property
    def fittedvalues(self: EstimatesSource) -> pd.Series:
        """The fitted values (statsmodels' name of ``fitted()``)."""
        return self.fitted()

    @property
    def resid(self: EstimatesSource) -> pd.Series:
        """Response residuals :math:`y - \\hat\\mu` (statsmodels' ``resid``; R's
        ``residuals(fit, type = "response")``)."""
        return self.residuals(type="response")

    @property
    def llf(self: LikelihoodSource) -> float:
        """The log-likelihood (statsmodels' name of ``loglik``, R's ``logLik``)."""
        return self.loglik

    def conf_int(self: EstimatesSource, alpha: float = 0.05) -> pd.DataFrame:
        """Wald intervals of the coefficients at level :math:`1-\\alpha` (statsmodels' ``conf_int``):

        .. math:: \\hat\\beta_j \\mp z_{1-\\alpha/2}\\,\\mathrm{SE}_j

        R's ``confint(fit, method = "Wald")`` restricted to the coefficients; ``confint()`` offers
        the other methods (likelihood profile for mixed models).

        Parameters
        ----------
        alpha : float
            One minus the confidence level.

        Returns
        -------
        pandas.DataFrame
            One row per coefficient; columns named as R names them (``"2.5 %"``, ``"97.5 %"``).

        Examples
        --------
        >>> from mlmtools.datasets import sleepstudy
        >>> from mlmtools.lmm import lmer
        >>> fit = lmer("Reaction ~ Days + (Days | Subject)", sleepstudy())
        >>> print(fit.conf_int().round(3))
                       2.5 %   97.5 %
        (Intercept)  238.029  264.781
        Days           7.438   13.497
        """
        level = 1.0 - check_alpha(alpha)
        estimates = self.fixef
        std_error = np.sqrt(np.diag(self.vcov().to_numpy()))
        lower, upper = wald_limits(estimates.to_numpy(), std_error, level)
        return pd.DataFrame(np.column_stack([lower, upper]), index=estimates.index,
                            columns=interval_columns(level))
