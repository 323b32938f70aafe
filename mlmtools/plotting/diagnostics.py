"""Residual plots of a fitted model: residuals against fitted values (lme4's ``plot(m)``), the
scale-location plot and the normal QQ plot of the residuals (R's ``plot.lm`` panels 3 and 2).

All three use the standardized Pearson residuals of :func:`standardized_residuals`, so they
read the same for lmer, glmer and GEE fits.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
from matplotlib.axes import Axes
from scipy import stats

from mlmtools.plotting.course_style import OKABE_ITO
from mlmtools.plotting.layout import one_panel
from mlmtools.plotting.random_effects import qq_reference_line, r_ppoints


def standardized_residuals(fit: Any) -> pd.Series:
    """Pearson residuals divided by the residual scale:
    :math:`\\sqrt{w_i}\\,(y_i - \\hat\\mu_i)/(\\hat\\sigma\\sqrt{V(\\hat\\mu_i)})`, with
    :math:`\\hat\\sigma` the residual standard deviation of a mixed model (lme4's
    ``residuals(m, "pearson", scaled = TRUE)``; 1 for binomial and Poisson GLMMs) and
    :math:`\\sqrt{\\hat\\phi}` for a GEE fit (its ``scale``)."""
    scale = float(np.sqrt(fit.scale)) if hasattr(fit, "scale") else float(fit.sigma)
    residuals: pd.Series = fit.residuals(type="pearson") / scale
    return residuals


def residuals_fitted_plot(fit: Any, ax: Axes | None = None) -> Axes:
    """Standardized residuals (:func:`standardized_residuals`) against the fitted values
    ``fit.fitted()`` (conditional means for mixed models), with a line at 0.

    Returns
    -------
    matplotlib.axes.Axes
        Its first line is the points, the second the zero line.

    Examples
    --------
    >>> from mlmtools.datasets import sleepstudy
    >>> from mlmtools.lmm import lmer
    >>> fit = lmer("Reaction ~ Days + (Days | Subject)", sleepstudy())
    >>> residuals_fitted_plot(fit).get_ylabel()
    'Standardized residual'
    """
    ax = one_panel(ax, "Residuals against fitted values", "Fitted value", "Standardized residual")
    ax.plot(fit.fitted().to_numpy(), standardized_residuals(fit).to_numpy(), "o", color=OKABE_ITO["blue"],
            markersize=3.5, alpha=0.7)
    ax.axhline(0.0, color=OKABE_ITO["black"], linewidth=1)
    return ax


def scale_location_plot(fit: Any, ax: Axes | None = None) -> Axes:
    """:math:`\\sqrt{|r_i|}` of the standardized residuals against the fitted values (R's
    scale-location plot): a trend shows a variance that changes with the mean.

    Returns
    -------
    matplotlib.axes.Axes
        Its first line is the points.

    Examples
    --------
    >>> from mlmtools.datasets import sleepstudy
    >>> from mlmtools.lmm import lmer
    >>> fit = lmer("Reaction ~ Days + (Days | Subject)", sleepstudy())
    >>> scale_location_plot(fit).get_title()
    'Scale-location'
    """
    ax = one_panel(ax, "Scale-location", "Fitted value", "√|standardized residual|")
    root = np.sqrt(np.abs(standardized_residuals(fit).to_numpy()))
    ax.plot(fit.fitted().to_numpy(), root, "o", color=OKABE_ITO["blue"], markersize=3.5, alpha=0.7)
    return ax


def residual_qq_plot(fit: Any, ax: Axes | None = None) -> Axes:
    """Normal QQ plot of the standardized residuals: sorted residuals against the normal
    quantiles of R's ``ppoints``, with R's ``qqline`` through the quartiles.

    Returns
    -------
    matplotlib.axes.Axes
        Its first line is the points, the second the reference line.

    Examples
    --------
    >>> from mlmtools.datasets import sleepstudy
    >>> from mlmtools.lmm import lmer
    >>> fit = lmer("Reaction ~ Days + (Days | Subject)", sleepstudy())
    >>> len(residual_qq_plot(fit).lines[0].get_xdata())
    180
    """
    ax = one_panel(ax, "Normal QQ plot of the residuals", "Standard normal quantile", "Standardized residual")
    values = np.sort(standardized_residuals(fit).to_numpy())
    ax.plot(stats.norm.ppf(r_ppoints(len(values))), values, "o", color=OKABE_ITO["blue"], markersize=3.5,
            alpha=0.7)
    intercept, slope = qq_reference_line(values)
    ax.axline((0.0, intercept), slope=slope, color=OKABE_ITO["black"], linewidth=1, linestyle="--")
    return ax
