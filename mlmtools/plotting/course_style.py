"""One figure style for the whole course.

Every chapter calls :func:`use_course_style` once, then draws with :func:`new_figure`
(one panel) or :func:`new_panels` (several panels side by side), so all figures share a
colour-blind-safe palette, the same size and readable text. :func:`save_figure` writes
files without timestamps or version strings, so the same figure gives the same bytes.

The palette is the one proposed by Okabe and Ito (2008, *Color Universal Design*),
which stays distinguishable under the common forms of colour blindness.

This module never chooses a backend: notebooks use the inline backend (Agg underneath),
and scripts or tests without a display should set ``MPLBACKEND=Agg``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from os import PathLike
from pathlib import Path
from types import MappingProxyType
from typing import TYPE_CHECKING, Any

import matplotlib as mpl
import matplotlib.pyplot as plt
from cycler import cycler
from matplotlib.axes import Axes
from matplotlib.figure import Figure

if TYPE_CHECKING:
    from matplotlib.typing import RcKeyType

OKABE_ITO: Mapping[str, str] = MappingProxyType(
    {
        "black": "#000000",
        "orange": "#E69F00",
        "sky blue": "#56B4E9",
        "bluish green": "#009E73",
        "yellow": "#F0E442",
        "blue": "#0072B2",
        "vermillion": "#D55E00",
        "reddish purple": "#CC79A7",
    }
)
"""The eight Okabe-Ito colours by name (read-only)."""

COLOR_CYCLE: tuple[str, ...] = tuple(
    OKABE_ITO[name]
    for name in (
        "blue",
        "orange",
        "bluish green",
        "vermillion",
        "reddish purple",
        "sky blue",
        "yellow",
        "black",
    )
)
"""Order in which successive lines or point sets take the Okabe-Ito colours.

The strongest contrasts come first; yellow, faint on white, comes late.
"""

FIGURE_SIZE: tuple[float, float] = (6.0, 3.75)
"""Width and height in inches of a one-panel figure.

About the width of a Jupyter Book page's text column; on a phone the figure is scaled
down by roughly a fifth, which leaves 12-point text readable.
"""

FIGURE_DPI: int = 150
"""Resolution of inline and saved raster figures (sharp on high-density screens)."""

COURSE_RCPARAMS: Mapping[RcKeyType, Any] = MappingProxyType(
    {
        "figure.figsize": FIGURE_SIZE,
        "figure.dpi": FIGURE_DPI,
        "figure.constrained_layout.use": True,
        "savefig.dpi": FIGURE_DPI,
        "savefig.bbox": "tight",
        "font.size": 12,
        "axes.titlesize": 13,
        "axes.labelsize": 12,
        "xtick.labelsize": 11,
        "ytick.labelsize": 11,
        "legend.fontsize": 11,
        "legend.frameon": False,
        "figure.titlesize": 14,
        "axes.spines.top": False,
        "axes.spines.right": False,
        "axes.prop_cycle": cycler(color=COLOR_CYCLE),
        "lines.linewidth": 2.0,
        "image.cmap": "viridis",
        "svg.hashsalt": "mlmtools",
    }
)
"""The matplotlib settings applied by :func:`use_course_style`."""

_TIMELESS_METADATA: Mapping[str, Mapping[str, None]] = MappingProxyType(
    {
        "png": {"Software": None},
        "svg": {"Date": None, "Creator": None},
        "pdf": {"CreationDate": None, "ModDate": None, "Creator": None, "Producer": None},
    }
)


def use_course_style() -> None:
    """Apply the course's figure style to matplotlib's global settings.

    Sets every entry of :data:`COURSE_RCPARAMS`: the Okabe-Ito colour cycle, a
    :data:`FIGURE_SIZE` figure at :data:`FIGURE_DPI`, 11-14 point text, and axes
    without top and right spines. Calling it again is harmless.
    """
    mpl.rcParams.update(COURSE_RCPARAMS)


def label_axes(ax: Axes, title: str, xlabel: str, ylabel: str) -> Axes:
    """Set the title and both axis labels of ``ax``, and return it.

    Raises
    ------
    ValueError
        If any of the three texts is empty: every course figure names what it shows.
    """
    for role, text in (("title", title), ("xlabel", xlabel), ("ylabel", ylabel)):
        if not text.strip():
            raise ValueError(f"a figure needs a non-empty {role}; got {text!r}")
    ax.set_title(title)
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    return ax


def new_figure(title: str, xlabel: str, ylabel: str,
               figsize: tuple[float, float] | None = None) -> tuple[Figure, Axes]:
    """Create a one-panel figure with its title and axis labels already set.

    Parameters
    ----------
    title, xlabel, ylabel
        Texts of the panel title and of the horizontal and vertical axis labels.
    figsize
        Width and height in inches; by default the current ``figure.figsize``
        (:data:`FIGURE_SIZE` once :func:`use_course_style` has run).

    Returns
    -------
    fig : matplotlib.figure.Figure
        The new figure.
    ax : matplotlib.axes.Axes
        Its single axes.
    """
    fig, ax = plt.subplots(figsize=figsize)
    label_axes(ax, title, xlabel, ylabel)
    return fig, ax


def new_panels(titles: Sequence[str], xlabel: str, ylabel: str, *,
               suptitle: str | None = None, sharex: bool = True, sharey: bool = True,
               figsize: tuple[float, float] | None = None) -> tuple[Figure, list[Axes]]:
    """Create a row of panels, one per title, with their axis labels set.

    The row keeps the width of a one-panel figure, so text is as large as in every other
    figure of the book, on a wide page or on a phone.

    Parameters
    ----------
    titles
        One title per panel, left to right.
    xlabel, ylabel
        Axis labels. Every panel gets ``xlabel``. With a shared vertical scale only the
        leftmost panel gets ``ylabel`` (the others show neither tick labels nor label);
        otherwise every panel gets it.
    suptitle
        Optional title of the whole figure.
    sharex, sharey
        Whether the panels share their horizontal and vertical scales, so they can be
        compared by eye.
    figsize
        Width and height in inches; by default the current ``figure.figsize``
        (:data:`FIGURE_SIZE` once :func:`use_course_style` has run).

    Returns
    -------
    fig : matplotlib.figure.Figure
        The new figure.
    axes : list of matplotlib.axes.Axes
        Its axes, left to right.

    Raises
    ------
    ValueError
        If ``titles`` is empty, or a title or label is empty.
    """
    if len(titles) == 0:
        raise ValueError("new_panels needs at least one panel title")
    fig, axes = plt.subplots(1, len(titles), figsize=figsize, sharex=sharex, sharey=sharey,
                             squeeze=False)
    panels = list(axes[0])
    for position, (ax, title) in enumerate(zip(panels, titles)):
        label_axes(ax, title, xlabel, ylabel)
        if sharey and position > 0:
            ax.set_ylabel("")
    if suptitle is not None:
        fig.suptitle(suptitle)
    return fig, panels


def save_figure(fig: Figure, path: str | PathLike[str]) -> Path:
    """Write ``fig`` to ``path`` in the format its suffix names, with no timestamps.

    Creation dates and the matplotlib version are left out of the file's metadata
    (PNG, SVG and PDF), so saving the same figure twice gives identical bytes.

    Returns
    -------
    Path
        The path written.

    Raises
    ------
    ValueError
        If the suffix is missing or not a format matplotlib can write.
    """
    target = Path(path)
    file_format = target.suffix.lstrip(".").lower()
    supported = fig.canvas.get_supported_filetypes()
    if file_format not in supported:
        raise ValueError(
            f"cannot save a figure as {target.name!r}: use one of the suffixes "
            f"{', '.join('.' + name for name in sorted(supported))}"
        )
    metadata = _TIMELESS_METADATA.get(file_format)
    fig.savefig(target, format=file_format,
                metadata=dict(metadata) if metadata is not None else None)
    return target
