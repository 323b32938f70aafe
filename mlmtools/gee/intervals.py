"""Wald intervals of a GEE fit, from the covariance its ``std_err`` chose (the robust sandwich by
default): for the coefficients (``confint``) and for predictions (``predict``, the Wald table of
:func:`mlmtools.inference.wald.fixed_part_predictions` with that covariance).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd
from numpy.typing import NDArray

from mlmtools.frame import ModelFrame
from mlmtools.frame.checks import resolve_vector
from mlmtools.frame.inputs import as_pandas
from mlmtools.glmm.families import Family
from mlmtools.inference.wald import check_level, fixed_part_predictions, interval_columns, wald_limits

FloatArray = NDArray[np.float64]

PREDICTION_TYPES = ("link", "response")
INTERVAL_METHODS = ("wald",)


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


def new_design(frame: ModelFrame, newdata: Any,
               offset_column: str | None) -> tuple[FloatArray, FloatArray, pd.Index]:
    """The design :math:`X_{new}`, the offset and the row labels of new rows (any data frame
    :func:`~mlmtools.frame.inputs.as_pandas` reads): the offset is the formula's ``offset()``
    terms plus the ``offset`` column, both evaluated in ``newdata`` (as R's ``predict.glm``)."""
    newdata = as_pandas(newdata, "newdata")
    X = frame.fixed_matrix(newdata)
    offset = np.zeros(len(newdata))
    formula_offset = frame.formula_offset(newdata)
    if formula_offset is not None:
        offset = offset + formula_offset
    if offset_column is not None:
        offset = offset + resolve_vector(offset_column, newdata, "offset")[0]
    return X, offset, newdata.index


def prediction_table(X: FloatArray, offset: FloatArray, beta: FloatArray, vcov: FloatArray, family: Family,
                     index: pd.Index, type: str, se_fit: bool, interval: str | None,
                     level: float) -> pd.Series | pd.DataFrame:
    """Predictions :math:`\\hat\\eta = X\\hat\\beta + o` (``type="link"``) or
    :math:`g^{-1}(\\hat\\eta)` (``"response"``), with standard errors and intervals as the module
    docstring says (:func:`~mlmtools.inference.wald.fixed_part_predictions`); a Series named
    ``predicted`` unless ``se_fit`` or ``interval`` asks for more."""
    if type not in PREDICTION_TYPES:
        raise ValueError(f"type must be 'link' or 'response', got {type!r}")
    table = fixed_part_predictions(X, beta, vcov, offset, index, interval, level,
                                   response_scale=None if type == "link" else family)
    if not se_fit and interval is None:
        return table["fit"].rename("predicted")
    return table
