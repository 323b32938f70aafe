"""Where a model plot draws: on axes the caller gives, or on a new figure in the course's layout.

Every plot of a fitted model takes ``ax=`` (one panel) or ``axes=`` (a row of panels); without
them it makes its own figure with :func:`~mlmtools.plotting.course_style.new_figure` or
:func:`~mlmtools.plotting.course_style.new_panels`.  Either way the panels get the plot's title
and axis labels, which the caller may change afterwards.
"""

from __future__ import annotations

from collections.abc import Sequence

from matplotlib.axes import Axes

from mlmtools.plotting.course_style import label_axes, new_figure, new_panels


def one_panel(ax: Axes | None, title: str, xlabel: str, ylabel: str) -> Axes:
    """``ax`` labelled, or the axes of a new one-panel figure."""
    if ax is None:
        return new_figure(title, xlabel, ylabel)[1]
    return label_axes(ax, title, xlabel, ylabel)


def panel_row(axes: Sequence[Axes] | None, titles: Sequence[str], xlabel: str, ylabel: str, *,
              suptitle: str | None = None, sharey: bool = False) -> list[Axes]:
    """``axes`` labelled (one per title), or the panels of a new figure.

    Raises
    ------
    ValueError
        If ``axes`` does not hold one panel per title.
    """
    if axes is None:
        return new_panels(titles, xlabel, ylabel, suptitle=suptitle, sharex=False, sharey=sharey)[1]
    panels = list(axes)
    if len(panels) != len(titles):
        raise ValueError(f"this plot draws {len(titles)} panel(s) ({', '.join(titles)}); got {len(panels)} axes")
    return [label_axes(ax, title, xlabel, ylabel) for ax, title in zip(panels, titles)]
