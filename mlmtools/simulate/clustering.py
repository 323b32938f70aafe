r"""How much clustering costs: the ICC, the design effect and the effective sample size.

Notation used throughout (the course's Part I): :math:`\sigma^2_u` is the variance
between clusters, :math:`\sigma^2_e` the variance within clusters,
:math:`\rho` the intraclass correlation and :math:`m` the number of observations
per cluster.

All functions accept scalars or arrays (numpy broadcasting applies); scalars in give
a Python ``float`` out. Invalid input raises :class:`ValueError` naming the argument.

Examples
--------
The lecture's worked example, 10 schools of 30 students with :math:`\rho = 0.25`:

>>> design_effect(30, 0.25)
8.25
>>> effective_n(300, 30, 0.25)
36.36363636363637
>>> round(se_inflation(30, 0.25), 2)
2.87

Several ICCs at once:

>>> design_effect(30, [0.0, 0.05, 0.25])
array([1.  , 2.45, 8.25])
"""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike, NDArray

__all__ = ["icc", "icc_from_f", "design_effect", "effective_n", "se_inflation"]

FloatOrArray = float | NDArray[np.float64]


def _as_array(values: ArrayLike, name: str) -> NDArray[np.float64]:
    """Convert to a float array and refuse NaN or infinite entries."""
    try:
        array = np.asarray(values, dtype=np.float64)
    except (TypeError, ValueError) as error:
        raise TypeError(f"{name} must be numeric") from error
    if not np.all(np.isfinite(array)):
        raise ValueError(f"{name} must be finite, got {values!r}")
    return array


def _checked_icc(values: ArrayLike) -> NDArray[np.float64]:
    rho = _as_array(values, "icc")
    if np.any((rho < 0.0) | (rho > 1.0)):
        raise ValueError(f"icc must lie in [0, 1], got {values!r}")
    return rho


def _checked_cluster_size(values: ArrayLike) -> NDArray[np.float64]:
    size = _as_array(values, "cluster_size")
    if np.any(size < 1.0):
        raise ValueError(f"cluster_size must be at least 1, got {values!r}")
    return size


def _output(result: NDArray[np.float64]) -> FloatOrArray:
    """A Python float for a 0-d result, else the array."""
    return float(result) if result.ndim == 0 else result


def icc(between: ArrayLike, within: ArrayLike) -> FloatOrArray:
    r"""Intraclass correlation from the two variance components.

    .. math::

        \rho = \frac{\sigma^2_u}{\sigma^2_u + \sigma^2_e}

    Parameters
    ----------
    between : float or array_like
        Between-cluster variance :math:`\sigma^2_u` (not a standard deviation).
    within : float or array_like
        Within-cluster (residual) variance :math:`\sigma^2_e`.

    Returns
    -------
    float or numpy.ndarray
        The share of the total variance that lies between clusters.

    Raises
    ------
    ValueError
        For a negative or non-finite variance, or both variances zero.

    Examples
    --------
    >>> round(icc(25, 9), 3)
    0.735
    """
    sigma2_u, sigma2_e = _as_array(between, "between"), _as_array(within, "within")
    if np.any(sigma2_u < 0.0) or np.any(sigma2_e < 0.0):
        raise ValueError("variances must be non-negative (pass variances, not standard deviations)")
    total = sigma2_u + sigma2_e
    if np.any(total == 0.0):
        raise ValueError("the ICC is undefined when both variances are zero")
    return _output(sigma2_u / total)


def icc_from_f(f: ArrayLike, cluster_size: ArrayLike) -> FloatOrArray:
    r"""ICC recovered from the F ratio of a one-way ANOVA with equal cluster sizes.

    .. math::

        \rho = \frac{F - 1}{F - 1 + n}

    This is the ANOVA (method-of-moments) estimator
    :math:`\hat\sigma^2_u = (MS_B - MS_W)/n`, :math:`\hat\sigma^2_e = MS_W`
    written with :math:`F = MS_B / MS_W`; for balanced data it equals the REML
    ICC of the empty model whenever :math:`F \ge 1`. For :math:`F < 1` it is
    negative, as the ANOVA estimator is; it is returned unclipped.

    Parameters
    ----------
    f : float or array_like
        The F statistic, non-negative.
    cluster_size : float or array_like
        Observations per cluster :math:`n`, at least 1.

    Returns
    -------
    float or numpy.ndarray

    Raises
    ------
    ValueError
        For a negative or non-finite F, a cluster size below 1, or
        :math:`F - 1 + n = 0`.

    Examples
    --------
    >>> round(icc_from_f(33.9529411764706, 4), 3)
    0.892
    """
    f_ratio = _as_array(f, "f")
    if np.any(f_ratio < 0.0):
        raise ValueError(f"f must be non-negative, got {f!r}")
    size = _checked_cluster_size(cluster_size)
    denominator = f_ratio - 1.0 + size
    if np.any(denominator == 0.0):
        raise ValueError("icc_from_f is undefined when F - 1 + cluster_size is 0")
    return _output((f_ratio - 1.0) / denominator)


def design_effect(cluster_size: ArrayLike, icc: ArrayLike) -> FloatOrArray:
    r"""Design effect of cluster sampling: the variance inflation of a mean.

    .. math::

        \mathrm{DEFF} = 1 + (m - 1)\rho

    Parameters
    ----------
    cluster_size : float or array_like
        Observations per cluster :math:`m`, at least 1.
    icc : float or array_like
        Intraclass correlation :math:`\rho` in [0, 1].

    Returns
    -------
    float or numpy.ndarray

    Raises
    ------
    ValueError
        For a cluster size below 1, an ICC outside [0, 1], or non-finite input.

    Examples
    --------
    >>> design_effect(30, 0.25)
    8.25
    """
    size, rho = _checked_cluster_size(cluster_size), _checked_icc(icc)
    return _output(1.0 + (size - 1.0) * rho)


def effective_n(n: ArrayLike, cluster_size: ArrayLike, icc: ArrayLike) -> FloatOrArray:
    r"""Effective sample size: how many independent observations the data are worth.

    .. math::

        N_{\mathrm{eff}} = \frac{N}{1 + (m - 1)\rho}

    Parameters
    ----------
    n : float or array_like
        Total number of observations :math:`N`, non-negative.
    cluster_size : float or array_like
        Observations per cluster :math:`m`, at least 1.
    icc : float or array_like
        Intraclass correlation :math:`\rho` in [0, 1].

    Returns
    -------
    float or numpy.ndarray

    Raises
    ------
    ValueError
        For a negative ``n``, a cluster size below 1, an ICC outside [0, 1], or
        non-finite input.

    Examples
    --------
    >>> round(effective_n(300, 30, 0.25), 2)
    36.36
    """
    total = _as_array(n, "n")
    if np.any(total < 0.0):
        raise ValueError(f"n must be non-negative, got {n!r}")
    deff = np.asarray(design_effect(cluster_size, icc))
    return _output(total / deff)


def se_inflation(cluster_size: ArrayLike, icc: ArrayLike) -> FloatOrArray:
    r"""Factor by which clustering inflates the standard error of a mean.

    .. math::

        \frac{SE_{\mathrm{clustered}}}{SE_{\mathrm{iid}}} = \sqrt{\mathrm{DEFF}}
        = \sqrt{1 + (m - 1)\rho}

    Parameters
    ----------
    cluster_size : float or array_like
        Observations per cluster :math:`m`, at least 1.
    icc : float or array_like
        Intraclass correlation :math:`\rho` in [0, 1].

    Returns
    -------
    float or numpy.ndarray

    Raises
    ------
    ValueError
        For a cluster size below 1, an ICC outside [0, 1], or non-finite input.

    Examples
    --------
    >>> round(se_inflation(30, 0.25), 2)
    2.87
    """
    return _output(np.sqrt(np.asarray(design_effect(cluster_size, icc))))
