"""Interactive figures that need no server: one slider driving precomputed curves.

The figure is plain HTML: an inline SVG, a range input and a short inline script that
swaps between curves computed in advance on a grid of slider values.  The grid travels
as JSON inside the page, so the figure works on a static HTML page (the book), without a
kernel, Binder or any script from a CDN, and the notebook's stored output is the same
bytes on every run (the element id is a hash of the content).

For slider position :math:`k` the figure draws, for every curve :math:`c`, the polyline
through the points :math:`(x_i, y_{c,k,i})`, on axes whose limits cover the whole grid so
the scale stays fixed while the slider moves.  :func:`slider_figure` draws one panel;
:func:`slider_panels` stacks several panels, each with its own vertical axis, under one
slider (for quantities on different scales).

Examples
--------
Part II: the intra-class correlation :math:`\\rho` drives the design effect
:math:`\\mathrm{DEFF} = 1 + (m - 1)\\rho` against the cluster size :math:`m`:

>>> import numpy as np
>>> from mlmtools.plotting.interactive import slider_figure
>>> cluster_sizes = np.arange(1, 51)
>>> iccs = np.round(np.linspace(0.0, 0.3, 31), 2)
>>> deff = 1 + np.outer(iccs, cluster_sizes - 1)
>>> figure = slider_figure(
...     x=cluster_sizes,
...     slider_values=iccs,
...     curves={"design effect": deff},
...     slider_label="ICC ρ",
...     x_label="cluster size m",
...     y_label="DEFF",
...     description="Design effect against cluster size for the chosen ICC.",
... )
>>> "<svg" in figure.data and "<script>" in figure.data
True

A second panel, on its own vertical scale, under the same slider: the approximate type I
error rate of the naive OLS test, :math:`2[1 - \\Phi(1.96 / \\sqrt{\\mathrm{DEFF}})]`:

>>> from scipy.stats import norm
>>> from mlmtools.plotting.interactive import Panel, slider_panels
>>> figure = slider_panels(
...     cluster_sizes,
...     iccs,
...     [
...         Panel({"design effect": deff}, "DEFF"),
...         Panel({"OLS": 2 * norm.sf(1.96 / np.sqrt(deff))}, "type I error rate",
...               y_limits=(0, 1), y_reference=(0.05, "nominal 5%")),
...     ],
...     slider_label="ICC ρ",
...     x_label="cluster size m",
...     description="Design effect and OLS type I error rate against cluster size.",
...     initial_value=0.25,
... )
>>> figure.data.count("<polyline")
2

In a notebook the last line of a cell is just ``figure`` (or ``display(figure)``); the
book renders it as a working slider.  Part VI does the same with the random-intercept SD
:math:`\\sigma_u` as the slider and the marginal (GEE) and conditional slopes as two
curves (``curves={"marginal": ..., "conditional": ...}``, each of shape
``(len(slider_values), len(x))``).

The JSON grid holds, besides the readouts and the polylines' ``points``, each curve's
``scale``: ``[x_low, x_high, left, right, y_low, y_high, bottom, top]``, the data limits and
the pixel positions they map to, from which the plotted values can be read back.
"""

from __future__ import annotations

import hashlib
import html
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from mlmtools.plotting.course_style import OKABE_ITO

#: Width of the SVG in its own units (it scales to the width of the page) and height of a
#: lone panel; each panel of a stack of several is ``STACKED_PANEL_HEIGHT`` high.
WIDTH, HEIGHT = 640, 400
STACKED_PANEL_HEIGHT = 280
#: Space around each panel's plot area (tick labels and axis labels live in it).
MARGIN = {"left": 64, "right": 16, "top": 16, "bottom": 52}
CURVE_COLOURS = ("blue", "vermillion", "bluish green", "orange")

_SCRIPT = """
(function () {
  var root = document.getElementById(%(id)s);
  var data = JSON.parse(root.querySelector("script[type='application/json']").textContent);
  var slider = root.querySelector("input[type=range]");
  var readout = root.querySelector("output");
  function draw() {
    var k = Number(slider.value);
    readout.textContent = data.labels[k];
    data.curves.forEach(function (curve, c) {
      root.querySelector("polyline[data-curve='" + c + "']").setAttribute("points", curve[k]);
    });
  }
  slider.addEventListener("input", draw);
  draw();
})();
"""


@dataclass(frozen=True, repr=False)
class SliderFigure:
    """A self-contained HTML figure; Jupyter and the book display it through ``_repr_html_``.

    Attributes
    ----------
    data : str
        The HTML: an inline SVG, the range input, the precomputed curves as JSON and the
        script that swaps them.
    """

    data: str

    def _repr_html_(self) -> str:
        return self.data

    def __repr__(self) -> str:
        return "<SliderFigure: an interactive figure, shown as HTML in Jupyter and in the book>"


@dataclass(frozen=True)
class Panel:
    """One panel of :func:`slider_panels`: its curves and its vertical axis.

    Attributes
    ----------
    curves : mapping
        Curve name to an array of shape ``(K, n)``: row ``k`` is the curve drawn when the
        slider is at its ``k``-th value; the names form the legend.
    y_label : str
        Label of the vertical axis.
    y_limits : tuple of float, optional
        Limits of the vertical axis; by default the smallest and largest value of the grid
        (and of ``y_reference``).  Either way they hold for every slider position.
    y_reference : tuple of float and str, optional
        A dashed horizontal line at this height, with its label (e.g. ``(0.05, "nominal 5%")``).
    """

    curves: Mapping[str, np.ndarray]
    y_label: str
    y_limits: tuple[float, float] | None = None
    y_reference: tuple[float, str] | None = None


def _scale(values: np.ndarray, low: float, high: float, start: float, end: float) -> np.ndarray:
    span = high - low if high > low else 1.0
    return start + (values - low) / span * (end - start)


def _ticks(low: float, high: float) -> np.ndarray:
    """Round tick values (steps of 1, 2, 2.5 or 5 times a power of ten) inside ``[low, high]``."""
    if high <= low:
        return np.array([low])
    raw = (high - low) / 5
    power = 10.0 ** np.floor(np.log10(raw))
    step = next(power * factor for factor in (1, 2, 2.5, 5, 10) if power * factor >= raw)
    ticks = np.arange(np.ceil(low / step - 1e-9), np.floor(high / step + 1e-9) + 1) * step
    rounded: np.ndarray = np.round(ticks, 12) + 0.0  # + 0.0 turns a rounded -0.0 into 0.0
    return rounded


def _validated_grids(panels: Sequence[Panel], expected: tuple[int, int]) -> list[dict[str, np.ndarray]]:
    if not panels:
        raise ValueError("slider_panels needs at least one panel")
    grids = []
    for panel in panels:
        if not panel.curves:
            raise ValueError("every panel needs at least one curve")
        panel_grids = {name: np.asarray(values, dtype=float) for name, values in panel.curves.items()}
        for name, grid in panel_grids.items():
            if grid.shape != expected:
                raise ValueError(
                    f"curve {name!r} has shape {grid.shape}; expected {expected} (len(slider_values), len(x))"
                )
            if not np.all(np.isfinite(grid)):
                raise ValueError(f"curve {name!r} has values that are not finite")
        grids.append(panel_grids)
    return grids


def _y_limits(panel: Panel, grids: Mapping[str, np.ndarray]) -> tuple[float, float]:
    low = min(float(grid.min()) for grid in grids.values())
    high = max(float(grid.max()) for grid in grids.values())
    if panel.y_reference is not None:
        low, high = min(low, panel.y_reference[0]), max(high, panel.y_reference[0])
    if panel.y_limits is None:
        return low, high
    limit_low, limit_high = (float(value) for value in panel.y_limits)
    if not limit_low < limit_high:
        raise ValueError(f"y_limits {panel.y_limits} must be increasing")
    if low < limit_low or high > limit_high:
        raise ValueError(
            f"y_limits {panel.y_limits} do not cover the panel's values, which run from {low:g} to {high:g}"
        )
    return limit_low, limit_high


def _points(x_pixels: np.ndarray, row: np.ndarray, y_low: float, y_high: float, bottom: float, top: float) -> str:
    y_pixels = _scale(row, y_low, y_high, bottom, top)
    return " ".join(f"{px:.1f},{py:.1f}" for px, py in zip(x_pixels, y_pixels))


def slider_panels(
    x: Sequence[float] | np.ndarray,
    slider_values: Sequence[float] | np.ndarray,
    panels: Sequence[Panel],
    *,
    slider_label: str,
    x_label: str,
    description: str,
    value_format: str = "{:g}",
    readouts: Sequence[str] | None = None,
    initial_value: float | None = None,
    x_reference: tuple[float, str] | None = None,
) -> SliderFigure:
    """Return a self-contained HTML figure of stacked panels that share one x axis and one slider.

    For slider position :math:`k` panel :math:`p` draws each of its curves :math:`c` through
    the points :math:`(x_i, y^{(p)}_{c,k,i})`.  The horizontal axis runs from
    :math:`\\min x` to :math:`\\max x`; each panel's vertical axis is fixed over the whole
    grid (see :class:`Panel`), so moving the slider moves the curves, never the axes.

    Parameters
    ----------
    x : array_like
        The horizontal coordinates shared by every curve, shape ``(n,)``.
    slider_values : array_like
        The values the slider steps through, in order, shape ``(K,)``.
    panels : sequence of Panel
        The panels, top to bottom; every curve has shape ``(K, n)``.
    slider_label, x_label : str
        Labels of the slider and of the horizontal axis (repeated under every panel).
    description : str
        Alternative text of the figure (read by screen readers).
    value_format : str
        Format of the slider's value in its readout.
    readouts : sequence of str, optional
        The ``K`` texts shown beside the slider, one per position, instead of the formatted value
        (e.g. to report the curves' values at one point).
    initial_value : float, optional
        The slider value shown first; one of ``slider_values`` (default: the first).
    x_reference : tuple of float and str, optional
        A dashed vertical line at this ``x`` in every panel, labelled in the top one.

    Returns
    -------
    SliderFigure
        The figure (its HTML in ``.data``).

    Raises
    ------
    ValueError
        If a curve's shape is not ``(len(slider_values), len(x))``, a panel has no curve, a
        value is not finite, ``y_limits`` do not cover a panel's values, ``readouts`` has the
        wrong length, or ``initial_value`` or ``x_reference`` lies off the grid.
    """
    x = np.asarray(x, dtype=float)
    slider_values = np.asarray(slider_values, dtype=float)
    if x.ndim != 1 or slider_values.ndim != 1 or x.size < 2 or slider_values.size < 1:
        raise ValueError("x needs at least two values and slider_values at least one, both 1-D")
    if not np.all(np.isfinite(x)) or not np.all(np.isfinite(slider_values)):
        raise ValueError("x and slider_values must be finite")
    grids = _validated_grids(panels, (slider_values.size, x.size))
    labels = [value_format.format(value) for value in slider_values] if readouts is None else list(readouts)
    if len(labels) != slider_values.size:
        raise ValueError(f"readouts has {len(labels)} texts; expected one per slider value ({slider_values.size})")
    start = 0
    if initial_value is not None:
        matches = np.flatnonzero(np.isclose(slider_values, initial_value))
        if matches.size == 0:
            raise ValueError(f"initial_value {initial_value:g} is not one of slider_values")
        start = int(matches[0])
    x_low, x_high = float(x.min()), float(x.max())
    if x_reference is not None and not x_low <= x_reference[0] <= x_high:
        raise ValueError(f"x_reference {x_reference[0]:g} lies outside x ({x_low:g} to {x_high:g})")

    panel_height = HEIGHT if len(panels) == 1 else STACKED_PANEL_HEIGHT
    left, right = MARGIN["left"], WIDTH - MARGIN["right"]
    x_pixels = _scale(x, x_low, x_high, left, right)
    points: list[list[str]] = []
    scales: list[list[float]] = []
    drawing: list[str] = []
    legend: list[str] = []
    for index, (panel, panel_grids) in enumerate(zip(panels, grids)):
        offset = index * panel_height
        top, bottom = offset + MARGIN["top"], offset + panel_height - MARGIN["bottom"]
        y_low, y_high = _y_limits(panel, panel_grids)
        drawing += [
            f'<line x1="{left}" y1="{bottom}" x2="{right}" y2="{bottom}" stroke="currentColor"/>',
            f'<line x1="{left}" y1="{top}" x2="{left}" y2="{bottom}" stroke="currentColor"/>',
        ]
        for tick in _ticks(x_low, x_high):
            position = float(_scale(np.array(tick), x_low, x_high, left, right))
            drawing.append(f'<text x="{position:.1f}" y="{bottom + 20}" text-anchor="middle">{tick:g}</text>')
        for tick in _ticks(y_low, y_high):
            position = float(_scale(np.array(tick), y_low, y_high, bottom, top))
            drawing.append(f'<text x="{left - 6}" y="{position + 5:.1f}" text-anchor="end">{tick:g}</text>')
        drawing.append(
            f'<text x="{(left + right) / 2}" y="{bottom + 44}" text-anchor="middle">{html.escape(x_label)}</text>'
        )
        drawing.append(
            f'<text transform="translate(16 {(top + bottom) / 2}) rotate(-90)" text-anchor="middle">'
            f"{html.escape(panel.y_label)}</text>"
        )
        if panel.y_reference is not None:
            level, text = panel.y_reference
            position = float(_scale(np.array(level), y_low, y_high, bottom, top))
            drawing.append(
                f'<line x1="{left}" y1="{position:.1f}" x2="{right}" y2="{position:.1f}" '
                'stroke="currentColor" stroke-dasharray="6 4"/>'
            )
            drawing.append(f'<text x="{right - 4}" y="{position - 6:.1f}" text-anchor="end">{html.escape(text)}</text>')
        if x_reference is not None:
            position = float(_scale(np.array(x_reference[0]), x_low, x_high, left, right))
            drawing.append(
                f'<line x1="{position:.1f}" y1="{top}" x2="{position:.1f}" y2="{bottom}" '
                'stroke="currentColor" stroke-dasharray="2 4"/>'
            )
            if index == 0:
                drawing.append(f'<text x="{position + 6:.1f}" y="{top + 16}">{html.escape(x_reference[1])}</text>')
        for name, grid in panel_grids.items():
            curve = len(points)
            points.append([_points(x_pixels, row, y_low, y_high, bottom, top) for row in grid])
            scales.append([x_low, x_high, left, right, y_low, y_high, bottom, top])
            colour = OKABE_ITO[CURVE_COLOURS[curve % len(CURVE_COLOURS)]]
            drawing.append(
                f'<polyline data-curve="{curve}" fill="none" stroke="{colour}" stroke-width="3" '
                f'points="{points[curve][start]}"/>'
            )
            legend.append(f'<span style="color:{colour}">&#9632;</span> {html.escape(name)}')

    payload = json.dumps({"labels": labels, "curves": points, "scales": scales}, separators=(",", ":"))
    # Inside <script> the text "</script>" would end the element: escape the characters HTML reads.
    payload = payload.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")
    fingerprint = json.dumps([payload, description, slider_label, x_label, start, drawing, legend])
    element_id = "slider-figure-" + hashlib.sha1(fingerprint.encode()).hexdigest()[:12]
    height = panel_height * len(panels)
    markup = (
        f'<figure class="slider-figure" id="{element_id}" style="max-width:{WIDTH}px;margin:0">'
        f'<svg viewBox="0 0 {WIDTH} {height}" role="img" aria-label="{html.escape(description)}" '
        f'fill="currentColor" style="width:100%;height:auto;font:16px sans-serif">{"".join(drawing)}</svg>'
        f'<figcaption style="font:16px sans-serif">{" &nbsp; ".join(legend)}<br>'
        f"<label>{html.escape(slider_label)} "
        f'<input type="range" min="0" max="{slider_values.size - 1}" step="1" value="{start}"></label> '
        f'<output aria-live="polite">{html.escape(labels[start])}</output></figcaption>'
        f'<script type="application/json">{payload}</script>'
        f"<script>{_SCRIPT % {'id': json.dumps(element_id)}}</script></figure>"
    )
    # Character references keep labels such as "ρ" intact on a page that declares no encoding; the scripts
    # are ASCII already (json.dumps escapes the rest), so no reference lands where HTML would not decode it.
    return SliderFigure(markup.encode("ascii", "xmlcharrefreplace").decode("ascii"))


def slider_figure(
    x: Sequence[float] | np.ndarray,
    slider_values: Sequence[float] | np.ndarray,
    curves: Mapping[str, np.ndarray],
    *,
    slider_label: str,
    x_label: str,
    y_label: str,
    description: str,
    value_format: str = "{:g}",
    y_limits: tuple[float, float] | None = None,
    y_reference: tuple[float, str] | None = None,
    readouts: Sequence[str] | None = None,
    initial_value: float | None = None,
    x_reference: tuple[float, str] | None = None,
) -> SliderFigure:
    """Return a self-contained HTML figure whose slider chooses one of several precomputed curves.

    One panel of :func:`slider_panels`: for slider position :math:`k` each curve :math:`c` is
    the polyline through :math:`(x_i, y_{c,k,i})`, on axes fixed over the whole grid.

    Parameters
    ----------
    x : array_like
        The horizontal coordinates shared by every curve, shape ``(n,)``.
    slider_values : array_like
        The values the slider steps through, in order, shape ``(K,)``.
    curves : mapping
        Curve name to an array of shape ``(K, n)``: row ``k`` is the curve drawn when the
        slider is at ``slider_values[k]``; the names form the legend.
    slider_label, x_label, y_label : str
        Labels of the slider and the axes.
    description : str
        Alternative text of the figure (read by screen readers).
    value_format : str
        Format of the slider's value in its readout.
    y_limits, y_reference
        As in :class:`Panel`.
    readouts, initial_value, x_reference
        As in :func:`slider_panels`.

    Returns
    -------
    SliderFigure
        The figure (its HTML in ``.data``); a notebook cell displays it and the book keeps
        it working.

    Raises
    ------
    ValueError
        If a curve's shape is not ``(len(slider_values), len(x))``, there is no curve or
        a value is not finite (and as :func:`slider_panels`).
    """
    return slider_panels(
        x,
        slider_values,
        [Panel(curves, y_label, y_limits, y_reference)],
        slider_label=slider_label,
        x_label=x_label,
        description=description,
        value_format=value_format,
        readouts=readouts,
        initial_value=initial_value,
        x_reference=x_reference,
    )
