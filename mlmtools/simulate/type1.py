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
(:func:`~mlmtools.simulate.trials.simulate_cluster_trial`), the OLS test
(:func:`ols_treatment_pvalue`) and the mixed-model tests (:func:`mixed_treatment_pvalues`).
:func:`simulate_type1` either loops over replicates (the general engine: the mixed model is
built once and refitted to each replicate's response,
:meth:`~mlmtools.lmm.model.LinearMixedModel.refit`), or hands the whole study to the
vectorized closed forms of :mod:`mlmtools.simulate.balanced` (the fast path), which draw the
same data and give the same p-values.
"""

from __future__ import annotations

import math
from typing import NamedTuple

import numpy as np
import pandas as pd
from scipy import stats

from mlmtools.lmm import LinearMixedModel, LmerResult
from mlmtools.simulate.balanced import balanced_type1_pvalues
from mlmtools.simulate.seeding import SeedLike, as_generator
from mlmtools.simulate.trials import (
    MIN_CLUSTER_SIZE,
    MIN_CLUSTERS,
    check_cluster_design,
    check_replicates,
    simulate_cluster_trial,
)

__all__ = [
    "MixedPValues",
    "mixed_treatment_pvalues",
    "ols_treatment_pvalue",
    "simulate_type1",
]

_MIXED_FORMULA = "y ~ treatment + (1 | school)"


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
        Columns ``y`` and ``treatment`` (0/1), as from :func:`~mlmtools.simulate.trials.simulate_cluster_trial`.

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


def _treatment_pvalues(fit: LmerResult) -> MixedPValues:
    """The Satterthwaite and z p-values of the treatment in a fit of the random-intercept model."""
    satterthwaite = fit.coef_table(ddf="satterthwaite")
    wald = fit.coef_table(ddf="none")
    return MixedPValues(
        satterthwaite=float(satterthwaite.loc["treatment"].to_numpy(dtype=float)[-1]),
        z=float(wald.loc["treatment"].to_numpy(dtype=float)[-1]),
    )


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
    return _treatment_pvalues(LinearMixedModel(_MIXED_FORMULA, data).fit(REML=True))


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
    :func:`~mlmtools.simulate.trials.simulate_cluster_trial` from one continuing random stream
    and tests the (zero) treatment effect three ways. The type I error rate of a test at level
    :math:`\\alpha` is the share of replicates with :math:`p < \\alpha`.

    Parameters
    ----------
    n_sims : int
        Number of replicates.
    n_clusters, cluster_size, sigma_u, sigma_e
        The design, as in :func:`~mlmtools.simulate.trials.simulate_cluster_trial` (defaults: the lecture's
        10 schools of 30 students at an ICC of 0.25).
    seed : int, ~mlmtools.simulate.rng.RRandom, numpy Generator or None
        Source of the draws; an ``int`` gives R's ``set.seed(seed)`` stream.
    method : {"auto", "fast", "general"}
        ``"general"`` fits the mixed model of the first replicate with
        :class:`~mlmtools.lmm.model.LinearMixedModel` and refits it to every other replicate's
        response; ``"fast"`` uses :func:`mlmtools.simulate.balanced.balanced_type1_pvalues`,
        vectorized closed forms that fall back to the general engine for boundary (singular)
        fits, and needs at least 4 clusters of at least 2 observations; ``"auto"`` takes the
        fast path whenever the design allows it.

    Returns
    -------
    pandas.DataFrame
        One row per replicate (in the order drawn) with columns ``p_ols`` (OLS t-test), ``p_mixed``
        (mixed model, Satterthwaite t-test) and ``p_mixed_z`` (mixed model, z-test).

    Examples
    --------
    The lecture's study: the share of the 1000 replicates that reject at the 5% level.

    >>> from mlmtools.rstyle import print_named_vector
    >>> p_values = simulate_type1(n_sims=1000, seed=2026)
    >>> print(print_named_vector((p_values < 0.05).mean()))
        p_ols   p_mixed p_mixed_z
        0.500     0.045     0.085
    """
    n_sims = check_replicates(n_sims)
    check_cluster_design(n_clusters, cluster_size, sigma_u, sigma_e)
    if method not in ("auto", "fast", "general"):
        raise ValueError(f"method must be 'auto', 'fast' or 'general', got {method!r}")
    fast_possible = n_clusters >= MIN_CLUSTERS and cluster_size >= MIN_CLUSTER_SIZE
    if method == "fast" and not fast_possible:
        raise ValueError(f"the fast path needs at least {MIN_CLUSTERS} clusters of at least "
                         f"{MIN_CLUSTER_SIZE} observations; got {n_clusters} clusters of {cluster_size}: "
                         "use method='general'")
    if method == "fast" or (method == "auto" and fast_possible):
        return balanced_type1_pvalues(n_sims, n_clusters, cluster_size, sigma_u, sigma_e, seed=seed)
    rng = as_generator(seed)
    rows = []
    model = None
    for _ in range(n_sims):
        data = simulate_cluster_trial(n_clusters, cluster_size, sigma_u, sigma_e, seed=rng)
        if model is None:
            model = LinearMixedModel(_MIXED_FORMULA, data)
            fit = model.fit(REML=True)
        else:
            fit = model.refit(data["y"].to_numpy(), REML=True)
        mixed = _treatment_pvalues(fit)
        rows.append((ols_treatment_pvalue(data), mixed.satterthwaite, mixed.z))
    return pd.DataFrame(rows, columns=["p_ols", "p_mixed", "p_mixed_z"])
