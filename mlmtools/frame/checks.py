"""Checks of the data a formula uses: columns present, unique, finite, and missing rows.

Each check raises an error that names the column and, for a misspelt name, suggests close
ones; :func:`missing_mask` finds the rows R's ``na.omit`` drops.
"""

from __future__ import annotations

import difflib
from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

from mlmtools.formula import Bar, Binary, Call, FixedSpec, Name, Node, Paren, Unary, data_arguments, format_r_number
from mlmtools.frame.columns import KeptRows, as_float, column_kind


class ColumnNotFoundError(KeyError, ValueError):
    """A formula (or ``weights``/``offset``/``extra_columns``) names a column the data lacks."""

    def __str__(self) -> str:
        return str(self.args[0]) if self.args else ""



def column_names_in(node: Node) -> list[str]:
    if isinstance(node, Name):
        return [node.name]
    if isinstance(node, Call):
        return [name for arg in data_arguments(node) for name in column_names_in(arg)]
    if isinstance(node, Unary):
        return column_names_in(node.operand)
    if isinstance(node, Paren):
        return column_names_in(node.inner)
    if isinstance(node, Binary):
        return column_names_in(node.left) + column_names_in(node.right)
    if isinstance(node, Bar):
        return column_names_in(node.effects) + column_names_in(node.group)
    return []


def spec_columns(spec: FixedSpec) -> list[str]:
    used = [label for label in spec.variables if any(label in term for term in spec.terms)]
    return list(dict.fromkeys(name for label in used for name in column_names_in(spec.variables[label])))


def require_columns(data: pd.DataFrame, names: Sequence[str], where: str,
                     source: str = "data") -> None:
    for name in names:
        if name not in data.columns:
            close = difflib.get_close_matches(name, [str(c) for c in data.columns], n=3)
            hint = f"; did you mean {' or '.join(repr(c) for c in close)}?" if close else ""
            raise ColumnNotFoundError(f"column '{name}' (used in {where}) not found in "
                                      f"{source}{hint}")


def check_unique_columns(data: pd.DataFrame, names: Sequence[str]) -> None:
    if data.columns.is_unique:
        return
    for name in names:
        count = int((data.columns == name).sum())
        if count > 1:
            raise ValueError(f"column '{name}' appears {count} times in data; give the columns "
                             "unique names")


def resolve_vector(value: Any, data: pd.DataFrame, what: str) -> tuple[np.ndarray, str]:
    """A weights/offset argument given as a column name or an array, and its display name."""
    if isinstance(value, str):
        require_columns(data, [value], what)
        series = data[value]
        if column_kind(series) != "numeric":
            raise TypeError(f"{what} column '{value}' must be numeric")
        return as_float(series), value
    array = np.asarray(value, dtype=float).reshape(-1)
    if array.shape[0] != len(data):
        raise ValueError(f"{what} has length {array.shape[0]} but data has {len(data)} rows")
    return array, f"({what})"


def check_response_varies(y: np.ndarray, label: str) -> None:
    """A constant response leaves nothing to model (the residual variance would be 0)."""
    if y.size and np.all(y == y[0]):
        raise ValueError(f"response '{label}' is constant (every value is "
                         f"{format_r_number(float(y[0]))}); there is no variation to model")


def check_numeric_columns(data: pd.DataFrame | KeptRows, names: Sequence[str]) -> None:
    for name in names:
        series = data[name]
        if column_kind(series) == "numeric" and np.isinf(as_float(series)).any():
            raise ValueError(f"column '{name}' contains infinite values")


def missing_mask(columns: dict[str, Any], n: int) -> tuple[np.ndarray, list[str]]:
    mask = np.zeros(n, dtype=bool)
    culprits = []
    for name, values in columns.items():
        missing = np.asarray(pd.isna(values), dtype=bool).reshape(n)
        if missing.any():
            culprits.append(name)
            mask |= missing
    return mask, culprits


def check_finite(matrix: np.ndarray, names: Sequence[str], where: str) -> None:
    bad = ~np.isfinite(matrix)
    if bad.any():
        column = names[int(np.nonzero(bad.any(axis=0))[0][0])]
        row = int(np.nonzero(bad.any(axis=1))[0][0])
        raise ValueError(f"column '{column}' of {where} has an infinite or undefined value "
                         f"(first at row {row} of the rows kept)")


#: lme4's ``checkScaleX`` tolerance: standard deviations (and their ratios) beyond a factor 1000.
SCALE_TOLERANCE = 1e3


def on_different_scales(matrix: np.ndarray) -> bool:
    r"""lme4's ``checkScaleX``: whether the columns that are not all 0/1 have a standard deviation
    :math:`s_j` with :math:`|\log s_j| > \log 1000`, or two of them a ratio
    :math:`|\log(s_j/s_k)| > \log 1000` (lme4 then warns "Some predictor variables are on very
    different scales: consider rescaling")."""
    continuous = matrix[:, ~np.isin(matrix, (0.0, 1.0)).all(axis=0)]
    if continuous.shape[1] == 0 or continuous.shape[0] < 2:
        return False
    with np.errstate(divide="ignore"):
        log_sd = np.log(continuous.std(axis=0, ddof=1))
    limit = np.log(SCALE_TOLERANCE)
    return bool((np.abs(log_sd) > limit).any() or (np.abs(log_sd[:, None] - log_sd[None, :]) > limit).any())
