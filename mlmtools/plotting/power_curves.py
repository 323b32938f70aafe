"""Power curves: the power of clustered designs against their size, from
:func:`~mlmtools.simulate.power.power_curve`'s table.
"""

from __future__ import annotations

import pandas as pd
from matplotlib.axes import Axes

from mlmtools.plotting.course_style import OKABE_ITO
from mlmtools.plotting.layout import one_panel

CURVE_AXES = ("n_total", "n_clusters", "cluster_size", "icc", "effect_size")


def power_curve_plot(curve: pd.DataFrame, x: str = "n_total", target: float | None = 0.8, label: str | None = None,
                     ax: Axes | None = None) -> Axes:
    """Power against one design quantity, one point per design, joined by a line; simulated
    curves (with ``conf_low`` and ``conf_high``) get their Wilson intervals as error bars, and
    a dotted line marks the ``target`` power.

    Call it again with the same ``ax`` to draw several curves (e.g. more clusters against
    bigger clusters) on one panel; each call takes the next colour of the axes' cycle.

    Parameters
    ----------
    curve : pandas.DataFrame
        A table of :func:`~mlmtools.simulate.power.power_curve`.
    x : {"n_total", "n_clusters", "cluster_size", "icc", "effect_size"}
        The column on the horizontal axis.
    target : float, optional
        The power to mark (None for none).
    label : str, optional
        The curve's legend entry.
    ax : matplotlib.axes.Axes, optional

    Returns
    -------
    matplotlib.axes.Axes
        Its first line is the curve (one point per row of ``curve``).

    Raises
    ------
    ValueError
        If ``x`` is not one of the curve's design columns, or ``curve`` has no ``power``.

    Examples
    --------
    >>> from mlmtools.simulate.power import power_curve
    >>> curve = power_curve([6, 10, 14], 30, icc=0.25, effect_size=0.5)
    >>> power_curve_plot(curve).lines[0].get_ydata().round(3).tolist()
    [0.149, 0.265, 0.375]
    """
    if x not in CURVE_AXES or x not in curve.columns or "power" not in curve.columns:
        raise ValueError(f"x must be one of the curve's design columns {CURVE_AXES} and the curve needs a "
                         f"'power' column; got x={x!r} and columns {list(curve.columns)}")
    titles = {"n_total": "Total number of people", "n_clusters": "Number of clusters",
              "cluster_size": "People per cluster", "icc": "Intraclass correlation", "effect_size": "Effect size"}
    ax = one_panel(ax, "Power of the design", titles[x], "Power")
    line = ax.plot(curve[x], curve["power"], marker="o", label=label)[0]
    if {"conf_low", "conf_high"} <= set(curve.columns):
        ax.vlines(curve[x], curve["conf_low"], curve["conf_high"], color=line.get_color(), linewidth=1.5)
    if target is not None:
        ax.axhline(target, color=OKABE_ITO["black"], linestyle=":", linewidth=1)
    ax.set_ylim(0, 1)
    if label is not None:
        ax.legend(loc="lower right", fontsize=9)
    return ax
