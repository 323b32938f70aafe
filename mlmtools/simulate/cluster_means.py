r"""Balanced clustered designs reduced to cluster means and sums of squares, and OLS on them.

For :math:`J` clusters of :math:`m` observations, predictors constant within clusters
(:math:`X_c` the :math:`J \times p` cluster-level design, intercept first) and cluster means
:math:`\bar y_j`, every fit of :mod:`mlmtools.simulate.balanced` needs the least-squares fit of
the cluster means and two sums of squares,

.. math::

    \hat\beta = (X_c^\top X_c)^{-1} X_c^\top \bar y, \qquad
    \mathrm{SSB} = m\, r^\top r \ (r = \bar y - X_c\hat\beta), \qquad
    \mathrm{SSW} = \sum_j \sum_i (y_{ij} - \bar y_j)^2,

computed here for many data sets at once (:func:`decompose`), together with ordinary least
squares on the observations (:func:`fit_balanced_ols`), which they determine.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from numpy.typing import ArrayLike, NDArray
from scipy import stats

from mlmtools.simulate.trials import is_count

FloatArray = NDArray[np.float64]


@dataclass(frozen=True)
class BalancedOLS:
    """Ordinary least squares on the observations, one row per data set.

    Attributes
    ----------
    names : tuple of str
        Coefficient names, ``"(Intercept)"`` first.
    coef, std_error, t_value, p_value : numpy.ndarray
        Shape ``(n_sets, p)``; ``p_value`` is two-sided with ``n - p`` degrees of freedom.
    df : int
        Residual degrees of freedom :math:`n - p = Jm - p`.
    """

    names: tuple[str, ...]
    coef: FloatArray
    std_error: FloatArray
    t_value: FloatArray
    p_value: FloatArray
    df: int



def cluster_design_matrix(x_cluster: ArrayLike | int) -> tuple[FloatArray, tuple[str, ...]]:
    """The cluster-level design matrix (intercept prepended) and its column names.

    An ``int`` is a number of clusters and gives the intercept-only design.
    """
    if is_count(x_cluster):
        if x_cluster < 2:
            raise ValueError(f"need at least 2 clusters, got {x_cluster}")
        return np.ones((int(x_cluster), 1)), ("(Intercept)",)
    if isinstance(x_cluster, pd.Series):
        names = [str(x_cluster.name) if x_cluster.name is not None else "x1"]
    elif isinstance(x_cluster, pd.DataFrame):
        names = [str(column) for column in x_cluster.columns]
    else:
        names = None
    values = np.asarray(x_cluster, dtype=np.float64)
    if values.ndim == 1:
        values = values[:, None]
    if values.ndim != 2:
        raise ValueError(f"x_cluster must be 1-D or 2-D (clusters x predictors), got {values.ndim} dimensions")
    if not np.all(np.isfinite(values)):
        raise ValueError("x_cluster must be finite")
    if names is None:
        names = [f"x{k + 1}" for k in range(values.shape[1])]
    design = np.column_stack([np.ones(values.shape[0]), values])
    n_clusters, n_coef = design.shape
    if n_clusters <= n_coef:
        raise ValueError(f"need more clusters than coefficients, got {n_clusters} clusters and {n_coef} coefficients")
    if np.linalg.matrix_rank(design) < n_coef:
        raise ValueError("the cluster-level design (intercept and x_cluster) is rank deficient")
    return design, ("(Intercept)", *names)


def as_trials(y: ArrayLike, cluster_size: int, n_clusters: int, least_size: int = 1) -> FloatArray:
    """Data sets as an array of shape (n_sets, n_clusters, cluster_size)."""
    if not is_count(cluster_size) or cluster_size < least_size:
        raise ValueError(f"cluster_size must be an integer of at least {least_size}, got {cluster_size!r}")
    values = np.asarray(y, dtype=np.float64)
    if values.ndim == 3:
        if values.shape[1:] != (n_clusters, cluster_size):
            raise ValueError(
                f"y has clusters of shape {values.shape[1:]}, expected ({n_clusters}, {cluster_size})"
            )
        trials = values
    else:
        if values.ndim == 1:
            values = values[None, :]
        if values.ndim != 2 or values.shape[1] != n_clusters * cluster_size:
            raise ValueError(
                f"y must hold n_clusters * cluster_size = {n_clusters * cluster_size} observations per data set, "
                f"got shape {np.shape(y)}"
            )
        trials = values.reshape(values.shape[0], n_clusters, cluster_size)
    if not np.all(np.isfinite(trials)):
        raise ValueError("y must be finite (no missing values in a balanced design)")
    return trials


@dataclass(frozen=True)
class Decomposition:
    """The sums of squares shared by the OLS and the REML fits, one entry per data set."""

    coef: FloatArray  # (n_sets, p): least squares on the cluster means
    between_ss: FloatArray  # m * sum of squared cluster-mean residuals
    within_ss: FloatArray
    unscaled: FloatArray  # (X_c' X_c)^{-1}


def decompose(trials: FloatArray, design: FloatArray) -> Decomposition:
    """Least squares on the cluster means, SSB and SSW of data sets of shape (n_sets, J, m)."""
    cluster_size = trials.shape[2]
    means = trials.mean(axis=2)
    unscaled = np.linalg.inv(design.T @ design).astype(np.float64, copy=False)
    coef = means @ design @ unscaled
    mean_residuals = means - coef @ design.T
    between_ss = cluster_size * np.einsum("sj,sj->s", mean_residuals, mean_residuals)
    deviations = trials - means[:, :, None]
    within_ss = np.einsum("sjm,sjm->s", deviations, deviations)
    return Decomposition(coef, between_ss, within_ss, unscaled)


def fit_balanced_ols(y: ArrayLike, cluster_size: int, x_cluster: ArrayLike) -> BalancedOLS:
    r"""Ordinary least squares ``y ~ x`` on every data set, ignoring the clusters.

    Because :math:`x` is constant within clusters, :math:`X^\top X = m X_c^\top X_c`
    and the OLS estimate equals least squares on the cluster means. With
    :math:`n = Jm` and :math:`\mathrm{RSS} = \mathrm{SSW} + m\, r^\top r`,

    .. math::

        \hat\sigma^2 = \frac{\mathrm{RSS}}{n - p}, \qquad
        \widehat{\mathrm{Var}}(\hat\beta) = \frac{\hat\sigma^2}{m} (X_c^\top X_c)^{-1},
        \qquad t = \hat\beta / \widehat{SE} \sim t_{n - p}.

    Parameters
    ----------
    y : array_like
        Shape ``(n_sets, J * m)``, ``(n_sets, J, m)`` or ``(J * m,)``; observations
        ordered cluster by cluster.
    cluster_size : int
        Observations per cluster :math:`m`.
    x_cluster : array_like, pandas.Series, pandas.DataFrame or int
        Shape ``(J,)`` or ``(J, k)``: the predictors, one value per cluster; an
        intercept is added. Column names (from pandas) name the coefficients.
        An ``int`` :math:`J` fits the intercept only.

    Returns
    -------
    BalancedOLS
    """
    design, names = cluster_design_matrix(x_cluster)
    trials = as_trials(y, cluster_size, design.shape[0])
    parts = decompose(trials, design)
    n_obs = trials.shape[1] * trials.shape[2]
    df = n_obs - design.shape[1]
    scale = (parts.within_ss + parts.between_ss) / df
    std_error = np.sqrt(scale[:, None] * np.diag(parts.unscaled)[None, :] / cluster_size)
    t_value = parts.coef / std_error
    return BalancedOLS(names, parts.coef, std_error, t_value, 2.0 * stats.t.sf(np.abs(t_value), df), df)
