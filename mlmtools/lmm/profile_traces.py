"""Profile traces of a linear mixed model: the signed root of the likelihood-ratio statistic along
each parameter (lme4's ``profile(m)``), for profile zeta plots
(:func:`mlmtools.plotting.profiles.profile_zeta_plot`).

The profiles are those of :mod:`mlmtools.lmm.intervals`, whose end points are the
``confint(method="profile")`` limits; this module evaluates them on a grid between the limits.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy import stats

from mlmtools.lmm.intervals import (
    ProfiledFit,
    _fixed_interval,
    _fixed_profile,
    _ml_state,
    _variance_interval,
    _variance_profile,
    parameter_names,
)


def profile_zeta(fit: ProfiledFit, level: float = 0.95, n_points: int = 6) -> pd.DataFrame:
    """The profile traces behind the profile intervals (lme4's ``profile(m)``, for its zeta
    plots): :math:`\\zeta(\\psi)` at ``n_points`` evenly spaced values from each parameter's
    estimate out to each end of its interval at ``level`` (:func:`~mlmtools.lmm.intervals.profile`), ends included, so
    the first and last values of a parameter are its ``confint(method="profile")`` limits.

    Parameters
    ----------
    fit : ~mlmtools.lmm.result.LmerResult
    level : float
        Level of the interval the traces span.
    n_points : int
        Values on each side of the estimate (at least 1).

    Returns
    -------
    pandas.DataFrame
        Columns ``parameter`` (lme4's names, as :func:`~mlmtools.lmm.intervals.confint`), ``value`` and ``zeta``;
        per parameter the rows are sorted by value, the estimate (zeta 0) among them.

    Examples
    --------
    >>> from mlmtools.datasets import sleepstudy
    >>> from mlmtools.lmm import lmer
    >>> fit = lmer("Reaction ~ Days + (1 | Subject)", sleepstudy())
    >>> trace = profile_zeta(fit, n_points=2)
    >>> trace[trace["parameter"] == "Days"]["zeta"].round(2).tolist()
    [-1.96, -0.98, 0.0, 0.98, 1.96]
    """
    if not 0 < level < 1:
        raise ValueError(f"level must be between 0 and 1, got {level}")
    if isinstance(n_points, bool) or not isinstance(n_points, int) or n_points < 1:
        raise ValueError(f"n_points must be a positive integer, got {n_points!r}")
    z = stats.norm.ppf((1 + level) / 2)
    names = parameter_names(fit.state)
    ml = _ml_state(fit)
    profiles, limits = [], []
    for i in range(len(names)):
        trace, bounds = _variance_profile(ml, i)
        profiles.append(trace)
        limits.append(_variance_interval(trace, bounds, z))
    for j in range(len(ml.beta)):
        profiles.append(_fixed_profile(ml, j))
        limits.append(_fixed_interval(profiles[-1], z))
    steps = np.linspace(0.0, 1.0, n_points + 1)
    parts = []
    for name, trace, (lower, upper) in zip(names + list(fit.state.fixed_names), profiles, limits):
        values = np.unique(np.concatenate([trace.estimate + steps * (lower - trace.estimate),
                                           trace.estimate + steps * (upper - trace.estimate)]))
        parts.append(pd.DataFrame({"parameter": name, "value": values,
                                   "zeta": [trace.zeta(float(v)) for v in values]}))
    return pd.concat(parts, ignore_index=True)
