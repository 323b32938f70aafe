"""Columns of the data as R sees them: numeric, logical or factor, and factor coding.

R turns a character column into a factor whose levels are sorted (in the C locale), a
logical column into ``FALSE < TRUE`` and numbers into levels sorted numerically, each
labelled as ``as.character`` writes it; :func:`factor_codes` does the same and
:func:`interaction_codes` builds ``a:b``.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from mlmtools.formula import format_r_number
from mlmtools.frame.dates import is_time_column, time_labels


def column_kind(series: pd.Series) -> str:
    """``"bool"``, ``"numeric"``, ``"datetime"`` (dates and date-times, R's ``Date`` and
    ``POSIXct``), ``"timedelta"`` or ``"categorical"`` (strings, categoricals, objects)."""
    if isinstance(series.dtype, (pd.CategoricalDtype, pd.StringDtype)):
        return "categorical"
    if pd.api.types.is_bool_dtype(series.dtype):
        return "bool"
    if pd.api.types.is_timedelta64_dtype(series.dtype):
        return "timedelta"
    if is_time_column(series):
        return "datetime"
    if pd.api.types.is_numeric_dtype(series.dtype):
        return "numeric"
    present = series.dropna()
    if len(present) and all(isinstance(v, (bool, np.bool_)) for v in present):
        return "bool"
    return "categorical"


def is_ordered(series: pd.Series) -> bool:
    """Whether a column is an ordered categorical (R's ordered factor)."""
    return isinstance(series.dtype, pd.CategoricalDtype) and bool(series.dtype.ordered)


def as_float(series: pd.Series) -> np.ndarray:
    """A new float array of a numeric column, NaN where missing."""
    if isinstance(series.dtype, np.dtype) and series.dtype.kind in "iuf":
        return np.array(series.to_numpy(), dtype=float)
    return series.to_numpy(dtype=float, na_value=np.nan)


class KeptRows:
    """The data frame ``data.loc[keep, :]`` as far as the model frame needs it (``len`` and
    column access by name), each column selected and copied once, on first use."""

    def __init__(self, data: pd.DataFrame, keep: np.ndarray, n_kept: int):
        self._data, self._keep, self._n_kept = data, keep, n_kept
        self._columns: dict[str, pd.Series] = {}

    def __len__(self) -> int:
        return self._n_kept

    def __getitem__(self, name: str) -> pd.Series:
        if name not in self._columns:
            series = self._data[name]
            self._columns[name] = series.copy() if self._n_kept == len(series) else series[self._keep]
        return self._columns[name]


def _level_label(value: Any, integer: bool) -> str:
    """A value as R's ``as.character`` labels a factor level."""
    if isinstance(value, (bool, np.bool_)):
        return "TRUE" if value else "FALSE"
    if isinstance(value, (int, np.integer)) or (integer and float(value).is_integer()):
        return str(int(value))
    if isinstance(value, (float, np.floating)):
        return format_r_number(float(value))
    return str(value)


def factor_codes(series: pd.Series) -> tuple[np.ndarray, list[str]]:
    """Each row's position in the list of possible levels (-1 if missing), and that list in
    R's order.

    Categoricals keep their category order; booleans are FALSE < TRUE; numbers are sorted
    numerically; dates and times by time, labelled as R's ``factor`` labels them; strings are
    sorted by code point (R's order in the C locale). Two entries
    of the list may carry the same label (two doubles that print alike); rows are matched to
    levels by label.
    """
    kind = column_kind(series)
    if kind == "datetime":
        return time_labels(series)
    if kind == "categorical" and not isinstance(series.dtype, pd.CategoricalDtype):
        if isinstance(series.dtype, pd.StringDtype):
            first_seen, uniques = series.factorize()  # missing values get -1
        else:
            first_seen, uniques = pd.factorize(np.array([None if pd.isna(v) else str(v) for v in series],
                                                        dtype=object))
        labels = [str(label) for label in uniques]
        order = sorted(labels)
        position = {label: i for i, label in enumerate(order)}
        recode = np.array([position[label] for label in labels] + [-1], dtype=np.intp)
        return recode[first_seen], order
    missing = series.isna().to_numpy()
    codes = np.full(len(series), -1, dtype=np.intp)
    if isinstance(series.dtype, pd.CategoricalDtype):
        integer = pd.api.types.is_integer_dtype(series.dtype.categories.dtype)
        order = [_level_label(c, integer) for c in series.dtype.categories]
        codes[~missing] = series.cat.codes.to_numpy()[~missing]
    elif kind == "bool":
        order = ["FALSE", "TRUE"]
        codes[~missing] = [1 if v else 0 for v in series.to_numpy(dtype=object)[~missing]]
    else:
        integer = pd.api.types.is_integer_dtype(series.dtype)
        unique, inverse = np.unique(as_float(series)[~missing], return_inverse=True)
        order = [_level_label(u, integer) for u in unique]
        codes[~missing] = inverse
    return codes, order



def interaction_codes(codes: np.ndarray, order: list[str], other_codes: np.ndarray,
                 other_order: list[str]) -> tuple[np.ndarray, list[str]]:
    """Positions and level list of ``a:b`` from those of ``a`` and ``b``.

    The level list is every combination ``"a:b"`` with ``a`` varying slowest; when labels
    cannot collide (no repeated label, no ``":"`` in one) only the combinations that occur
    are listed, which keeps their order and saves building the full product.
    """
    combined = np.where((codes >= 0) & (other_codes >= 0), codes * len(other_order) + other_codes, -1)
    distinct = len(set(order)) == len(order) and len(set(other_order)) == len(other_order)
    if distinct and not any(":" in label for label in order + other_order):
        occurring, inverse = np.unique(combined[combined >= 0], return_inverse=True)
        compact = np.full(combined.shape, -1, dtype=np.intp)
        compact[combined >= 0] = inverse
        width = len(other_order)
        return compact, [f"{order[c // width]}:{other_order[c % width]}" for c in occurring.tolist()]
    return combined, [f"{left}:{right}" for left in order for right in other_order]
