"""The fitted line of every group over the data (a spaghetti plot; lattice's ``xyplot`` per group
with the model's fitted values), and the population-average line.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
from matplotlib.axes import Axes

from mlmtools.plotting.course_style import OKABE_ITO
from mlmtools.plotting.layout import one_panel


def group_lines_plot(fit: Any, x: str, group: str | None = None, data: pd.DataFrame | None = None,
                     ax: Axes | None = None) -> Axes:
    """The observed responses against ``x``, each group's conditional fitted values joined in
    order of ``x``, and the population-level fit :math:`X\\hat\\beta + o` (``predict(re_form="NA")``)
    as a dashed line.

    Parameters
    ----------
    fit : ~mlmtools.lmm.result.LmerResult or ~mlmtools.glmm.result.GlmerResult
        For a glmer fit the responses and lines are on the response scale (its ``fitted()``
        means, and the inverse link of the population-level linear predictor).
    x : str
        The numeric column on the horizontal axis.
    group : str, optional
        The column whose levels get one line each; the first grouping factor by default.
    data : pandas.DataFrame, optional
        The data the model was fitted to (default: the data the model keeps).
    ax : matplotlib.axes.Axes, optional

    Returns
    -------
    matplotlib.axes.Axes
        Its lines are, in order: one per group (levels sorted as text), then the population
        line, drawn only when the fixed part depends on ``x`` alone (one population value per
        ``x``); the observed points are its first collection.

    Raises
    ------
    ValueError
        If ``x`` or the group is not a column of the data, or no data is available.

    Examples
    --------
    >>> from mlmtools.datasets import sleepstudy
    >>> from mlmtools.lmm import lmer
    >>> fit = lmer("Reaction ~ Days + (Days | Subject)", sleepstudy())
    >>> len(group_lines_plot(fit, "Days").lines)
    19
    """
    source = getattr(fit.model, "data", None) if data is None else data
    if not isinstance(source, pd.DataFrame):
        raise ValueError("no data to plot: pass the data the model was fitted to as data=")
    group = next(iter(fit.ngroups)) if group is None else group
    for role, column in (("x", x), ("group", group)):
        if column not in source.columns:
            raise ValueError(f"{role}={column!r} is not a column of the data; the columns are "
                             f"{', '.join(map(repr, source.columns))}")
    rows = source.loc[fit.state.frame.row_index]
    if not pd.api.types.is_numeric_dtype(rows[x]):
        raise ValueError(f"x={x!r} must be a numeric column to draw lines along it")
    response = np.asarray(fit.state.frame.y, dtype=float)
    family = getattr(fit, "family", None)
    population = fit.predict(re_form="NA").to_numpy(dtype=float)
    if family is not None:
        population = family.linkinv(population)
    frame = pd.DataFrame({"x": rows[x].to_numpy(dtype=float), "group": rows[group].astype(str).to_numpy(),
                          "fitted": fit.fitted().to_numpy(dtype=float), "population": population})
    label = fit.state.frame.response_name
    ax = one_panel(ax, f"Fitted lines per {group}", x, label)
    ax.scatter(frame["x"], response, s=10, color=OKABE_ITO["black"], alpha=0.35, label="observed")
    for position, (_, lines) in enumerate(frame.sort_values("x", kind="stable").groupby("group", sort=True)):
        ax.plot(lines["x"], lines["fitted"], color=OKABE_ITO["blue"], linewidth=1, alpha=0.6,
                label=f"one line per {group}" if position == 0 else None)
    by_x = frame.groupby("x")["population"]
    spread = float((by_x.max() - by_x.min()).abs().max())
    if spread <= 1e-9 * max(1.0, float(np.abs(frame["population"]).max())):
        average = by_x.first()
        ax.plot(average.index, average.to_numpy(), color=OKABE_ITO["vermillion"], linewidth=2.5, linestyle="--",
                label="population average")
    ax.legend(loc="best", fontsize=9)
    return ax
