"""Wald intervals: an estimate plus or minus a t or normal quantile times its standard error."""

from __future__ import annotations

import numpy as np
from scipy import stats


def wald_limits(estimate: np.ndarray, std_error: np.ndarray, conf_level: float,
                df: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Limits :math:`\\hat\\beta \\mp q\\,\\mathrm{SE}` with :math:`q` the
    :math:`(1+\\ell)/2` quantile of :math:`t_{df}` (or of N(0, 1) when ``df`` is None)."""
    q = (1 + conf_level) / 2
    multiplier = stats.norm.ppf(q) if df is None else stats.t.ppf(q, df)
    estimate, std_error = np.asarray(estimate, dtype=float), np.asarray(std_error, dtype=float)
    return estimate - multiplier * std_error, estimate + multiplier * std_error
