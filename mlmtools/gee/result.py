"""A fitted GEE model: :class:`GeeFit`, geepack's ``geeglm`` object, and its fit state.

Made by :meth:`mlmtools.gee.model.GeeModel.fit` (and so by :func:`~mlmtools.gee.model.geeglm`);
the printed summary is laid out by :class:`mlmtools.rstyle.summaries.GeeSummary`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from numpy.typing import NDArray
from scipy import stats

from mlmtools.gee.correlation import Independence, WorkingCorrelation
from mlmtools.gee.estimation import GeeData, GeeEstimates, cluster_pieces, estimate
from mlmtools.gee.sandwich import GeeCovariance, geepack_covariance
from mlmtools.glmm.families import Family
from mlmtools.rstyle.summaries import GeeSummary

FloatArray = NDArray[np.float64]


@dataclass(frozen=True, eq=False)
class GeeFitState:
    """What a fitted GEE holds, read by its methods.

    Attributes
    ----------
    data : ~mlmtools.gee.estimation.GeeData
        Response, design, weights and offset in cluster order.
    structure : ~mlmtools.gee.correlation.WorkingCorrelation
        The working correlation, set up for these clusters.
    estimates : ~mlmtools.gee.estimation.GeeEstimates
        :math:`\\hat\\beta`, :math:`\\hat\\phi`, :math:`\\hat\\alpha` and the loop's convergence.
    covariance : ~mlmtools.gee.sandwich.GeeCovariance
        geepack's sandwich (and naive) covariances.
    names : tuple of str
        Coefficient names, as R names the columns of the model matrix.
    row_index : pandas.Index
        Index labels of the caller's rows that were used.
    caller_rows : numpy.ndarray
        For each used row in the caller's order, its position in cluster order.
    """

    data: GeeData
    structure: WorkingCorrelation
    estimates: GeeEstimates
    covariance: GeeCovariance
    names: tuple[str, ...]
    row_index: pd.Index
    caller_rows: NDArray[np.int64]


class GeeFit:
    """A fitted GEE model (geepack's ``geeglm`` object). Create it with
    :func:`~mlmtools.gee.model.geeglm` or :meth:`~mlmtools.gee.model.GeeModel.fit`.

    Attributes
    ----------
    model : ~mlmtools.gee.model.GeeModel
        The model that was fitted (formula, family, working correlation, data in cluster
        order); ``refit`` reuses it.
    state : GeeFitState
        The read-only fit state.
    """

    def __init__(self, model: Any, state: GeeFitState) -> None:
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
        return max(rows.stop - rows.start for rows in self.state.data.clusters)

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
    def params(self) -> pd.Series:
        """Alias of :attr:`coefficients` (statsmodels' name)."""
        return self.coefficients

    @property
    def fixef(self) -> pd.Series:
        """Alias of :attr:`coefficients`, the name the mixed-model results use."""
        return self.coefficients

    @property
    def std_errors(self) -> pd.Series:
        """Robust standard errors :math:`\\sqrt{\\mathrm{diag}(V_\\beta)}` (geepack's ``Std.err``)."""
        return pd.Series(np.sqrt(np.diag(self.state.covariance.beta)), index=self.state.names, name="Std.err")

    @property
    def scale(self) -> float:
        """:math:`\\hat\\phi = \\sum_j w_j r_j^2 / \\sum_j w_j`, reported for every family."""
        return self.state.estimates.scale

    @property
    def scale_se(self) -> float:
        """Sandwich standard error of :math:`\\hat\\phi`."""
        return float(np.sqrt(self.state.covariance.scale[0, 0]))

    @property
    def alpha(self) -> np.ndarray:
        """Correlation parameters :math:`\\hat\\alpha` (empty for independence)."""
        return self.state.estimates.alpha.copy()

    @property
    def alpha_se(self) -> np.ndarray:
        """Sandwich standard errors of :math:`\\hat\\alpha`."""
        return np.sqrt(np.diag(self.state.covariance.alpha))

    @property
    def cluster_sizes(self) -> np.ndarray:
        """Number of rows of each cluster, in cluster order (geepack's ``clusz``)."""
        return np.array([rows.stop - rows.start for rows in self.state.data.clusters])

    @property
    def alpha_names(self) -> list[str]:
        """geepack's labels of the correlation parameters (``alpha``, ``alpha.1:2``, ...)."""
        return list(self.state.structure.param_names)

    def vcov(self) -> pd.DataFrame:
        """Robust sandwich covariance of :math:`\\hat\\beta` (geepack's ``vbeta``).

        .. math:: V_\\beta = A^{-1}\\Big(\\sum_i U_{1i}U_{1i}^\\top\\Big)A^{-1}
        """
        return pd.DataFrame(self.state.covariance.beta, index=self.state.names, columns=self.state.names)

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
            n_clusters=self.n_clusters, max_cluster_size=self.max_cluster_size,
        )

    def qic(self) -> pd.Series:
        """geepack's ``QIC()``: QIC, QICu, the quasi-likelihood, CIC, the number of parameters and QICC.

        .. math::
            \\mathrm{CIC} = \\mathrm{tr}(\\Omega_I V_\\beta), \\quad
            \\mathrm{QIC} = -2(Q - \\mathrm{CIC}), \\quad
            \\mathrm{QICu} = -2(Q - p), \\quad
            \\mathrm{QICC} = \\mathrm{QIC} + \\frac{2k(k+1)}{K - k - 1}

        with :math:`Q` the quasi-likelihood at :math:`\\hat\\mu` (unscaled and unweighted, as
        geepack codes it: :math:`-\\sum(y-\\mu)^2/2` for the Gaussian), :math:`\\Omega_I` the
        inverse of the model-based covariance :math:`A^{-1}` of the same model refitted with
        independence, :math:`V_\\beta` this fit's robust covariance, :math:`k = p + q` and
        :math:`K` the number of clusters (as geepack 1.3.9 computes QICC).
        """
        quasi = self.family.quasi_loglik(self.state.data.y, self._mean())
        independence = Independence()
        refit = estimate(self.state.data, self.family, independence)
        naive = geepack_covariance(cluster_pieces(self.state.data, refit.beta, self.family),
                                   refit.scale, refit.alpha, independence).beta_naive
        trace = float(np.trace(np.linalg.solve(naive, self.state.covariance.beta)))
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

    def refit(self, y: Any) -> GeeFit:
        """The same model fitted to a new response (one value per row used, in the caller's
        row order), with the same stopping rule."""
        return self.model.refit(y)
