"""A fitted GEE model: :class:`GeeFit`, geepack's ``geeglm`` object.

Made by :meth:`mlmtools.gee.model.GeeModel.fit` (and so by :func:`~mlmtools.gee.model.geeglm`);
its state is a :class:`~mlmtools.gee.state.GeeFitState`; the printed summary is laid out by
:class:`mlmtools.rstyle.summaries.GeeSummary`, Wald tests by
:class:`mlmtools.rstyle.summaries.AnovaTable`.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Protocol

import numpy as np
import pandas as pd
from numpy.typing import NDArray
from scipy import stats

from mlmtools.gee.fitting import run_geepack
from mlmtools.gee.intervals import coefficient_intervals, new_design, prediction_table
from mlmtools.gee.state import GeeFitState
from mlmtools.gee.wald_anova import compare_nested, sequential_table
from mlmtools.glmm.families import Family
from mlmtools.lmm.result_api import ResultAliases
from mlmtools.rstyle.summaries import AnovaTable, GeeSummary

FloatArray = NDArray[np.float64]

_NO_LIKELIHOOD = ("a GEE fit has no likelihood, so no {name}; compare GEE fits with qic() (QIC, QICu, "
                  "CIC) and test nested fits with anova()")


class FittedModel(Protocol):
    """What a fit reads from its model (:class:`~mlmtools.gee.model.GeeModel` is one)."""

    formula: str
    call: str
    family: Family
    offset_column: str | None
    id_column: str

    def refit(self, y: Any, epsilon: float, maxit: int) -> GeeFit:
        """The model fitted to a new response with a stopping rule."""


class GeeFit(ResultAliases):
    """A fitted GEE model (geepack's ``geeglm`` object). Create it with
    :func:`~mlmtools.gee.model.geeglm` or :meth:`~mlmtools.gee.model.GeeModel.fit`.

    Attributes
    ----------
    model : ~mlmtools.gee.model.GeeModel
        The model that was fitted (formula, family, working correlation, data in cluster
        order); ``refit`` reuses it.
    state : ~mlmtools.gee.state.GeeFitState
        The read-only fit state.
    """

    def __init__(self, model: FittedModel, state: GeeFitState) -> None:
        self.model = model
        self.state = state

    # -- facts ------------------------------------------------------------------------------
    @property
    def formula(self) -> str:
        """The model formula as written."""
        return self.model.formula

    @property
    def call(self) -> str:
        """The call as R prints it."""
        return self.model.call

    @property
    def family(self) -> Family:
        """The response distribution and link."""
        return self.model.family

    @property
    def corstr(self) -> str:
        """The working correlation's name."""
        return self.state.structure.name

    @property
    def std_err(self) -> str:
        """geepack's ``std.err``: ``"san.se"`` (sandwich), ``"jack"``, ``"j1s"`` or ``"fij"``."""
        return self.state.std_err

    @property
    def scale_fix(self) -> bool:
        """Whether the scale was held fixed."""
        return self.state.scale_fix

    @property
    def converged(self) -> bool:
        """Whether the loop met geepack's stopping rule within ``maxit`` iterations."""
        return self.state.estimates.converged

    @property
    def n_iter(self) -> int:
        """Number of iterations run."""
        return self.state.estimates.n_iter

    @property
    def n_clusters(self) -> int:
        """Number of clusters."""
        return len(self.state.data.clusters)

    @property
    def max_cluster_size(self) -> int:
        """Number of rows of the largest cluster."""
        return int(max(rows.stop - rows.start for rows in self.state.data.clusters))

    @property
    def nobs(self) -> int:
        """Number of rows used."""
        return len(self.state.data.y)

    # -- estimates ---------------------------------------------------------------------------
    @property
    def coefficients(self) -> pd.Series:
        """:math:`\\hat\\beta`, named as R names the columns of the model matrix."""
        return pd.Series(self.state.estimates.beta, index=self.state.names, name="Estimate")

    @property
    def fixef(self) -> pd.Series:
        """Alias of :attr:`coefficients`, the name the mixed-model results use (``params`` is
        statsmodels' name)."""
        return self.coefficients

    def coef(self) -> pd.Series:
        """:attr:`coefficients`, as R's ``coef()`` of a geeglm."""
        return self.coefficients

    @property
    def zvalues(self) -> pd.Series:
        """Wald z values :math:`\\hat\\beta_j/\\mathrm{SE}_j` (statsmodels' ``zvalues``); geepack
        reports their squares, the ``Wald`` column of :meth:`coef_table`."""
        return self.wald_ratios().rename("zvalues")

    @property
    def df_resid(self) -> int:
        """:math:`n - p` (R's ``df.residual`` of a geeglm)."""
        return self.nobs - len(self.state.names)

    @property
    def ngroups(self) -> dict[str, int]:
        """The number of clusters, keyed by the ``id`` column (as the mixed models' ``ngroups``)."""
        return {self.model.id_column: self.n_clusters}

    @property
    def llf(self) -> float:
        """Raises AttributeError pointing to :meth:`qic`, since a GEE has no likelihood (so
        ``hasattr(fit, "llf")`` is False, as are ``aic`` and ``bic``)."""
        raise AttributeError(_NO_LIKELIHOOD.format(name="llf"))

    @property
    def aic(self) -> float:
        """Raises AttributeError (no likelihood), as :attr:`llf` does."""
        raise AttributeError(_NO_LIKELIHOOD.format(name="aic"))

    @property
    def bic(self) -> float:
        """Raises AttributeError (no likelihood), as :attr:`llf` does."""
        raise AttributeError(_NO_LIKELIHOOD.format(name="bic"))

    @property
    def std_errors(self) -> pd.Series:
        """Standard errors :math:`\\sqrt{\\mathrm{diag}(V_\\beta)}` from :meth:`vcov` (geepack's ``Std.err``)."""
        return pd.Series(np.sqrt(np.diag(self.state.reported.beta)), index=self.state.names, name="Std.err")

    @property
    def scale(self) -> float:
        """:math:`\\hat\\phi = \\sum_j w_j r_j^2 / \\sum_j w_j`, reported for every family."""
        return self.state.estimates.scale

    @property
    def scale_se(self) -> float:
        """Standard error of :math:`\\hat\\phi` (sandwich or the ``std_err`` jackknife; 0 if fixed)."""
        return float(np.sqrt(self.state.reported.scale[0, 0]))

    @property
    def alpha(self) -> np.ndarray:
        """Correlation parameters :math:`\\hat\\alpha` (empty for independence)."""
        return self.state.estimates.alpha.copy()

    @property
    def alpha_se(self) -> np.ndarray:
        """Standard errors of :math:`\\hat\\alpha` (sandwich or the ``std_err`` jackknife)."""
        return np.sqrt(np.diag(self.state.reported.alpha))

    @property
    def cluster_sizes(self) -> np.ndarray:
        """Number of rows of each cluster, in cluster order (geepack's ``clusz``)."""
        return np.array([rows.stop - rows.start for rows in self.state.data.clusters])

    @property
    def alpha_names(self) -> list[str]:
        """geepack's labels of the correlation parameters (``alpha``, ``alpha.1:2``, ...)."""
        return list(self.state.structure.param_names)

    def vcov(self) -> pd.DataFrame:
        """Covariance of :math:`\\hat\\beta` as geepack's ``vcov()`` reports it: the robust sandwich
        (``vbeta``) or, with ``std_err``, the jackknife's (:mod:`mlmtools.gee.jackknife`).

        .. math:: V_\\beta = A^{-1}\\Big(\\sum_i U_{1i}U_{1i}^\\top\\Big)A^{-1}
        """
        return pd.DataFrame(self.state.reported.beta, index=self.state.names, columns=self.state.names)

    def vcov_naive(self) -> pd.DataFrame:
        """Model-based covariance :math:`A^{-1}` of :math:`\\hat\\beta` (geepack's ``vbeta.naiv``)."""
        return pd.DataFrame(self.state.covariance.beta_naive, index=self.state.names, columns=self.state.names)

    # -- fitted values and residuals --------------------------------------------------------
    def _in_caller_order(self, values: FloatArray) -> pd.Series:
        return pd.Series(values[self.state.caller_rows], index=self.state.row_index)

    def _mean(self) -> FloatArray:
        eta = self.state.data.X @ self.state.estimates.beta + self.state.data.offset
        return self.family.linkinv(eta)

    def fitted(self) -> pd.Series:
        """Fitted means :math:`\\hat\\mu = g^{-1}(X\\hat\\beta + o)`, in the caller's row order."""
        return self._in_caller_order(self._mean())

    def residuals(self, type: str = "pearson") -> pd.Series:
        """Residuals in the caller's row order, as geepack's ``residuals.geeglm``.

        ``"pearson"`` (the default): :math:`(y - \\hat\\mu)\\sqrt{w}/\\sqrt{v(\\hat\\mu)}`;
        ``"response"``: :math:`y - \\hat\\mu`.
        """
        mu = self._mean()
        if type == "pearson":
            values = (self.state.data.y - mu) * np.sqrt(self.state.data.weights) / np.sqrt(self.family.variance(mu))
        elif type == "response":
            values = self.state.data.y - mu
        else:
            raise ValueError(f"unknown residual type {type!r}; use 'pearson' or 'response'")
        return self._in_caller_order(values)

    # -- predictions and intervals --------------------------------------------------------------
    def predict(self, newdata: pd.DataFrame | None = None, *, type: str = "link", se_fit: bool = False,
                interval: str | None = None, level: float = 0.95) -> pd.Series | pd.DataFrame:
        """Predictions of the marginal mean, as R's ``predict(fit, newdata, type)`` for a geeglm,
        with standard errors and confidence intervals from :meth:`vcov` (geepack has none).

        .. math::
            \\hat\\eta = X\\hat\\beta + o, \\qquad
            \\mathrm{SE}(\\hat\\eta) = \\sqrt{\\mathrm{diag}(X V_\\beta X^\\top)}, \\qquad
            \\mathrm{SE}(\\hat\\mu) = \\Big|\\frac{d\\mu}{d\\eta}\\Big|\\,\\mathrm{SE}(\\hat\\eta)

        and the interval :math:`g^{-1}(\\hat\\eta \\mp z_{(1+\\ell)/2}\\,\\mathrm{SE}(\\hat\\eta))`
        (:mod:`mlmtools.gee.intervals`).

        Parameters
        ----------
        newdata : DataFrame, optional
            Rows to predict (a pandas, polars or pyarrow data frame), with the columns of the
            formula's right-hand side (and of the ``offset`` column and ``offset()`` terms); default
            the rows fitted, in the caller's order.
        type : {"link", "response"}
            The linear predictor :math:`\\hat\\eta` (R's default) or the mean :math:`g^{-1}(\\hat\\eta)`.
        se_fit : bool
            Add standard errors.
        interval : {None, "confidence"}
            Add the limits of a Wald confidence interval.
        level : float
            Confidence level of the interval.

        Returns
        -------
        pandas.Series or pandas.DataFrame
            A Series named ``predicted`` when neither ``se_fit`` nor ``interval`` is asked for;
            otherwise a DataFrame with ``fit``, ``se_fit`` and, with an interval, ``lwr`` and ``upr``.

        Raises
        ------
        ValueError
            For an unknown ``type`` or ``interval``, a level outside (0, 1), or a factor level in
            ``newdata`` that the fit has not seen.
        ColumnNotFoundError
            If ``newdata`` lacks a column the prediction needs.

        Examples
        --------
        >>> import pandas as pd
        >>> from mlmtools.datasets import sleepstudy
        >>> from mlmtools.gee import geeglm
        >>> fit = geeglm("Reaction ~ Days", sleepstudy(), id="Subject", corstr="exchangeable")
        >>> print(fit.predict(pd.DataFrame({"Days": [0, 9]}), interval="confidence").round(2))
              fit  se_fit     lwr     upr
        0  251.41    6.63  238.41  264.40
        1  345.61   14.22  317.75  373.47
        """
        state = self.state
        if newdata is None:
            X, offset = state.data.X[state.caller_rows], state.data.offset[state.caller_rows]
            index = state.row_index
        else:
            X, offset, index = new_design(state.frame, newdata, self.model.offset_column)
        return prediction_table(X, offset, state.estimates.beta, state.reported.beta, self.family, index,
                                type, se_fit, interval, level)

    def confint(self, parm: str | Sequence[str] | None = None, level: float = 0.95,
                method: str = "wald") -> pd.DataFrame:
        """Wald confidence intervals of the coefficients from :meth:`vcov`, as R's ``confint()`` of a
        geeglm (``confint.default``):

        .. math:: \\hat\\beta_j \\mp z_{(1+\\ell)/2}\\,\\mathrm{SE}_j

        Parameters
        ----------
        parm : str or sequence of str, optional
            Coefficient names; all by default.
        level : float
            Confidence level.
        method : {"wald"}
            The only method for GEE (there is no likelihood to profile).

        Returns
        -------
        pandas.DataFrame
            One row per coefficient; columns named as R names them (``"2.5 %"``, ``"97.5 %"``).

        Raises
        ------
        ValueError
            For another method or a level outside (0, 1).
        KeyError
            For a name in ``parm`` that is not a coefficient.

        Examples
        --------
        >>> from mlmtools.datasets import sleepstudy
        >>> from mlmtools.gee import geeglm
        >>> fit = geeglm("Reaction ~ Days", sleepstudy(), id="Subject", corstr="exchangeable")
        >>> print(fit.confint().round(3))
                       2.5 %   97.5 %
        (Intercept)  238.406  264.404
        Days           7.523   13.412
        """
        method = method.lower() if isinstance(method, str) else method
        return coefficient_intervals(self.coefficients, self.vcov(), parm, level, method)

    def anova(self, *others: GeeFit) -> AnovaTable:
        """Wald tests as geepack's ``anova()`` (:mod:`mlmtools.gee.wald_anova`): with no argument,
        sequential tests of the terms (first to last); with another fit of the same data, the
        Wald test of the nested models,

        .. math:: W = b^\\top V_b^{+} b \\sim \\chi^2_{\\nu}

        for the coefficients :math:`b` the larger model adds.

        Returns
        -------
        ~mlmtools.rstyle.summaries.AnovaTable
            ``table`` has ``Df``, ``X2`` and ``P(>|Chi|)``; ``print()`` shows geepack's layout.

        Raises
        ------
        TypeError
            If an argument is not a GEE fit.
        ValueError
            For more than one other fit, fits of different data, or models that are not nested.

        Examples
        --------
        >>> from mlmtools.datasets import sleepstudy
        >>> from mlmtools.gee import geeglm
        >>> data = sleepstudy()
        >>> small = geeglm("Reaction ~ 1", data, id="Subject", corstr="exchangeable")
        >>> large = geeglm("Reaction ~ Days", data, id="Subject", corstr="exchangeable")
        >>> print(large.anova(small))
        Analysis of 'Wald statistic' Table
        <BLANKLINE>
        Model 1 Reaction ~ Days
        Model 2 Reaction ~ 1
          Df    X2 P(>|Chi|)
        1  1 48.55 3.219e-12 ***
        ---
        Signif. codes:  0 '***' 0.001 '**' 0.01 '*' 0.05 '.' 0.1 ' ' 1
        """
        for other in others:
            if not isinstance(other, GeeFit):
                raise TypeError(f"anova compares GEE fits, got {type(other).__name__}")
        if len(others) > 1:
            raise ValueError("geepack's anova compares two nested fits; give one other fit")
        return compare_nested(self, others[0]) if others else sequential_table(self)

    # -- tables ------------------------------------------------------------------------------
    def coef_table(self) -> pd.DataFrame:
        """geepack's coefficient table: Estimate, Std.err (robust), Wald
        :math:`(\\hat\\beta_k/\\mathrm{SE}_k)^2` and Pr(>|W|) from :math:`\\chi^2_1`."""
        estimate = self.state.estimates.beta
        std_err = self.std_errors.to_numpy()
        wald = (estimate / std_err) ** 2
        # geepack computes 1 - pchisq(wald, 1); the same subtraction gives R's digits (and its 0)
        return pd.DataFrame(
            {"Estimate": estimate, "Std.err": std_err, "Wald": wald,
             "Pr(>|W|)": 1.0 - stats.chi2.cdf(wald, df=1)},
            index=self.state.names,
        )

    def summary(self) -> GeeSummary:
        """geepack's ``summary()``: coefficient, scale and correlation tables; ``print()`` it for R's layout.

        The Wald statistic is :math:`(\\hat\\beta_k/\\mathrm{SE}_k)^2`, referred to :math:`\\chi^2_1`.
        """
        scale = pd.DataFrame({"Estimate": [self.scale], "Std.err": [self.scale_se]}, index=["(Intercept)"])
        correlation = pd.DataFrame({"Estimate": self.alpha, "Std.err": self.alpha_se},
                                   index=self.state.structure.param_names)
        return GeeSummary(
            call=self.call, coefficients=self.coef_table(), scale=scale,
            correlation=correlation, corstr=self.corstr, link="identity",
            n_clusters=self.n_clusters, max_cluster_size=self.max_cluster_size, scale_fixed=self.scale_fix,
        )

    def qic(self) -> pd.Series:
        """geepack's ``QIC()``: QIC, QICu, the quasi-likelihood, CIC, the number of parameters and QICC.

        .. math::
            \\mathrm{CIC} = \\mathrm{tr}(\\Omega_I V_\\beta), \\quad
            \\mathrm{QIC} = -2(Q - \\mathrm{CIC}), \\quad
            \\mathrm{QICu} = -2(Q - p), \\quad
            \\mathrm{QICC} = \\mathrm{QIC} + \\frac{2k(k+1)}{K - k - 1}

        with :math:`Q` the quasi-likelihood at :math:`\\hat\\mu` as geepack codes it, unscaled and
        unweighted (:meth:`~mlmtools.glmm.families.Family.quasi_loglik`: :math:`-\\sum(y-\\mu)^2/2`
        for the Gaussian), :math:`\\Omega_I` the inverse of the model-based covariance
        :math:`A^{-1}` of the same model refitted with independence (same scale settings and
        stopping rule), :math:`V_\\beta` this fit's sandwich covariance (whatever ``std_err``
        is), :math:`k = p + q` and :math:`K` the number of clusters (as geepack 1.3.9 computes QICC).

        Examples
        --------
        >>> from mlmtools.datasets import sleepstudy
        >>> from mlmtools.gee import geeglm
        >>> fit = geeglm("Reaction ~ Days", sleepstudy(), id="Subject", corstr="exchangeable")
        >>> print(fit.qic().round(2).to_string())
        QIC          405266.96
        QICu         405255.62
        Quasi Lik   -202625.81
        CIC               7.67
        params            2.00
        QICC         405268.68
        """
        state = self.state
        quasi = self.family.quasi_loglik(state.data.y, self._mean())
        refit = run_geepack(state.data, self.family, "independence", scale_fix=state.scale_fix,
                            scale_value=state.scale_value, epsilon=state.epsilon, maxit=state.maxit)
        naive = refit.covariance.beta_naive
        trace = float(np.trace(np.linalg.solve(naive, state.covariance.beta)))
        p = len(self.state.names)
        k = p + len(self.state.structure.param_names)
        qic = -2.0 * (quasi - trace)
        return pd.Series({
            "QIC": qic,
            "QICu": -2.0 * (quasi - p),
            "Quasi Lik": quasi,
            "CIC": trace,
            "params": float(p),
            "QICC": qic + 2.0 * k * (k + 1) / (self.n_clusters - k - 1),
        })

    def __repr__(self) -> str:
        return (f"<GeeFit {self.formula!r}: {self.family.name}, corstr={self.corstr!r}, "
                f"{self.n_clusters} clusters>")

    def _repr_html_(self) -> str:
        """In Jupyter: the printed summary."""
        return self.summary()._repr_html_()

    def refit(self, y: Any) -> GeeFit:
        """The same model fitted to a new response (one value per row used, in the caller's
        row order), with the same stopping rule."""
        return self.model.refit(y, self.state.epsilon, self.state.maxit)
