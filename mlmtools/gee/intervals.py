"""Wald intervals of a GEE fit, from the covariance its ``std_err`` chose (the robust sandwich by
default): for the coefficients (``confint``) and for predictions (``predict``).

With :math:`V` that covariance, a prediction at a row :math:`x` of the design has the
link-scale standard error :math:`\\sqrt{x^\\top V x}`; on the response scale the delta method
gives :math:`|d\\mu/d\\eta|\\sqrt{x^\\top V x}`, and the interval is the link-scale interval
mapped through the inverse link (so it stays inside the response's range).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd
from numpy.typing import NDArray
from scipy import stats

from mlmtools.frame import ModelFrame
from mlmtools.frame.checks import resolve_vector
from mlmtools.glmm.families import Family
from mlmtools.inference.wald import wald_limits
from mlmtools.lmm.intervals import _columns as interval_columns

FloatArray = NDArray[np.float64]

PREDICTION_TYPES = ("link", "response")
INTERVAL_METHODS = ("wald",)


def check_level(level: float) -> float:
    """A confidence level strictly between 0 and 1."""
    if isinstance(level, bool) or not isinstance(level, (int, float, np.floating)) or not 0 < level < 1:
        raise ValueError(f"level must be a number between 0 and 1, got {level!r}")
    return float(level)


def coefficient_intervals(estimate: pd.Series, vcov: pd.DataFrame, parm: str | Sequence[str] | None,
                          level: float, method: str) -> pd.DataFrame:
    """:math:`\\hat\\beta_j \\mp z_{(1+\\ell)/2}\\,\\mathrm{SE}_j` for the coefficients in ``parm``
    (all by default), as R's ``confint.default``: columns ``"2.5 %"``, ``"97.5 %"`` for 95%."""
    if method not in INTERVAL_METHODS:
        raise ValueError(f"GEE fits have Wald intervals only: method must be 'wald', got {method!r}")
    level = check_level(level)
    names = list(estimate.index) if parm is None else [parm] if isinstance(parm, str) else list(parm)
    unknown = [name for name in names if name not in estimate.index]
    if unknown:
        raise KeyError(f"no coefficient named {', '.join(map(repr, unknown))}; the coefficients are "
                       f"{', '.join(map(repr, estimate.index))}")
    std_err = np.sqrt(np.diag(vcov.loc[names, names].to_numpy()))
    lower, upper = wald_limits(estimate[names].to_numpy(), std_err, level)
    return pd.DataFrame(np.column_stack([lower, upper]), index=names, columns=interval_columns(level))


def new_design(frame: ModelFrame, newdata: pd.DataFrame,
               offset_column: str | None) -> tuple[FloatArray, FloatArray]:
    """The design :math:`X_{new}` and the offset of new rows: the formula's ``offset()`` terms
    plus the ``offset`` column, both evaluated in ``newdata`` (as R's ``predict.glm`` does)."""
    if not isinstance(newdata, pd.DataFrame):
        raise TypeError(f"newdata must be a pandas DataFrame, got {type(newdata).__name__}")
    X = frame.fixed_matrix(newdata)
    offset = np.zeros(len(newdata))
    formula_offset = frame.formula_offset(newdata)
    if formula_offset is not None:
        offset = offset + formula_offset
    if offset_column is not None:
        offset = offset + resolve_vector(offset_column, newdata, "offset")[0]
    return X, offset


def prediction_table(X: FloatArray, offset: FloatArray, beta: FloatArray, vcov: FloatArray, family: Family,
                     index: pd.Index, type: str, se_fit: bool, interval: str | None,
                     level: float) -> pd.Series | pd.DataFrame:
    """Predictions :math:`\\hat\\eta = X\\hat\\beta + o` (``type="link"``) or
    :math:`g^{-1}(\\hat\\eta)` (``"response"``), with standard errors and intervals as the module
    docstring says; a Series named ``predicted`` unless ``se_fit`` or ``interval`` asks for more."""
    if type not in PREDICTION_TYPES:
        raise ValueError(f"type must be 'link' or 'response', got {type!r}")
    if interval not in (None, "confidence"):
        raise ValueError(f"interval must be None or 'confidence', got {interval!r}")
    level = check_level(level)
    eta = X @ beta + offset
    fit = eta if type == "link" else family.linkinv(eta)
    if not se_fit and interval is None:
        return pd.Series(fit, index=index, name="predicted")
    se_link = np.sqrt(np.einsum("ij,jk,ik->i", X, vcov, X))
    se = se_link if type == "link" else np.abs(family.mu_eta(eta)) * se_link
    table = pd.DataFrame({"fit": fit, "se_fit": se}, index=index)
    if interval == "confidence":
        z = stats.norm.ppf((1 + level) / 2)
        ends = np.column_stack([eta - z * se_link, eta + z * se_link])
        if type == "response":
            ends = np.sort(family.linkinv(ends), axis=1)
        table["lwr"], table["upr"] = ends[:, 0], ends[:, 1]
    return table
