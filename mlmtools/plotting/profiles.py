"""Profile zeta plots of a linear mixed model (lme4's ``xyplot(profile(m))``): the signed root
of the likelihood-ratio statistic along each parameter, from which ``confint(method="profile")``
reads its intervals.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import matplotlib.pyplot as plt
from matplotlib.axes import Axes
from scipy import stats

from mlmtools.lmm.profile_traces import profile_zeta
from mlmtools.plotting.course_style import OKABE_ITO, label_axes

#: Panels per row of a new figure.
PANELS_PER_ROW = 3


def profile_zeta_plot(fit: Any, level: float = 0.95, n_points: int = 6,
                      axes: Sequence[Axes] | None = None) -> list[Axes]:
    """:math:`\\zeta(\\psi)` against :math:`\\psi` for every parameter of an lmer fit, one panel each
    (variance parameters on the standard-deviation and correlation scale, ``sigma``, then the
    fixed effects), from :func:`mlmtools.lmm.profile_traces.profile_zeta`:

    .. math:: \\zeta(\\psi) = \\mathrm{sign}(\\psi - \\hat\\psi)\\sqrt{d(\\psi) - d(\\hat\\psi)}

    with :math:`d` the ML deviance profiled over the other parameters, from the estimate out to
    :math:`\\zeta = \\pm z_{(1+\\ell)/2}`.  A straight line means the Wald interval is as good as
    the profile one.  Dotted lines mark :math:`\\pm z` and the ends of the profile interval
    (``confint(method="profile", level=level)``), the curve's first and last points.

    Parameters
    ----------
    fit : ~mlmtools.lmm.result.LmerResult
    level : float
        Level of the interval the curve spans.
    n_points : int
        Profile points on each side of the estimate, ends included.
    axes : sequence of matplotlib.axes.Axes, optional
        One per parameter; a new figure (three panels a row) when None.

    Returns
    -------
    list of matplotlib.axes.Axes
        One per parameter: its first line is the profile (points sorted by :math:`\\psi`).

    Examples
    --------
    >>> from mlmtools.datasets import sleepstudy
    >>> from mlmtools.lmm import lmer
    >>> fit = lmer("Reaction ~ Days + (1 | Subject)", sleepstudy())
    >>> [ax.get_title() for ax in profile_zeta_plot(fit, n_points=3)]
    ['sd_(Intercept)|Subject', 'sigma', '(Intercept)', 'Days']
    """
    traces = profile_zeta(fit, level=level, n_points=n_points)
    names = list(dict.fromkeys(traces["parameter"]))
    if axes is None:
        n_rows = math.ceil(len(names) / PANELS_PER_ROW)
        n_cols = min(len(names), PANELS_PER_ROW)
        figure, grid = plt.subplots(n_rows, n_cols, squeeze=False, figsize=(2.4 * n_cols + 0.6, 2.3 * n_rows + 0.6))
        for extra in grid.ravel()[len(names):]:
            extra.set_visible(False)
        figure.suptitle("Profile zeta plots")
        panels = list(grid.ravel()[:len(names)])
    else:
        panels = list(axes)
        if len(panels) != len(names):
            raise ValueError(f"the fit has {len(names)} parameters to profile; got {len(panels)} axes")
    z = stats.norm.ppf((1 + level) / 2)
    for ax, name in zip(panels, names):
        trace = traces[traces["parameter"] == name].sort_values("value")
        label_axes(ax, name, "value", "ζ")
        ax.plot(trace["value"], trace["zeta"], "-o", color=OKABE_ITO["blue"], markersize=3)
        for bound in (-z, z):
            ax.axhline(bound, color=OKABE_ITO["black"], linestyle=":", linewidth=0.8)
        for end in (trace["value"].min(), trace["value"].max()):
            ax.axvline(float(end), color=OKABE_ITO["vermillion"], linestyle=":", linewidth=0.8)
    return panels
