"""Marginal-effect plots: a model's population-level prediction along one predictor, with its
confidence band (as ggeffects' ``ggpredict`` and sjPlot's ``plot_model(type = "pred")`` draw
them), for lmer, glmer and GEE fits.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd
from matplotlib.axes import Axes

from mlmtools.plotting.course_style import OKABE_ITO
from mlmtools.plotting.layout import one_panel


def typical_values(data: pd.DataFrame) -> dict[str, Any]:
    """The value each column is held at: the mean of a numeric column, the first level of a
    categorical or text column (its reference level under treatment coding)."""
    values: dict[str, Any] = {}
    for column in data.columns:
        series = data[column]
        if pd.api.types.is_bool_dtype(series):
            values[column] = False
        elif pd.api.types.is_numeric_dtype(series):
            values[column] = float(series.mean())
        elif isinstance(series.dtype, pd.CategoricalDtype):
            values[column] = series.cat.categories[0]
        else:
            values[column] = sorted(series.dropna().astype(str).unique())[0]
    return values


def prediction_grid(data: pd.DataFrame, x: str, at: Mapping[str, Any] | None = None,
                    n_points: int = 50) -> pd.DataFrame:
    """Rows along ``x`` (``n_points`` even steps over a numeric column's range, or each level of
    a categorical one) with every other column at ``at`` or else its :func:`typical_values`.

    Raises
    ------
    ValueError
        If ``x`` or a key of ``at`` is not a column of ``data``.
    """
    unknown = [name for name in [x, *(at or {})] if name not in data.columns]
    if unknown:
        raise ValueError(f"{', '.join(map(repr, unknown))} not a column of the data; the columns are "
                         f"{', '.join(map(repr, data.columns))}")
    column = data[x]
    if pd.api.types.is_numeric_dtype(column) and not pd.api.types.is_bool_dtype(column):
        along: Any = np.linspace(float(column.min()), float(column.max()), n_points)
    elif isinstance(column.dtype, pd.CategoricalDtype):
        along = list(column.cat.categories)
    else:
        along = sorted(column.dropna().unique())
    held = {**typical_values(data.drop(columns=[x])), **(at or {})}
    grid = pd.DataFrame({x: along})
    for name, value in held.items():
        categorical = isinstance(data[name].dtype, pd.CategoricalDtype)
        grid[name] = pd.Series([value] * len(grid), dtype=data[name].dtype if categorical else None)
    return grid[list(data.columns)]


def prediction_plot(fit: Any, x: str, data: pd.DataFrame | None = None, at: Mapping[str, Any] | None = None,
                    type: str = "response", level: float = 0.95, n_points: int = 50,
                    ax: Axes | None = None) -> Axes:
    """The population-level prediction along ``x`` with its confidence band.

    The rows of :func:`prediction_grid` are predicted with
    ``fit.predict(grid, type=type, interval="confidence", level=level)``: the fixed part
    :math:`x^\\top\\hat\\beta + o` with the Wald interval
    :math:`\\hat\\eta \\mp z\\,\\sqrt{x^\\top V x}` (:math:`V` = ``vcov()``: the sandwich for
    GEE), mapped through the inverse link on the response scale.  A numeric ``x`` gives a line
    and a shaded band, a categorical one a point and an error bar per level.

    Parameters
    ----------
    fit : ~mlmtools.lmm.result.LmerResult, ~mlmtools.glmm.result.GlmerResult or ~mlmtools.gee.result.GeeFit
    x : str
        The predictor along the horizontal axis (a column of the data).
    data : pandas.DataFrame, optional
        Data with the model's predictors, to take ``x``'s range and the other columns' typical
        values from; the data the model keeps by default (a GEE fit keeps none: pass it).
    at : mapping, optional
        Values to hold other columns at, instead of their typical values.
    type : {"response", "link"}
        The scale of glmer and GEE predictions (ignored for lmer, whose link is the identity).
    level : float
        Coverage of the band.
    n_points : int
        Grid points along a numeric ``x``.
    ax : matplotlib.axes.Axes, optional

    Returns
    -------
    matplotlib.axes.Axes
        A numeric ``x``: its first line is the prediction and its first collection the band;
        a categorical ``x``: its first line the points and its first collection the bars.

    Examples
    --------
    >>> from mlmtools.datasets import sleepstudy
    >>> from mlmtools.lmm import lmer
    >>> fit = lmer("Reaction ~ Days + (Days | Subject)", sleepstudy())
    >>> prediction_plot(fit, "Days").lines[0].get_ydata()[[0, -1]].round(1).tolist()
    [251.4, 345.6]
    """
    source = getattr(fit.model, "data", None) if data is None else data
    if not isinstance(source, pd.DataFrame):
        raise ValueError("this fit keeps no data: pass the data it was fitted to as data=")
    grid = prediction_grid(source, x, at, n_points)
    options: dict[str, Any] = {"interval": "confidence", "level": level}
    if getattr(fit, "family", None) is not None:
        options["type"] = type
    table = fit.predict(grid, **options)
    scale = "" if "type" not in options or type == "link" else " (response scale)"
    response = getattr(fit.state.frame, "response_name", None) or "prediction"
    ax = one_panel(ax, f"Predicted {response} along {x}{scale}", x, f"Predicted {response}")
    colour = OKABE_ITO["blue"]
    if pd.api.types.is_numeric_dtype(grid[x]):
        ax.plot(grid[x], table["fit"], color=colour, linewidth=2)
        ax.fill_between(grid[x].to_numpy(dtype=float), table["lwr"].to_numpy(), table["upr"].to_numpy(),
                        color=colour, alpha=0.25, linewidth=0, label=f"{level:.0%} confidence band")
    else:
        positions = np.arange(len(grid))
        ax.plot(positions, table["fit"], "o", color=colour)
        ax.vlines(positions, table["lwr"], table["upr"], color=colour, linewidth=2,
                  label=f"{level:.0%} confidence interval")
        ax.set_xticks(positions, [str(value) for value in grid[x]])
    ax.legend(loc="best", fontsize=9)
    return ax
