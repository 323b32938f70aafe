"""Generalized estimating equations, reproducing R's ``geepack::geeglm``.

:func:`geeglm` fits a marginal model :math:`g(\\mu_{ij}) = x_{ij}^\\top\\beta` for clustered
data with a working correlation :math:`R_i(\\alpha)` (:mod:`mlmtools.gee_correlation`) and
reports geepack's robust ("sandwich") standard errors (:mod:`mlmtools.gee_variance`).

The estimation loop is geepack's (``src/gee2.cc`` ``gee_est``), step for step:

1. Starts: :math:`\\beta` from the GLM fit, :math:`\\alpha = 0`, and :math:`\\phi` the mean of
   the GLM's squared Pearson residuals :math:`w_j r_j^2`.
2. Each iteration, in this order,

   - one Fisher-scoring step for :math:`\\beta`,
     :math:`\\Delta\\beta = (\\sum_i D_i^\\top W_i^{1/2} R_i^{-1} W_i^{1/2} D_i)^{-1}
     \\sum_i D_i^\\top W_i^{1/2} R_i^{-1} W_i^{1/2} r_i`;
   - the scale at the new :math:`\\beta`, :math:`\\phi = \\sum w_j r_j^2 / \\sum w_j`
     (no :math:`N - p` correction);
   - one Gauss-Newton step for :math:`\\alpha` over all within-cluster pairs,
     :math:`\\Delta\\alpha = (\\sum E^\\top W_3 E)^{-1}\\sum E^\\top W_3 (z - \\rho(\\alpha))`
     with :math:`z_{jk} = r_j r_k/\\phi` and :math:`W_3 = w_j w_k`.
3. Stop when :math:`\\max(|\\Delta\\beta|, |\\Delta\\phi|, |\\Delta\\alpha|) \\le 10^{-4}`, at most
   25 iterations.

Here :math:`r_j = (y_j - \\mu_j)/\\sqrt{v(\\mu_j)}` and
:math:`D_j = (d\\mu_j/d\\eta_j)\\, x_j/\\sqrt{v(\\mu_j)}`. The book's GEE chapter derives them.
"""

from __future__ import annotations

import difflib
import re
import warnings
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
from numpy.typing import NDArray
from scipy import stats

from mlmtools import rformat
from mlmtools.exceptions import ConvergenceWarning, FormulaError
from mlmtools.families import FAMILIES, Family, get_family
from mlmtools.gee_correlation import Independence, WorkingCorrelation, make_correlation, pair_indices
from mlmtools.gee_variance import ClusterPieces, GeeCovariance, geepack_covariance
from mlmtools.merformat import TextReport
from mlmtools.formula import parse_formula
from mlmtools.modelframe import ColumnNotFoundError, build_model

FloatArray = NDArray[np.float64]

TOLERANCE = 1e-4
"""geepack's ``geese.control(epsilon)``: the largest parameter step that counts as converged."""
MAX_ITERATIONS = 25
"""geepack's ``geese.control(maxit)``."""


# ---------------------------------------------------------------------------------------------
# GLM start
# ---------------------------------------------------------------------------------------------


def _glm_start(y: FloatArray, X: FloatArray, w: FloatArray, offset: FloatArray,
               family: Family) -> FloatArray:
    """GLM coefficients by iteratively reweighted least squares (R's ``glm.fit``), to full precision.

    .. math:: \\beta \\leftarrow (X^\\top \\Omega X)^{-1} X^\\top \\Omega z, \\quad
        z = \\eta - o + (y - \\mu)/\\mu'(\\eta), \\quad \\Omega = w\\,\\mu'(\\eta)^2/v(\\mu)
    """
    mu = family.mustart(y, w)
    eta = family.linkfun(mu)
    beta = np.zeros(X.shape[1])
    for _ in range(100):
        slope = family.mu_eta(eta)
        working = eta - offset + (y - mu) / slope
        root = np.sqrt(w * slope**2 / family.variance(mu))
        new_beta = np.linalg.lstsq(root[:, None] * X, root * working, rcond=None)[0]
        eta = X @ new_beta + offset
        mu = family.linkinv(eta)
        change = np.max(np.abs(new_beta - beta)) / (np.max(np.abs(new_beta)) + 1e-10)
        beta = new_beta
        if change < 1e-12:
            break
    return beta


# ---------------------------------------------------------------------------------------------
# Clusters and the estimation loop
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _GeeData:
    """Response, design and weights sorted so that each cluster's rows are contiguous."""

    y: FloatArray
    X: FloatArray
    weights: FloatArray
    offset: FloatArray
    waves: NDArray[np.int64]
    clusters: tuple[slice, ...]


def _wave_codes(values: pd.Series) -> NDArray[np.int64]:
    """geepack's wave codes: rank of each value among the distinct values (``as.integer(factor())``)."""
    codes, _ = pd.factorize(values, sort=True)
    return codes.astype(np.int64) + 1


def _cluster_order(ids: pd.Series, waves: NDArray[np.int64] | None) -> tuple[NDArray[np.int64], NDArray[np.int64]]:
    """Row order that groups clusters (in order of first appearance) and each cluster's first row."""
    cluster_code, _ = pd.factorize(ids, sort=False)
    if waves is None:
        order = np.argsort(cluster_code, kind="stable")
    else:
        order = np.lexsort((waves, cluster_code))
    sorted_codes = cluster_code[order]
    starts = np.flatnonzero(np.r_[True, sorted_codes[1:] != sorted_codes[:-1]])
    return order, starts


def _pearson(data: _GeeData, beta: FloatArray, family: Family) -> FloatArray:
    mu = family.linkinv(data.X @ beta + data.offset)
    return (data.y - mu) / np.sqrt(family.variance(mu))


def _beta_step(data: _GeeData, beta: FloatArray, alpha: FloatArray, family: Family,
               structure: WorkingCorrelation) -> FloatArray:
    eta = data.X @ beta + data.offset
    mu = family.linkinv(eta)
    root_v = np.sqrt(family.variance(mu))
    root_w = np.sqrt(data.weights)
    grad = (root_w * family.mu_eta(eta) / root_v)[:, None] * data.X
    resid = root_w * (data.y - mu) / root_v
    p = data.X.shape[1]
    info, score = np.zeros((p, p)), np.zeros(p)
    for rows in data.clusters:
        corr = structure.matrix(alpha, data.waves[rows])
        solved = np.linalg.solve(corr, np.column_stack([grad[rows], resid[rows]]))
        info += grad[rows].T @ solved[:, :p]
        score += grad[rows].T @ solved[:, p]
    return np.linalg.solve(info, score)


def _alpha_step(data: _GeeData, pearson: FloatArray, scale: float, alpha: FloatArray,
                structure: WorkingCorrelation) -> FloatArray:
    q = structure.n_params
    if q == 0:
        return np.zeros(0)
    info, score = np.zeros((q, q)), np.zeros(q)
    for rows in data.clusters:
        waves = data.waves[rows]
        if len(waves) < 2:
            continue
        r, w = pearson[rows], data.weights[rows]
        first, second = pair_indices(len(waves))
        pair_w = w[first] * w[second]
        slope = structure.derivative(alpha, waves)
        z = r[first] * r[second] / scale
        info += (slope * pair_w[:, None]).T @ slope
        score += (slope * pair_w[:, None]).T @ (z - structure.pair_correlations(alpha, waves))
    return np.linalg.solve(info, score)


@dataclass(frozen=True)
class _Estimates:
    beta: FloatArray
    scale: float
    alpha: FloatArray
    n_iter: int
    converged: bool


def _estimate(data: _GeeData, family: Family, structure: WorkingCorrelation,
              tol: float = TOLERANCE, maxit: int = MAX_ITERATIONS) -> _Estimates:
    """geepack's estimation loop (module docstring, steps 1-3)."""
    beta = _glm_start(data.y, data.X, data.weights, data.offset, family)
    pearson = _pearson(data, beta, family)
    scale = float(np.mean(data.weights * pearson**2))
    alpha = structure.start()
    for iteration in range(1, maxit + 1):
        step_beta = _beta_step(data, beta, alpha, family, structure)
        beta = beta + step_beta
        pearson = _pearson(data, beta, family)
        step_scale = float(np.sum(data.weights * (pearson**2 - scale)) / np.sum(data.weights))
        scale += step_scale
        step_alpha = _alpha_step(data, pearson, scale, alpha, structure)
        alpha = alpha + step_alpha
        largest = max(np.max(np.abs(step_beta)), abs(step_scale), np.max(np.abs(step_alpha), initial=0.0))
        if largest <= tol:
            return _Estimates(beta, scale, alpha, iteration, True)
    return _Estimates(beta, scale, alpha, maxit, False)


def _cluster_pieces(data: _GeeData, beta: FloatArray, family: Family) -> list[ClusterPieces]:
    eta = data.X @ beta + data.offset
    mu = family.linkinv(eta)
    variance = family.variance(mu)
    grad = (family.mu_eta(eta) / np.sqrt(variance))[:, None] * data.X
    pearson = (data.y - mu) / np.sqrt(variance)
    slope = family.variance_slope(mu)
    pieces = []
    for rows in data.clusters:
        pieces.append(ClusterPieces(
            pearson=pearson[rows], gradient=grad[rows], variance=variance[rows],
            variance_slope=slope[rows], weights=data.weights[rows], waves=data.waves[rows],
        ))
    return pieces


# ---------------------------------------------------------------------------------------------
# The call as R prints it
# ---------------------------------------------------------------------------------------------

_DEPARSE_CUTOFF = 60


def _deparse_call(function: str, arguments: Sequence[tuple[str, str]]) -> str:
    """A call laid out as R's ``print(call)`` does: break after an argument once a line passes 60 characters."""
    lines, current = [], f"{function}("
    for position, (name, value) in enumerate(arguments):
        current += f"{name} = {value}"
        if position < len(arguments) - 1:
            current += ", "
            if len(current) > _DEPARSE_CUTOFF:
                lines.append(current)
                current = "    "
    lines.append(current + ")")
    return "\n".join(lines)


def _formula_text(formula: str) -> str:
    return re.sub(r"\s+", " ", formula.strip())


# ---------------------------------------------------------------------------------------------
# Result
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True, repr=False)
class GeeSummary(TextReport):
    """geepack's ``summary.geeglm``: the tables, and their print layout as ``str()``.

    Attributes
    ----------
    call : str
        The call as R prints it.
    coefficients : pandas.DataFrame
        Columns ``Estimate``, ``Std.err``, ``Wald``, ``Pr(>|W|)``.
    scale : pandas.DataFrame
        The scale :math:`\\hat\\phi` with its ``Std.err``, row ``(Intercept)``.
    correlation : pandas.DataFrame
        The correlation parameters with their ``Std.err`` (no rows for independence).
    corstr, link : str
        The working-correlation name and the correlation link (always ``identity``).
    n_clusters, max_cluster_size : int
    """

    call: str
    coefficients: pd.DataFrame
    scale: pd.DataFrame
    correlation: pd.DataFrame
    corstr: str
    link: str
    n_clusters: int
    max_cluster_size: int

    def format(self) -> str:
        """The printed summary, as geepack's ``print(summary(fit))``."""
        digits = 4
        parts = ["", "Call:", self.call, "", " Coefficients:"]
        parts.append(rformat.print_coefmat(self.coefficients, digits=digits).rstrip("\n"))
        parts.append("")
        parts.append(f"Correlation structure = {self.corstr} ")
        parts.append("Estimated Scale Parameters:")
        parts.append("")
        parts.append(rformat.print_dataframe(self.scale, digits=digits).rstrip("\n"))
        if self.corstr != "independence":
            parts.append(f"  Link = {self.link} ")
            parts.append("")
            parts.append("Estimated Correlation Parameters:")
            parts.append(rformat.print_dataframe(self.correlation, digits=digits).rstrip("\n"))
        parts.append(
            f"Number of clusters:   {self.n_clusters}  Maximum cluster size: {self.max_cluster_size} "
        )
        return "\n".join(parts) + "\n"


class GeeFit:
    """A fitted GEE model (geepack's ``geeglm`` object). Create it with :func:`geeglm`.

    Attributes
    ----------
    formula : str
    family : Family
    corstr : str
    converged : bool
        Whether the loop met geepack's stopping rule within ``maxit`` iterations.
    n_iter : int
        Number of iterations run.
    n_clusters, max_cluster_size : int
    nobs : int
        Number of rows used.
    """

    def __init__(self, *, formula: str, call: str, names: Sequence[str], family: Family,
                 structure: WorkingCorrelation, estimates: _Estimates, covariance: GeeCovariance,
                 data: _GeeData, order: NDArray[np.int64], row_index: pd.Index) -> None:
        self.formula = formula
        self.call = call
        self.family = family
        self.corstr = structure.name
        self.converged = estimates.converged
        self.n_iter = estimates.n_iter
        self.n_clusters = len(data.clusters)
        self.max_cluster_size = max(rows.stop - rows.start for rows in data.clusters)
        self.nobs = len(data.y)
        self._names = list(names)
        self._alpha_names = list(structure.param_names)
        self._estimates = estimates
        self._covariance = covariance
        self._data = data
        self._index = row_index
        self._caller_rows = np.empty_like(order)
        self._caller_rows[order] = np.arange(len(order))

    # -- estimates ---------------------------------------------------------------------------
    @property
    def coefficients(self) -> pd.Series:
        """:math:`\\hat\\beta`, named as R names the columns of the model matrix."""
        return pd.Series(self._estimates.beta, index=self._names, name="Estimate")

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
        return pd.Series(np.sqrt(np.diag(self._covariance.beta)), index=self._names, name="Std.err")

    @property
    def scale(self) -> float:
        """:math:`\\hat\\phi = \\sum_j w_j r_j^2 / \\sum_j w_j`, reported for every family."""
        return self._estimates.scale

    @property
    def scale_se(self) -> float:
        """Sandwich standard error of :math:`\\hat\\phi`."""
        return float(np.sqrt(self._covariance.scale[0, 0]))

    @property
    def alpha(self) -> np.ndarray:
        """Correlation parameters :math:`\\hat\\alpha` (empty for independence)."""
        return self._estimates.alpha.copy()

    @property
    def alpha_se(self) -> np.ndarray:
        """Sandwich standard errors of :math:`\\hat\\alpha`."""
        return np.sqrt(np.diag(self._covariance.alpha))

    @property
    def cluster_sizes(self) -> np.ndarray:
        """Number of rows of each cluster, in cluster order (geepack's ``clusz``)."""
        return np.array([rows.stop - rows.start for rows in self._data.clusters])

    @property
    def alpha_names(self) -> list[str]:
        """geepack's labels of the correlation parameters (``alpha``, ``alpha.1:2``, ...)."""
        return list(self._alpha_names)

    def vcov(self) -> pd.DataFrame:
        """Robust sandwich covariance of :math:`\\hat\\beta` (geepack's ``vbeta``).

        .. math:: V_\\beta = A^{-1}\\Big(\\sum_i U_{1i}U_{1i}^\\top\\Big)A^{-1}
        """
        return pd.DataFrame(self._covariance.beta, index=self._names, columns=self._names)

    def vcov_naive(self) -> pd.DataFrame:
        """Model-based covariance :math:`A^{-1}` of :math:`\\hat\\beta` (geepack's ``vbeta.naiv``)."""
        return pd.DataFrame(self._covariance.beta_naive, index=self._names, columns=self._names)

    # -- fitted values and residuals --------------------------------------------------------
    def _in_caller_order(self, values: FloatArray) -> pd.Series:
        return pd.Series(values[self._caller_rows], index=self._index)

    def _mean(self) -> FloatArray:
        eta = self._data.X @ self._estimates.beta + self._data.offset
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
            values = (self._data.y - mu) * np.sqrt(self._data.weights) / np.sqrt(self.family.variance(mu))
        elif type == "response":
            values = self._data.y - mu
        else:
            raise ValueError(f"unknown residual type {type!r}; use 'pearson' or 'response'")
        return self._in_caller_order(values)

    # -- tables ------------------------------------------------------------------------------
    def coef_table(self) -> pd.DataFrame:
        """geepack's coefficient table: Estimate, Std.err (robust), Wald
        :math:`(\\hat\\beta_k/\\mathrm{SE}_k)^2` and Pr(>|W|) from :math:`\\chi^2_1`."""
        estimate = self._estimates.beta
        std_err = self.std_errors.to_numpy()
        wald = (estimate / std_err) ** 2
        # geepack computes 1 - pchisq(wald, 1); the same subtraction gives R's digits (and its 0)
        return pd.DataFrame(
            {"Estimate": estimate, "Std.err": std_err, "Wald": wald,
             "Pr(>|W|)": 1.0 - stats.chi2.cdf(wald, df=1)},
            index=self._names,
        )

    def _coefficient_table(self) -> pd.DataFrame:
        """Former name of :meth:`coef_table`."""
        return self.coef_table()

    def summary(self) -> GeeSummary:
        """geepack's ``summary()``: coefficient, scale and correlation tables; ``print()`` it for R's layout.

        The Wald statistic is :math:`(\\hat\\beta_k/\\mathrm{SE}_k)^2`, referred to :math:`\\chi^2_1`.
        """
        scale = pd.DataFrame({"Estimate": [self.scale], "Std.err": [self.scale_se]}, index=["(Intercept)"])
        correlation = pd.DataFrame({"Estimate": self.alpha, "Std.err": self.alpha_se}, index=self._alpha_names)
        return GeeSummary(
            call=self.call, coefficients=self.coef_table(), scale=scale,
            correlation=correlation, corstr=self.corstr, link="identity",
            n_clusters=self.n_clusters, max_cluster_size=self.max_cluster_size,
        )

    def _tidy(self, effects: str | Sequence[str] = "fixed", conf_int: bool = False,
              conf_level: float = 0.95) -> pd.DataFrame:
        """broom's ``tidy()`` of a geeglm: one row per coefficient.

        Columns ``effect`` (always ``"fixed"``: a GEE has no random-effect parameters, and
        ``effects`` accepts only ``"fixed"``), ``term, estimate, std_error, statistic`` (the
        Wald :math:`\\chi^2`), ``p_value``, and, with ``conf_int``, Wald limits
        :math:`\\hat\\beta \\pm z_{(1+\\ell)/2}\\,\\mathrm{SE}`.
        """
        from mlmtools.tidy import check_conf_level, check_effects, wald_limits

        check_effects(effects, allowed=("fixed",))
        conf_level = check_conf_level(conf_level)
        table = self.coef_table()
        tidy = pd.DataFrame({
            "effect": "fixed",
            "term": self._names,
            "estimate": table["Estimate"].to_numpy(),
            "std_error": table["Std.err"].to_numpy(),
            "statistic": table["Wald"].to_numpy(),
            "p_value": table["Pr(>|W|)"].to_numpy(),
        })
        if conf_int:
            tidy["conf_low"], tidy["conf_high"] = wald_limits(tidy["estimate"], tidy["std_error"], conf_level)
        return tidy

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
        quasi = self.family.quasi_loglik(self._data.y, self._mean())
        independence = Independence()
        refit = _estimate(self._data, self.family, independence)
        naive = geepack_covariance(_cluster_pieces(self._data, refit.beta, self.family),
                                   refit.scale, refit.alpha, independence).beta_naive
        trace = float(np.trace(np.linalg.solve(naive, self._covariance.beta)))
        p = len(self._names)
        k = p + len(self._alpha_names)
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


# ---------------------------------------------------------------------------------------------
# Entry point
# ---------------------------------------------------------------------------------------------


def _check_column_argument(data: pd.DataFrame, role: str, column: str | None) -> None:
    """``id``/``waves`` must name a column of ``data``; a misspelt name gets a suggestion."""
    if column is None:
        return
    if not isinstance(column, str):
        raise TypeError(f"{role} must be the name of a column of data, got {type(column).__name__}")
    if column not in data.columns:
        close = difflib.get_close_matches(column, [str(c) for c in data.columns], n=3)
        hint = f"; did you mean {' or '.join(repr(c) for c in close)}?" if close else ""
        raise ColumnNotFoundError(f"{role} column {column!r} not found in data{hint}")


def geeglm(
    formula: str,
    data: pd.DataFrame,
    id: str,
    corstr: str = "independence",
    family: str | Family = "gaussian",
    waves: str | None = None,
    weights: str | None = None,
    offset: str | None = None,
    *,
    epsilon: float = TOLERANCE,
    maxit: int = MAX_ITERATIONS,
    data_name: str | None = None,
) -> GeeFit:
    """Fit a GEE model as R's ``geepack::geeglm`` does.

    The marginal mean is :math:`g(\\mu_{ij}) = x_{ij}^\\top\\beta + o_{ij}` and the working
    covariance of cluster :math:`i` is :math:`\\phi\\, A_i^{1/2} R_i(\\alpha) A_i^{1/2}` with
    :math:`A_i = \\mathrm{diag}(v(\\mu_{ij})/w_{ij})`. :math:`\\hat\\beta` solves

    .. math:: \\sum_i D_i^\\top W_i^{1/2} R_i(\\hat\\alpha)^{-1} W_i^{1/2} r_i = 0,

    :math:`\\hat\\phi = \\sum w r^2/\\sum w` and :math:`\\hat\\alpha` solves the pair moment
    equation of its structure; the loop and stopping rule are geepack's (module docstring).

    geepack needs each cluster's rows to be adjacent. geeglm therefore groups the rows by
    ``id`` with a *stable* sort: clusters in order of first appearance, rows within a
    cluster in their original order, or in ``waves`` order when ``waves`` is given. Data
    already grouped by id (as geepack requires) is used as is. Fitted values and residuals
    come back in the caller's row order.

    Parameters
    ----------
    formula : str
        ``"y ~ x1 + x2"``; a binomial response may be ``cbind(successes, failures)``, and
        ``offset(...)`` terms are allowed.
    data : pandas.DataFrame
    id : str
        Column that identifies the clusters.
    corstr : {"independence", "exchangeable", "ar1", "unstructured"}
        Working correlation (:mod:`mlmtools.gee_correlation`).
    family : {"gaussian", "binomial", "poisson"} or Family
        With its canonical link (identity, logit, log); a :mod:`mlmtools.families` object
        is accepted too and used with unbounded means (``clamp=False``).
    waves : str, optional
        Column giving each row's time. geepack uses the rank of the value among all distinct
        values (1, 2, ...), not the raw spacing; by default the position within the cluster.
    weights, offset : str, optional
        Columns of prior weights and of an offset on the link scale.
    epsilon, maxit : float, int
        geepack's ``geese.control()``: stop when no parameter moves by more than
        ``epsilon`` in an iteration; give up (with a warning) after ``maxit`` iterations.
    data_name : str, optional
        Name printed for ``data`` in the summary's ``Call:`` line; default
        ``data.attrs["name"]`` if set, else ``"data"``.

    Returns
    -------
    GeeFit

    Raises
    ------
    ColumnNotFoundError
        If the ``id`` (or ``waves``) column, or a column of the formula, is not in
        ``data`` (a :class:`KeyError`).
    FormulaError
        If the formula is malformed or has a random-effects term ``(expr | group)``.
    ValueError
        For an unknown ``corstr`` or ``family``, a binomial response outside [0, 1],
        negative Poisson counts, a constant response, or fewer than two clusters.

    Warns
    -----
    ConvergenceWarning
        If the loop has not converged after ``maxit`` iterations.
    MissingRowsWarning
        If rows with missing values were dropped.

    Examples
    --------
    >>> from mlmtools.datasets import sleepstudy
    >>> from mlmtools.rformat import print_rounded
    >>> fit = geeglm("Reaction ~ Days", sleepstudy(), id="Subject", corstr="exchangeable")
    >>> print(print_rounded(fit.coef_table()[["Estimate", "Std.err"]], 3))
                Estimate Std.err
    (Intercept)  251.405   6.632
    Days          10.467   1.502
    """
    structure = make_correlation(corstr)
    fam = get_family(family, tuple(FAMILIES), clamp=False)
    if not isinstance(data, pd.DataFrame):
        raise TypeError(f"data must be a pandas DataFrame, got {type(data).__name__}")
    for role, column in (("id", id), ("waves", waves)):
        _check_column_argument(data, role, column)
    if parse_formula(formula).random:
        raise FormulaError(f"formula '{formula}' has a random-effects term (expr | group); GEE "
                           "models have none: give the clusters with id= and use lmer or glmer "
                           "for random effects")
    extra = (id,) if waves is None else (id, waves)
    mf = build_model(formula, data, require_random=False, extra_columns=extra,
                     weights=weights, offset=offset, stacklevel=3)
    n = len(mf.y)
    y = np.asarray(mf.y, dtype=float)
    fam.check_range(y)
    w = np.ones(n) if mf.weights is None else np.asarray(mf.weights, dtype=float)
    o = np.zeros(n) if mf.offset is None else np.asarray(mf.offset, dtype=float)
    ids = pd.Series(np.asarray(mf.extra[id]))
    wave_codes = None if waves is None else _wave_codes(pd.Series(np.asarray(mf.extra[waves])))
    order, starts = _cluster_order(ids, wave_codes)
    if len(starts) < 2:
        raise ValueError(f"GEE needs at least two clusters; column {id!r} has a single value")
    clusters = tuple(slice(int(a), int(b)) for a, b in zip(starts, np.r_[starts[1:], n]))
    if structure.n_params and all(rows.stop - rows.start < 2 for rows in clusters):
        raise ValueError(f"corstr={corstr!r} needs a cluster with two or more rows; every {id!r} value occurs once")
    if wave_codes is None:
        sorted_waves = np.concatenate([np.arange(1, rows.stop - rows.start + 1) for rows in clusters])
    else:
        sorted_waves = wave_codes[order]
    gee_data = _GeeData(y=y[order], X=np.asarray(mf.X, dtype=float)[order], weights=w[order],
                        offset=o[order], waves=sorted_waves.astype(np.int64), clusters=clusters)
    structure.setup([gee_data.waves[rows] for rows in clusters])

    estimates = _estimate(gee_data, fam, structure, tol=epsilon, maxit=maxit)
    if not estimates.converged:
        warnings.warn(
            f"geeglm did not converge in {maxit} iterations (a parameter still moved by more than {epsilon})",
            ConvergenceWarning, stacklevel=2,
        )
    covariance = geepack_covariance(_cluster_pieces(gee_data, estimates.beta, fam),
                                    estimates.scale, estimates.alpha, structure)

    arguments = [("formula", _formula_text(formula))]
    if fam.name != "gaussian":
        arguments.append(("family", fam.name))
    arguments.append(("data", data_name or data.attrs.get("name", "data")))
    for name, value in (("weights", weights), ("offset", offset), ("id", id), ("waves", waves)):
        if value is not None:
            arguments.append((name, value))
    if corstr != "independence":
        arguments.append(("corstr", f'"{corstr}"'))
    return GeeFit(
        formula=formula, call=_deparse_call("geeglm", arguments), names=mf.fixed_names,
        family=fam, structure=structure, estimates=estimates, covariance=covariance,
        data=gee_data, order=order, row_index=mf.row_index,
    )
