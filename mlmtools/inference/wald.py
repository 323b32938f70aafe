"""Wald intervals: an estimate plus or minus a t or normal quantile times its standard error; the
column labels R gives them; and the Wald table of a model's fixed-part predictions, shared by
lmer, glmer and GEE fits.

A prediction at a row :math:`x` of the fixed-effects design has the link-scale standard error
:math:`\\sqrt{x^\\top V x}` (:math:`V` the covariance of :math:`\\hat\\beta`); on the response
scale the delta method gives :math:`|d\\mu/d\\eta|\\sqrt{x^\\top V x}`, and the interval is the
link-scale interval mapped through the inverse link (so it stays inside the response's range).
"""

from __future__ import annotations

from typing import Protocol

import numpy as np
import pandas as pd
from scipy import stats

PREDICTION_INTERVALS = (None, "confidence")


class ResponseScale(Protocol):
    """What a response-scale prediction needs of a family: :math:`g^{-1}` and :math:`d\\mu/d\\eta`."""

    def linkinv(self, eta: np.ndarray) -> np.ndarray:
        """:math:`\\mu = g^{-1}(\\eta)`."""

    def mu_eta(self, eta: np.ndarray) -> np.ndarray:
        """:math:`d\\mu/d\\eta`."""


def wald_limits(estimate: np.ndarray, std_error: np.ndarray, conf_level: float,
                df: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Limits :math:`\\hat\\beta \\mp q\\,\\mathrm{SE}` with :math:`q` the
    :math:`(1+\\ell)/2` quantile of :math:`t_{df}` (or of N(0, 1) when ``df`` is None).

    Examples
    --------
    >>> from mlmtools.inference.wald import wald_limits
    >>> [round(float(v[0]), 3) for v in wald_limits([1.0], [0.5], 0.95)]
    [0.02, 1.98]
    """
    q = (1 + conf_level) / 2
    multiplier = stats.norm.ppf(q) if df is None else stats.t.ppf(q, df)
    estimate, std_error = np.asarray(estimate, dtype=float), np.asarray(std_error, dtype=float)
    return estimate - multiplier * std_error, estimate + multiplier * std_error


def wald_table(beta: np.ndarray, vcov: np.ndarray, variance_names: list[str], fixed_names: list[str],
               level: float) -> pd.DataFrame:
    """lme4's ``confint(method = "Wald")``: NaN rows for the variance parameters, then
    :math:`\\hat\\beta_j \\mp z_{(1+\\ell)/2}\\,\\mathrm{SE}_j` with
    :math:`\\mathrm{SE}_j = \\sqrt{V_{jj}}`.

    Examples
    --------
    >>> import numpy as np
    >>> from mlmtools.inference.wald import wald_table
    >>> print(wald_table(np.array([1.0]), np.array([[0.25]]), ["sigma"], ["x"], 0.95).round(3))
           2.5 %  97.5 %
    sigma    NaN     NaN
    x       0.02    1.98
    """
    z = stats.norm.ppf((1 + level) / 2)
    se = np.sqrt(np.diag(vcov))
    values = np.vstack([np.full((len(variance_names), 2), np.nan), np.column_stack([beta - z * se, beta + z * se])])
    return pd.DataFrame(values, index=list(variance_names) + list(fixed_names), columns=interval_columns(level))


def check_level(level: float) -> float:
    """A confidence level strictly between 0 and 1 (a clear error otherwise)."""
    if isinstance(level, bool) or not isinstance(level, (int, float, np.floating)) or not 0 < level < 1:
        raise ValueError(f"level must be a number between 0 and 1, got {level!r}")
    return float(level)


def interval_columns(level: float) -> list[str]:
    """R's labels of an interval's two columns (``format.perc`` of ``confint``): both tail
    probabilities :math:`100(1-\\ell)/2` and :math:`100(1+\\ell)/2`, formatted together with 3
    significant digits and never in scientific notation, then ``" %"``.

    Examples
    --------
    >>> from mlmtools.inference.wald import interval_columns
    >>> interval_columns(0.95), interval_columns(0.9), interval_columns(0.999)
    (['2.5 %', '97.5 %'], ['5 %', '95 %'], ['0.05 %', '99.95 %'])
    """
    lower = (1 - level) / 2
    percents = [100 * lower, 100 * (1 - lower)]
    decimals = 0
    for value in percents:
        mantissa, exponent = f"{value:.2e}".split("e")
        significant = len(mantissa.replace(".", "").rstrip("0")) or 1
        decimals = max(decimals, significant - 1 - int(exponent))
    return [f"{value:.{decimals}f} %" for value in percents]


def fixed_part_predictions(X: np.ndarray, beta: np.ndarray, vcov: np.ndarray, offset: np.ndarray | None,
                           index: pd.Index, interval: str | None = None, level: float = 0.95,
                           response_scale: ResponseScale | None = None) -> pd.DataFrame:
    """The fixed part of a model's predictions with its standard errors and, with
    ``interval="confidence"``, its Wald interval:

    .. math::
        \\hat\\eta = X_{new}\\hat\\beta + o, \\qquad
        \\mathrm{SE}(\\hat\\eta) = \\sqrt{\\mathrm{diag}(X_{new} V X_{new}^\\top)}, \\qquad
        \\hat\\eta \\mp z_{(1+\\ell)/2}\\,\\mathrm{SE}(\\hat\\eta)

    on the link scale (``response_scale=None``), or on the response scale :math:`g^{-1}(\\hat\\eta)`
    with :math:`|d\\mu/d\\eta|\\,\\mathrm{SE}(\\hat\\eta)` and the interval's ends mapped by
    :math:`g^{-1}`.

    Parameters
    ----------
    X, beta, vcov
        The design of the new rows, :math:`\\hat\\beta` and its covariance :math:`V`.
    offset
        The offset of the new rows, or None.
    index
        The rows' labels.
    interval : {None, "confidence"}
        Whether to add the columns ``lwr`` and ``upr``.
    level : float
        The confidence level :math:`\\ell`.
    response_scale
        The family (its ``linkinv`` and ``mu_eta``) for the response scale; None for the link scale.

    Returns
    -------
    pandas.DataFrame
        Columns ``fit`` and ``se_fit``, and ``lwr`` and ``upr`` with an interval.

    Examples
    --------
    >>> import numpy as np, pandas as pd
    >>> from mlmtools.inference.wald import fixed_part_predictions
    >>> X = np.array([[1.0, 0.0], [1.0, 2.0]])
    >>> table = fixed_part_predictions(X, np.array([1.0, 0.5]), np.diag([0.04, 0.01]), None,
    ...                                pd.RangeIndex(2), interval="confidence")
    >>> table.round(3).to_numpy().tolist()
    [[1.0, 0.2, 0.608, 1.392], [2.0, 0.283, 1.446, 2.554]]
    """
    if interval not in PREDICTION_INTERVALS:
        raise ValueError(f"interval must be None or 'confidence', got {interval!r}")
    level = check_level(level)
    eta = X @ beta if offset is None else X @ beta + offset
    se = np.sqrt(np.einsum("ij,jk,ik->i", X, vcov, X))
    if response_scale is None:
        table = pd.DataFrame({"fit": eta, "se_fit": se}, index=index)
    else:
        table = pd.DataFrame({"fit": response_scale.linkinv(eta), "se_fit": np.abs(response_scale.mu_eta(eta)) * se},
                             index=index)
    if interval == "confidence":
        z = stats.norm.ppf((1 + level) / 2)
        ends = np.column_stack([eta - z * se, eta + z * se])
        if response_scale is not None:
            ends = np.sort(response_scale.linkinv(ends), axis=1)
        table["lwr"], table["upr"] = ends[:, 0], ends[:, 1]
    return table
