"""Plots of the random effects of a fitted mixed model: the caterpillar plot of the conditional
modes with their intervals (lme4's ``dotplot(ranef(m, condVar = TRUE))``) and their normal QQ
plot (lme4's ``qqmath(ranef(m))``).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd
from matplotlib.axes import Axes
from scipy import stats

from mlmtools.plotting.course_style import OKABE_ITO
from mlmtools.plotting.layout import panel_row

#: Up to this many levels the caterpillar plot names each level on its axis.
MAX_LEVEL_LABELS = 40


def grouping_table(fit: Any, group: str | None, cond_var: bool = False) -> tuple[str, pd.DataFrame]:
    """The conditional modes of one grouping factor (the first when ``group`` is None).

    Raises
    ------
    ValueError
        If the fit has no grouping factor named ``group``.
    """
    tables: dict[str, pd.DataFrame] = fit.ranef(cond_var=cond_var)
    name = next(iter(tables)) if group is None else group
    if name not in tables:
        raise ValueError(f"the model has no grouping factor {name!r}; its grouping factors are "
                         f"{', '.join(map(repr, tables))}")
    return name, tables[name]


def r_ppoints(n: int) -> np.ndarray:
    """R's ``ppoints(n)``: :math:`(i - a)/(n + 1 - 2a)`, :math:`a = 3/8` for :math:`n \\le 10`
    and :math:`1/2` above."""
    a = 0.375 if n <= 10 else 0.5
    return (np.arange(1, n + 1) - a) / (n + 1 - 2 * a)


def qq_reference_line(values: np.ndarray) -> tuple[float, float]:
    """R's ``qqline``: the intercept and slope of the line through the first and third quartiles
    of ``values`` (R's ``quantile`` type 7) and of the standard normal."""
    sample = np.asarray(np.quantile(values, [0.25, 0.75]), dtype=float)
    theoretical = np.asarray(stats.norm.ppf([0.25, 0.75]), dtype=float)
    slope = float((sample[1] - sample[0]) / (theoretical[1] - theoretical[0]))
    return float(sample[0] - slope * theoretical[0]), slope


def caterpillar_plot(fit: Any, group: str | None = None, level: float = 0.95,
                     axes: Sequence[Axes] | None = None) -> list[Axes]:
    """The conditional modes of one grouping factor with their prediction intervals, one panel
    per random-effect term (lme4's ``dotplot(ranef(m, condVar = TRUE))``).

    Each level is a point at its mode :math:`\\hat b_j` with a horizontal bar

    .. math:: \\hat b_j \\mp z_{(1+\\ell)/2}\\,\\sqrt{\\operatorname{Var}(b_j \\mid y)},

    the conditional variances of ``ranef(cond_var=True)``.  Levels are sorted by their mode in
    the first term, in every panel, as lme4 sorts them; a vertical line marks 0.

    Parameters
    ----------
    fit : ~mlmtools.lmm.result.LmerResult or ~mlmtools.glmm.result.GlmerResult
    group : str, optional
        The grouping factor; the first one by default.
    level : float
        Coverage of the intervals.
    axes : sequence of matplotlib.axes.Axes, optional
        One per term; a new figure when None.

    Returns
    -------
    list of matplotlib.axes.Axes
        One per term; each holds the bars (a ``LineCollection``) and the points (a ``Line2D``).

    Examples
    --------
    >>> from mlmtools.datasets import sleepstudy
    >>> from mlmtools.lmm import lmer
    >>> fit = lmer("Reaction ~ Days + (Days | Subject)", sleepstudy())
    >>> panels = caterpillar_plot(fit)
    >>> [ax.get_title() for ax in panels]
    ['(Intercept)', 'Days']
    """
    if isinstance(level, bool) or not isinstance(level, (int, float)) or not 0 < level < 1:
        raise ValueError(f"level must be a number between 0 and 1, got {level!r}")
    name, modes = grouping_table(fit, group, cond_var=True)
    sd = np.sqrt(np.diagonal(modes.attrs["cond_var"], axis1=1, axis2=2))
    half_width = stats.norm.ppf((1 + level) / 2) * sd
    order = np.argsort(modes.iloc[:, 0].to_numpy(), kind="stable")
    positions = np.arange(len(modes))
    panels = panel_row(axes, [str(term) for term in modes.columns], "Conditional mode", name,
                       suptitle=f"Random effects of {name} with {level:.0%} intervals", sharey=True)
    for j, ax in enumerate(panels):
        values = modes.iloc[order, j].to_numpy()
        ax.axvline(0.0, color=OKABE_ITO["black"], linewidth=0.8, linestyle=":")
        ax.hlines(positions, values - half_width[order, j], values + half_width[order, j],
                  color=OKABE_ITO["sky blue"], linewidth=1.5)
        ax.plot(values, positions, "o", color=OKABE_ITO["blue"], markersize=4)
        if len(modes) <= MAX_LEVEL_LABELS:
            ax.set_yticks(positions, [str(label) for label in modes.index[order]], fontsize=8)
        else:
            ax.set_yticks([])
    return panels


def ranef_qq_plot(fit: Any, group: str | None = None, axes: Sequence[Axes] | None = None) -> list[Axes]:
    """Normal QQ plots of the conditional modes of one grouping factor, one panel per term
    (lme4's ``qqmath(ranef(m))``): the sorted modes against the normal quantiles of R's
    ``ppoints``, with R's ``qqline`` through the quartiles (:func:`qq_reference_line`).

    Parameters
    ----------
    fit : ~mlmtools.lmm.result.LmerResult or ~mlmtools.glmm.result.GlmerResult
    group : str, optional
        The grouping factor; the first one by default.
    axes : sequence of matplotlib.axes.Axes, optional
        One per term; a new figure when None.

    Returns
    -------
    list of matplotlib.axes.Axes
        One per term: the points first, then the reference line.

    Examples
    --------
    >>> from mlmtools.datasets import sleepstudy
    >>> from mlmtools.lmm import lmer
    >>> fit = lmer("Reaction ~ Days + (Days | Subject)", sleepstudy())
    >>> len(ranef_qq_plot(fit)[0].lines[0].get_xdata())
    18
    """
    name, modes = grouping_table(fit, group)
    quantiles = stats.norm.ppf(r_ppoints(len(modes)))
    panels = panel_row(axes, [str(term) for term in modes.columns], "Standard normal quantile",
                       "Conditional mode", suptitle=f"Normal QQ plots of the random effects of {name}")
    for j, ax in enumerate(panels):
        values = np.sort(modes.iloc[:, j].to_numpy())
        ax.plot(quantiles, values, "o", color=OKABE_ITO["blue"], markersize=4)
        intercept, slope = qq_reference_line(values)
        ax.axline((0.0, intercept), slope=slope, color=OKABE_ITO["black"], linewidth=1, linestyle="--")
    return panels
