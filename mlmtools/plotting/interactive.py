"""Interactive figures that need no server: one slider driving precomputed curves.

The figure is plain HTML: an inline SVG, a range input and a short inline script that
swaps between curves computed in advance on a grid of slider values.  The grid travels
as JSON inside the page, so the figure works on a static HTML page (the book), without a
kernel, Binder or any script from a CDN, and the notebook's stored output is the same
bytes on every run (the element id is a hash of the data).

For slider position :math:`k` the figure draws, for every curve :math:`c`, the polyline
through the points :math:`(x_i, y_{c,k,i})`, on axes whose limits cover the whole grid so
the scale stays fixed while the slider moves.

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

In a notebook the last line of a cell is just ``figure`` (or ``display(figure)``); the
book renders it as a working slider.  Part VI does the same with the random-intercept SD
:math:`\\sigma_u` as the slider and the marginal (GEE) and conditional slopes as two
curves (``curves={"marginal": ..., "conditional": ...}``, each of shape
``(len(slider_values), len(x))``).
"""

from __future__ import annotations

import hashlib
import html
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from mlmtools.plotting.course_style import OKABE_ITO

#: Plot area of the SVG in its own units; the SVG scales to the width of the page.
WIDTH, HEIGHT = 640, 400
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


@dataclass(frozen=True)
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


def _scale(values: np.ndarray, low: float, high: float, start: float, end: float) -> np.ndarray:
    span = high - low if high > low else 1.0
    return start + (values - low) / span * (end - start)


def _ticks(low: float, high: float) -> np.ndarray:
    return np.linspace(low, high, 5)


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
) -> SliderFigure:
    """Return a self-contained HTML figure whose slider chooses one of several precomputed curves.

    Parameters
    ----------
    x : array of shape (n,)
        The horizontal coordinates shared by every curve.
    slider_values : array of shape (K,)
        The values the slider steps through, in order.
    curves : mapping of name to array of shape (K, n)
        Row ``k`` of each array is the curve drawn when the slider is at
        ``slider_values[k]``; the names form the legend.
    slider_label, x_label, y_label : str
        Labels of the slider and the axes.
    description : str
        Alternative text of the figure (read by screen readers).
    value_format : str
        Format of the slider's value in its readout.

    Returns
    -------
    SliderFigure
        The figure (its HTML in ``.data``); a notebook cell displays it and the book keeps
        it working.

    Raises
    ------
    ValueError
        If a curve's shape is not ``(len(slider_values), len(x))``, there is no curve or
        a value is not finite.
    """
    x = np.asarray(x, dtype=float)
    slider_values = np.asarray(slider_values, dtype=float)
    if x.ndim != 1 or slider_values.ndim != 1 or x.size < 2 or slider_values.size < 1:
        raise ValueError("x needs at least two values and slider_values at least one, both 1-D")
    if not curves:
        raise ValueError("slider_figure needs at least one curve")
    grids = {name: np.asarray(values, dtype=float) for name, values in curves.items()}
    expected = (slider_values.size, x.size)
    for name, grid in grids.items():
        if grid.shape != expected:
            raise ValueError(f"curve {name!r} has shape {grid.shape}; expected {expected}")
        if not np.all(np.isfinite(grid)):
            raise ValueError(f"curve {name!r} has values that are not finite")
    if not np.all(np.isfinite(x)) or not np.all(np.isfinite(slider_values)):
        raise ValueError("x and slider_values must be finite")

    y_low = min(float(grid.min()) for grid in grids.values())
    y_high = max(float(grid.max()) for grid in grids.values())
    left, right = MARGIN["left"], WIDTH - MARGIN["right"]
    top, bottom = MARGIN["top"], HEIGHT - MARGIN["bottom"]
    pixel_x = _scale(x, float(x.min()), float(x.max()), left, right)
    points = [
        [
            " ".join(f"{px:.1f},{py:.1f}" for px, py in zip(pixel_x, _scale(row, y_low, y_high, bottom, top)))
            for row in grid
        ]
        for grid in grids.values()
    ]
    labels = [value_format.format(value) for value in slider_values]
    data = {"labels": labels, "curves": points}
    payload = json.dumps(data, separators=(",", ":"))
    element_id = "slider-figure-" + hashlib.sha1(payload.encode()).hexdigest()[:12]

    axes = [
        f'<line x1="{left}" y1="{bottom}" x2="{right}" y2="{bottom}" stroke="#000"/>',
        f'<line x1="{left}" y1="{top}" x2="{left}" y2="{bottom}" stroke="#000"/>',
    ]
    for tick in _ticks(float(x.min()), float(x.max())):
        position = float(_scale(np.array(tick), float(x.min()), float(x.max()), left, right))
        axes.append(f'<text x="{position:.1f}" y="{bottom + 20}" text-anchor="middle">{tick:.3g}</text>')
    for tick in _ticks(y_low, y_high):
        position = float(_scale(np.array(tick), y_low, y_high, bottom, top))
        axes.append(f'<text x="{left - 6}" y="{position + 5:.1f}" text-anchor="end">{tick:.3g}</text>')
    axes.append(f'<text x="{(left + right) / 2}" y="{HEIGHT - 8}" text-anchor="middle">{html.escape(x_label)}</text>')
    axes.append(
        f'<text transform="translate(16 {(top + bottom) / 2}) rotate(-90)" text-anchor="middle">'
        f"{html.escape(y_label)}</text>"
    )
    lines = []
    legend = []
    for index, name in enumerate(grids):
        colour = OKABE_ITO[CURVE_COLOURS[index % len(CURVE_COLOURS)]]
        lines.append(
            f'<polyline data-curve="{index}" fill="none" stroke="{colour}" stroke-width="3" '
            f'points="{points[index][0]}"/>'
        )
        legend.append(f'<span style="color:{colour}">&#9632;</span> {html.escape(name)}')

    return SliderFigure(
        f'<figure class="slider-figure" id="{element_id}" style="max-width:{WIDTH}px;margin:0">'
        f'<svg viewBox="0 0 {WIDTH} {HEIGHT}" role="img" aria-label="{html.escape(description)}" '
        f'style="width:100%;height:auto;font:16px sans-serif">{"".join(axes)}{"".join(lines)}</svg>'
        f'<figcaption style="font:16px sans-serif">{" &nbsp; ".join(legend)}<br>'
        f"<label>{html.escape(slider_label)} "
        f'<input type="range" min="0" max="{slider_values.size - 1}" step="1" value="0"></label> '
        f"<output>{html.escape(labels[0])}</output></figcaption>"
        f'<script type="application/json">{payload}</script>'
        f"<script>{_SCRIPT % {'id': json.dumps(element_id)}}</script></figure>"
    )
