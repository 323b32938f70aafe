"""The working correlation of a GEE fit by lag, with the residual correlation it summarises.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
from matplotlib.axes import Axes

from mlmtools.gee.correlation import pair_indices
from mlmtools.plotting.course_style import OKABE_ITO
from mlmtools.plotting.layout import one_panel


def correlation_by_lag(fit: Any) -> pd.DataFrame:
    """For every pair of rows of a cluster: its lag (the difference of their waves), the
    working correlation :math:`\\rho_{jk}(\\hat\\alpha)` and the product of their Pearson
    residuals over the scale, :math:`r_j r_k/\\hat\\phi` (whose mean per lag is the observed
    correlation at that lag).

    Returns
    -------
    pandas.DataFrame
        Columns ``lag``, ``working``, ``residual_product``; one row per pair.
    """
    state = fit.state
    pearson = fit.residuals(type="pearson").to_numpy(dtype=float)
    in_cluster_order = np.empty_like(pearson)
    in_cluster_order[state.caller_rows] = pearson
    parts = []
    for rows in state.data.clusters:
        waves = state.data.waves[rows]
        if waves.size < 2:
            continue
        first, second = pair_indices(waves.size)
        residuals = in_cluster_order[rows]
        parts.append(pd.DataFrame({
            "lag": np.abs(waves[second] - waves[first]),
            "working": state.structure.pair_correlations(state.estimates.alpha, waves),
            "residual_product": residuals[first] * residuals[second] / fit.scale,
        }))
    return pd.concat(parts, ignore_index=True)


def working_correlation_plot(fit: Any, observed: bool = True, ax: Axes | None = None) -> Axes:
    """The working correlation against the lag between two measurements of a cluster, and (with
    ``observed``) the mean product of Pearson residuals over the scale at each lag, which is the
    correlation the data show (:func:`correlation_by_lag`).

    Exchangeable gives a flat line at :math:`\\hat\\alpha`, AR(1) the curve
    :math:`\\hat\\alpha^{\\text{lag}}`, unstructured one point per pair of waves, independence 0.

    Parameters
    ----------
    fit : ~mlmtools.gee.result.GeeFit
    observed : bool
        Also draw the observed residual correlation by lag.
    ax : matplotlib.axes.Axes, optional

    Returns
    -------
    matplotlib.axes.Axes
        Its first line is the working correlation (the mean over the pairs at each lag), then
        (with ``observed``) the observed one; a structure with several values per lag
        (unstructured) adds them as its first collection.

    Examples
    --------
    >>> from mlmtools.datasets import sleepstudy
    >>> from mlmtools.gee import geeglm
    >>> fit = geeglm("Reaction ~ Days", sleepstudy(), id="Subject", corstr="ar1")
    >>> line = working_correlation_plot(fit).lines[0]
    >>> bool(abs(line.get_ydata()[1] - fit.alpha[0] ** 2) < 1e-12)
    True
    """
    pairs = correlation_by_lag(fit)
    by_lag = pairs.groupby("lag")
    working = by_lag["working"].mean()
    ax = one_panel(ax, f"Working correlation ({fit.corstr}) by lag", "Lag between the two measurements",
                   "Correlation")
    ax.plot(working.index, working.to_numpy(), "-o", color=OKABE_ITO["blue"], label=f"{fit.corstr} working correlation")
    if observed:
        mean_product = by_lag["residual_product"].mean()
        ax.plot(mean_product.index, mean_product.to_numpy(), "o", color=OKABE_ITO["black"],
                label="observed (mean residual product)")
    if (by_lag["working"].max() - by_lag["working"].min()).max() > 1e-12:
        ax.scatter(pairs["lag"], pairs["working"], s=12, color=OKABE_ITO["sky blue"], label="each pair of waves")
    ax.axhline(0.0, color=OKABE_ITO["black"], linewidth=0.8, linestyle=":")
    ax.legend(loc="best", fontsize=9)
    return ax
