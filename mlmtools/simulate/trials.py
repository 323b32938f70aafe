"""The simulation core: one design validator, one drawing routine, the trials they make.

Every simulation of the package (the type I study of :mod:`mlmtools.simulate.type1`, the
balanced fast path of :mod:`mlmtools.simulate.balanced`, the power of
:mod:`mlmtools.simulate.power`) draws two-arm cluster-randomized trials the same way:

* :func:`check_cluster_design` and :func:`check_replicates` refuse impossible settings,
  each with one message;
* :func:`draw_cluster_components` draws the cluster effects and residuals of any number of
  data sets from any random source (R's stream or numpy's; see
  :mod:`mlmtools.simulate.seeding` for where sources come from), in R's order;
* :func:`simulate_cluster_trial` (one data frame) and :func:`draw_balanced_trials` (an array
  of data sets) turn them into trials.
"""

from __future__ import annotations

import math
import numbers
from typing import TypeGuard

import numpy as np
import pandas as pd
from numpy.typing import NDArray

from mlmtools.simulate.seeding import RandomSource, SeedLike, as_generator

__all__ = [
    "MIN_CLUSTERS",
    "MIN_CLUSTER_SIZE",
    "check_cluster_design",
    "check_replicates",
    "draw_balanced_trials",
    "draw_cluster_components",
    "simulate_cluster_trial",
]

FloatArray = NDArray[np.float64]

MIN_CLUSTER_SIZE = 2
"""The smallest cluster of the closed-form analysis (the within-cluster mean square has :math:`J(m-1)` df)."""
MIN_CLUSTERS = 4
"""The smallest even number of clusters of the closed-form analysis (the treatment test has :math:`J - 2` df)."""


def is_count(value: object) -> TypeGuard[int]:
    """Whether ``value`` is an integer (a Python or numpy integer, not a bool)."""
    return isinstance(value, numbers.Integral) and not isinstance(value, bool)


def check_replicates(n_sims: int) -> int:
    """``n_sims`` as an int, or an error: TypeError for a non-integer, ValueError below 1."""
    if not is_count(n_sims):
        raise TypeError(f"n_sims must be an integer, got {type(n_sims).__name__}")
    if n_sims < 1:
        raise ValueError(f"n_sims must be at least 1, got {n_sims}")
    return int(n_sims)


def check_cluster_design(n_clusters: int, cluster_size: int, sigma_u: float | None = None,
                         sigma_e: float | None = None, *, min_clusters: int = 2,
                         min_cluster_size: int = 1) -> None:
    """Raise a ValueError naming the first setting a two-arm cluster-randomized design cannot have.

    The design has :math:`J` clusters of :math:`m` observations, the first :math:`J/2`
    clusters controls and the rest treated, and optionally the standard deviations of
    the cluster effects and residuals. The minimums are those of the analysis that will
    run: drawing a data set needs :math:`J \\ge 2` and :math:`m \\ge 1`; the closed forms of
    :mod:`mlmtools.simulate.balanced` need more (:data:`MIN_CLUSTERS`, :data:`MIN_CLUSTER_SIZE`).

    Parameters
    ----------
    n_clusters, cluster_size : int
        :math:`J` (even, at least ``min_clusters``) and :math:`m` (at least ``min_cluster_size``).
    sigma_u, sigma_e : float, optional
        If given, they must be finite with :math:`\\sigma_u \\ge 0` and :math:`\\sigma_e > 0`.
    min_clusters, min_cluster_size : int
        The smallest :math:`J` and :math:`m` the caller can analyse.

    Raises
    ------
    ValueError
        For a non-integer, odd or too small ``n_clusters``, a non-integer or too small
        ``cluster_size``, or impossible standard deviations.
    """
    if not is_count(n_clusters) or n_clusters < min_clusters or n_clusters % 2:
        raise ValueError(f"n_clusters must be an even number of at least {min_clusters} "
                         f"(half control, half treated), got {n_clusters!r}")
    if not is_count(cluster_size) or cluster_size < min_cluster_size:
        raise ValueError(f"cluster_size must be an integer of at least {min_cluster_size}, got {cluster_size!r}")
    if sigma_u is None or sigma_e is None:
        return
    if not (math.isfinite(sigma_u) and math.isfinite(sigma_e) and sigma_u >= 0 and sigma_e > 0):
        raise ValueError(f"need finite sigma_u >= 0 and sigma_e > 0, got {sigma_u} and {sigma_e}")


def draw_cluster_components(n_sets: int, n_clusters: int, cluster_size: int, sigma_u: float,
                            sigma_e: float, rng: RandomSource) -> tuple[FloatArray, FloatArray]:
    """Cluster effects and residuals of ``n_sets`` balanced data sets, in R's order of draws.

    .. math:: u_j \\sim N(0, \\sigma_u^2), \\qquad e_{ij} \\sim N(0, \\sigma_e^2)

    All normals come from one call, in the order of a loop over data sets that draws the
    :math:`J` cluster effects and then the :math:`Jm` residuals (R's ``rnorm(J, 0, sigma_u)``
    then ``rnorm(J * m, 0, sigma_e)``), so with R's stream the draws are those of that R loop,
    bit for bit.

    Returns
    -------
    tuple of numpy.ndarray
        Cluster effects of shape ``(n_sets, n_clusters)`` and residuals of shape
        ``(n_sets, n_clusters, cluster_size)``.
    """
    per_set = n_clusters + n_clusters * cluster_size
    if sigma_u > 0:
        # mean + sd * z with mean 0 is sd * z, bit for bit, so scaling standard normals afterwards
        # gives what rnorm with recycled standard deviations gives (and is much faster).
        draws = rng.rnorm(n_sets * per_set, 0.0, 1.0).reshape(n_sets, per_set)
        cluster_effects = float(sigma_u) * draws[:, :n_clusters]
        residuals = float(sigma_e) * draws[:, n_clusters:]
    else:
        # sd = 0 draws are exact zeros that consume no random numbers in R, so recycle as rnorm does.
        spread = np.concatenate([np.zeros(n_clusters), np.full(n_clusters * cluster_size, float(sigma_e))])
        draws = rng.rnorm(n_sets * per_set, 0.0, np.tile(spread, n_sets)).reshape(n_sets, per_set)
        cluster_effects, residuals = draws[:, :n_clusters], draws[:, n_clusters:]
    return cluster_effects, residuals.reshape(n_sets, n_clusters, cluster_size)


def simulate_cluster_trial(
    n_clusters: int = 10,
    cluster_size: int = 30,
    sigma_u: float = 0.5,
    sigma_e: float = math.sqrt(0.75),
    seed: SeedLike = 2026,
    intercept: float = 50.0,
) -> pd.DataFrame:
    """Draw one cluster-randomized data set with no treatment effect.

    .. math::

        y_{ij} = \\beta_0 + u_j + e_{ij}, \\qquad u_j \\sim N(0, \\sigma_u^2), \\quad
        e_{ij} \\sim N(0, \\sigma_e^2)

    The :math:`J` cluster effects are drawn first, then the :math:`Jm` residuals
    (cluster by cluster), as ``rnorm(J, 0, sigma_u)`` then ``rnorm(J * m, 0, sigma_e)``
    in R.

    Parameters
    ----------
    n_clusters : int
        Number of clusters :math:`J` (even: the first half are controls).
    cluster_size : int
        Observations per cluster :math:`m`.
    sigma_u, sigma_e : float
        Standard deviations of the cluster effects and of the residuals.
    seed : int, ~mlmtools.simulate.rng.RRandom, numpy Generator or None
        Source of the draws (see :func:`mlmtools.simulate.seeding.as_generator`); pass an
        ``RRandom`` to continue its stream.
    intercept : float
        The common mean :math:`\\beta_0`.

    Returns
    -------
    pandas.DataFrame
        Columns ``school`` (1..J), ``treatment`` (0 or 1), ``school_effect`` and ``y``;
        one row per observation, clusters in order.
    """
    check_cluster_design(n_clusters, cluster_size, sigma_u, sigma_e)
    cluster_effects, residuals = draw_cluster_components(1, n_clusters, cluster_size, sigma_u, sigma_e,
                                                         as_generator(seed))
    school_effect = np.repeat(cluster_effects[0], cluster_size)
    residual = residuals[0].reshape(-1)
    treated_clusters = n_clusters // 2
    return pd.DataFrame(
        {
            "school": np.repeat(np.arange(1, n_clusters + 1), cluster_size),
            "treatment": np.repeat([0, 1], treated_clusters * cluster_size),
            "school_effect": school_effect,
            "y": intercept + school_effect + residual,
        }
    )


def draw_balanced_trials(n_sets: int, n_clusters: int, cluster_size: int, sigma_u: float, sigma_e: float,
                         seed: SeedLike = None, intercept: float = 0.0) -> FloatArray:
    r"""Draw ``n_sets`` balanced data sets with no fixed effects but an intercept.

    .. math::

        y_{ij} = \beta_0 + u_j + e_{ij}, \qquad u_j \sim N(0, \sigma^2_u), \quad
        e_{ij} \sim N(0, \sigma^2_e).

    All normals come from one call, in the order of a loop over data sets that draws
    the :math:`J` cluster effects and then the :math:`Jm` residuals (R's
    ``rnorm(J, 0, sigma_u)`` then ``rnorm(J * m, 0, sigma_e)``), so with an ``int`` seed
    or an ``RRandom`` the data sets are those of that R loop, bit for bit.

    Parameters
    ----------
    n_sets, n_clusters, cluster_size : int
        Number of data sets, clusters :math:`J` and observations per cluster :math:`m`.
    sigma_u, sigma_e : float
        Standard deviations of the cluster effects and of the residuals.
    seed : int, ~mlmtools.simulate.rng.RRandom, numpy Generator or None
        Source of the draws (see :func:`mlmtools.simulate.seeding.as_generator`).
    intercept : float
        :math:`\beta_0`.

    Returns
    -------
    numpy.ndarray
        Shape ``(n_sets, n_clusters, cluster_size)``.
    """
    cluster_effects, residuals = draw_cluster_components(n_sets, n_clusters, cluster_size, sigma_u, sigma_e,
                                                         as_generator(seed))
    return (intercept + cluster_effects)[:, :, None] + residuals
