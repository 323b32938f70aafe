"""Simulation study of the type I error of a cluster-randomized comparison.

Part II of the course (:ref:`clustered-data`) asks how often a test of a
treatment with no effect rejects at the 5% level when whole clusters are
randomized. Each replicate draws a data set from

.. math::

    y_{ij} = 50 + u_j + e_{ij}, \\qquad u_j \\sim N(0, \\sigma_u^2), \\quad
    e_{ij} \\sim N(0, \\sigma_e^2),

for clusters :math:`j = 1, \\dots, J` of :math:`m` observations each, with the
first half of the clusters as controls (``treatment = 0``) and the second half
treated (``treatment = 1``). The treatment effect is zero, so every rejection is
a false positive. The replicate is analysed twice: by ordinary least squares,
which ignores the clusters, and by the mixed model
``y ~ treatment + (1 | school)``.

The draws follow R's order in the lecture: per replicate, the :math:`J` cluster
effects and then the :math:`Jm` residuals, from one continuing stream. With an
``int`` seed the stream is R's ``set.seed(seed)``, so the p-values equal R's.

The work is split into three steps, each a function: drawing a data set
(:func:`simulate_cluster_trial`), the OLS test (:func:`ols_treatment_pvalue`) and
the mixed-model tests (:func:`mixed_treatment_pvalues`). :func:`simulate_type1`
either loops over replicates and calls them (the general engine), or hands the whole
study to the vectorized closed forms of :mod:`mlmtools.balanced` (the fast path), which
draw the same data and give the same p-values.
"""

from __future__ import annotations

import math
import numbers
from typing import NamedTuple

import numpy as np
import pandas as pd
from numpy.typing import NDArray
from scipy import stats

from mlmtools._seeding import RandomSource, SeedLike, as_generator

__all__ = [
    "MixedPValues",
    "check_cluster_design",
    "draw_cluster_components",
    "simulate_cluster_trial",
    "ols_treatment_pvalue",
    "mixed_treatment_pvalues",
    "simulate_type1",
]

_MIXED_FORMULA = "y ~ treatment + (1 | school)"

FloatArray = NDArray[np.float64]


class MixedPValues(NamedTuple):
    """p-values of the treatment effect from one REML fit of the random-intercept model.

    Attributes
    ----------
    satterthwaite : float
        t-test with Satterthwaite's degrees of freedom (lmerTest's default).
    z : float
        Wald z-test, the normal reference distribution (what statsmodels' MixedLM reports).
    """

    satterthwaite: float
    z: float


def _is_count(value: object) -> bool:
    return isinstance(value, numbers.Integral) and not isinstance(value, bool)


def check_cluster_design(n_clusters: int, cluster_size: int, sigma_u: float | None = None,
                         sigma_e: float | None = None, *, min_clusters: int = 2,
                         min_cluster_size: int = 1) -> None:
    """Raise a ValueError naming the first setting a two-arm cluster-randomized design cannot have.

    The design has :math:`J` clusters of :math:`m` observations, the first :math:`J/2`
    clusters controls and the rest treated, and optionally the standard deviations of
    the cluster effects and residuals. The minimums are those of the analysis that will
    run: drawing a data set needs :math:`J \\ge 2` and :math:`m \\ge 1`; the closed forms of
    :mod:`mlmtools.balanced` need more (:data:`mlmtools.balanced.MIN_CLUSTERS`,
    :data:`mlmtools.balanced.MIN_CLUSTER_SIZE`).

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
    if not _is_count(n_clusters) or n_clusters < min_clusters or n_clusters % 2:
        raise ValueError(f"n_clusters must be an even number of at least {min_clusters} "
                         f"(half control, half treated), got {n_clusters!r}")
    if not _is_count(cluster_size) or cluster_size < min_cluster_size:
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
    seed : int, RRandom, numpy Generator or None
        Source of the draws (see :func:`mlmtools._seeding.as_generator`); pass an
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


def ols_treatment_pvalue(data: pd.DataFrame) -> float:
    """Two-sided p-value of the treatment slope in the OLS fit ``y ~ treatment``.

    With a 0/1 treatment the slope is the difference of the group means and

    .. math::

        t = \\frac{\\bar y_1 - \\bar y_0}{\\sqrt{s^2 (1/n_0 + 1/n_1)}}, \\qquad
        s^2 = \\frac{\\sum_i (y_i - \\bar y_{g(i)})^2}{n - 2},

    referred to a :math:`t_{n-2}` distribution (R's ``summary(lm(...))``).

    Parameters
    ----------
    data : pandas.DataFrame
        Columns ``y`` and ``treatment`` (0/1), as from :func:`simulate_cluster_trial`.

    Returns
    -------
    float
        :math:`2\\,P(T_{n-2} > |t|)`.
    """
    y = data["y"].to_numpy(dtype=float)
    treated = data["treatment"].to_numpy() == 1
    n_treated, n_total = int(treated.sum()), y.size
    if n_treated == 0 or n_treated == n_total or n_total < 3:
        raise ValueError("the OLS test needs both treatment groups and at least 3 observations")
    mean_control, mean_treated = y[~treated].mean(), y[treated].mean()
    residual = y - np.where(treated, mean_treated, mean_control)
    df = n_total - 2
    scale = float(residual @ residual) / df
    se = math.sqrt(scale * (1.0 / (n_total - n_treated) + 1.0 / n_treated))
    t_value = (mean_treated - mean_control) / se
    return float(2.0 * stats.t.sf(abs(t_value), df))


def mixed_treatment_pvalues(data: pd.DataFrame) -> MixedPValues:
    """p-values of the treatment effect in the REML fit of ``y ~ treatment + (1 | school)``.

    Both tests use :math:`t = \\hat\\beta_1 / \\widehat{SE}(\\hat\\beta_1)` from the same
    fit; the Satterthwaite test refers :math:`t` to :math:`t_{\\nu}` with Satterthwaite's
    :math:`\\nu`, the z-test to :math:`N(0, 1)`.

    Parameters
    ----------
    data : pandas.DataFrame
        Columns ``y``, ``treatment`` and ``school``.

    Returns
    -------
    MixedPValues
        The Satterthwaite and z p-values.
    """
    from mlmtools.lmer import lmer

    fit = lmer(_MIXED_FORMULA, data, REML=True)
    satterthwaite = fit.coef_table(ddf="satterthwaite")
    wald = fit.coef_table(ddf="none")
    return MixedPValues(
        satterthwaite=float(satterthwaite.loc["treatment"].iloc[-1]),
        z=float(wald.loc["treatment"].iloc[-1]),
    )


def simulate_type1(
    n_sims: int = 1000,
    n_clusters: int = 10,
    cluster_size: int = 30,
    sigma_u: float = 0.5,
    sigma_e: float = math.sqrt(0.75),
    seed: SeedLike = 2026,
    method: str = "auto",
) -> pd.DataFrame:
    """Simulate the null distribution of the OLS and mixed-model treatment tests.

    Each of the ``n_sims`` replicates draws a data set with
    :func:`simulate_cluster_trial` from one continuing random stream and tests the
    (zero) treatment effect three ways. The type I error rate of a test at level
    :math:`\\alpha` is the share of replicates with :math:`p < \\alpha`.

    Parameters
    ----------
    n_sims : int
        Number of replicates.
    n_clusters, cluster_size, sigma_u, sigma_e
        The design, as in :func:`simulate_cluster_trial` (defaults: the lecture's
        10 schools of 30 students at an ICC of 0.25).
    seed : int, RRandom, numpy Generator or None
        Source of the draws; an ``int`` gives R's ``set.seed(seed)`` stream.
    method : {"auto", "fast", "general"}
        ``"general"`` fits every replicate with :func:`mlmtools.lmer.lmer`; ``"fast"`` uses
        :func:`mlmtools.balanced.balanced_type1_pvalues`, vectorized closed forms that fall back to
        the general engine for boundary (singular) fits, and needs at least 4 clusters of at least
        2 observations; ``"auto"`` takes the fast path whenever the design allows it.

    Returns
    -------
    pandas.DataFrame
        One row per replicate (in the order drawn) with columns ``p_ols`` (OLS t-test), ``p_mixed``
        (mixed model, Satterthwaite t-test) and ``p_mixed_z`` (mixed model, z-test).

    Examples
    --------
    The lecture's study: the share of the 1000 replicates that reject at the 5% level.

    >>> from mlmtools.rformat import print_named_vector
    >>> p_values = simulate_type1(n_sims=1000, seed=2026)
    >>> print(print_named_vector((p_values < 0.05).mean()))
        p_ols   p_mixed p_mixed_z
        0.500     0.045     0.085
    """
    if isinstance(n_sims, bool) or not isinstance(n_sims, (int, np.integer)):
        raise TypeError(f"n_sims must be an integer, got {type(n_sims).__name__}")
    if n_sims < 1:
        raise ValueError(f"n_sims must be at least 1, got {n_sims}")
    check_cluster_design(n_clusters, cluster_size, sigma_u, sigma_e)
    if method not in ("auto", "fast", "general"):
        raise ValueError(f"method must be 'auto', 'fast' or 'general', got {method!r}")
    from mlmtools.balanced import MIN_CLUSTER_SIZE, MIN_CLUSTERS, balanced_type1_pvalues

    fast_possible = n_clusters >= MIN_CLUSTERS and cluster_size >= MIN_CLUSTER_SIZE
    if method == "fast" and not fast_possible:
        raise ValueError(f"the fast path needs at least {MIN_CLUSTERS} clusters of at least "
                         f"{MIN_CLUSTER_SIZE} observations; got {n_clusters} clusters of {cluster_size}: "
                         "use method='general'")
    if method == "fast" or (method == "auto" and fast_possible):
        return balanced_type1_pvalues(int(n_sims), n_clusters, cluster_size, sigma_u, sigma_e, seed=seed)
    rng = as_generator(seed)
    rows = []
    for _ in range(int(n_sims)):
        data = simulate_cluster_trial(n_clusters, cluster_size, sigma_u, sigma_e, seed=rng)
        mixed = mixed_treatment_pvalues(data)
        rows.append((ols_treatment_pvalue(data), mixed.satterthwaite, mixed.z))
    return pd.DataFrame(rows, columns=["p_ols", "p_mixed", "p_mixed_z"])
