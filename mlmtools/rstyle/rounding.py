"""Rounding before printing: tables and single numbers rounded by R's rule, then printed.

:func:`round_frame` is R's ``round`` of a table or a named vector, :func:`print_rounded`
``print(round(df, digits))`` and :func:`format_rounded` ``cat(round(x, d))``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import overload

import numpy as np
import pandas as pd

from mlmtools.rstyle.numbers import format_number, format_vector, round_r
from mlmtools.rstyle.tables import print_dataframe

_ROW_NAME_STYLES = ("index", "numbered", "none")


def _round_column(column: pd.Series, digits: int) -> pd.Series:
    """One numeric column rounded by :func:`~mlmtools.rstyle.numbers.round_r`; integer columns stay integers."""
    if pd.api.types.is_integer_dtype(column.dtype):
        if digits >= 0:
            return column.copy()
        return pd.Series(round_r(column.to_numpy(dtype=float), digits), index=column.index,
                         name=column.name).astype(column.dtype)
    values = column.to_numpy(dtype=float, na_value=np.nan)
    return pd.Series(np.atleast_1d(round_r(values, digits)), index=column.index, name=column.name)


def _is_roundable(column: pd.Series) -> bool:
    return pd.api.types.is_numeric_dtype(column.dtype) and not pd.api.types.is_bool_dtype(column.dtype)


def _check_digits(digits: object, what: str) -> int:
    if isinstance(digits, bool) or not isinstance(digits, (int, np.integer)):
        raise TypeError(f"{what} must be an integer number of decimals, got {digits!r}")
    return int(digits)


@overload
def round_frame(frame: pd.DataFrame, digits: int | Mapping[str, int]) -> pd.DataFrame: ...
@overload
def round_frame(frame: pd.Series, digits: int | Mapping[str, int]) -> pd.Series: ...
def round_frame(
    frame: pd.DataFrame | pd.Series, digits: int | Mapping[str, int]
) -> pd.DataFrame | pd.Series:
    """Round the numbers of a table, or of a named vector, with R's rounding rule.

    Every value :math:`x` of a rounded column becomes :func:`~mlmtools.rstyle.numbers.round_r` ``(x, d)``, the
    representable number closest to :math:`x` among those with :math:`d` decimals
    (R >= 4.0 ``round``); :math:`d < 0` rounds to tens, hundreds, and so on.

    R equivalents: ``round(x, d)`` for a named vector;
    ``mutate(df, across(where(is.numeric), ~ round(.x, d)))`` for a data frame; a dict of
    digits rounds each named column with its own :math:`d`, as separate
    ``mutate(df, a = round(a, 2), b = round(b, 3))`` calls would.

    Parameters
    ----------
    frame : pandas.DataFrame or pandas.Series
        The table (text and logical columns are left as they are) or a numeric named
        vector.
    digits : int or dict
        Decimals for every numeric column, or for the named columns only (columns not
        named are left unrounded). A Series takes an int.

    Returns
    -------
    pandas.DataFrame or pandas.Series
        A rounded copy with the same index, columns and names. Integer columns keep
        their integer type (rounding them to :math:`d \\ge 0` decimals changes nothing).

    Raises
    ------
    TypeError
        If ``digits`` is not an integer (or a mapping of integers), if a column named in
        ``digits`` or the Series is not numeric, or if ``frame`` is neither a DataFrame
        nor a Series.
    KeyError
        If ``digits`` names a column the table does not have.
    """
    if isinstance(frame, pd.Series):
        places = _check_digits(digits, "digits for a Series")
        if not _is_roundable(frame):
            raise TypeError(f"cannot round a Series of dtype {frame.dtype}; it must be numeric")
        return _round_column(frame, places)
    if not isinstance(frame, pd.DataFrame):
        raise TypeError(f"round_frame needs a pandas DataFrame or Series, got {type(frame).__name__}")
    if isinstance(digits, Mapping):
        unknown = [name for name in digits if name not in frame.columns]
        if unknown:
            raise KeyError(f"digits names columns the table does not have: {unknown}")
        plan = {name: _check_digits(places, f"digits[{name!r}]") for name, places in digits.items()}
        not_numeric = [name for name in plan if not _is_roundable(frame[name])]
        if not_numeric:
            raise TypeError(f"digits names columns that are not numeric: {not_numeric}")
    else:
        places = _check_digits(digits, "digits")
        plan = {name: places for name in frame.columns if _is_roundable(frame[name])}
    rounded = frame.copy()
    for name, places in plan.items():
        rounded[name] = _round_column(frame[name], places)
    return rounded


def print_rounded(
    frame: pd.DataFrame,
    digits: int | Mapping[str, int] | None = None,
    row_names: str = "index",
) -> str:
    """Round a data frame with R's rule, then print it as R's ``print.data.frame``.

    The text is :func:`~mlmtools.rstyle.tables.print_dataframe` of :func:`round_frame` ``(frame, digits)``: each
    numeric column is laid out on its own with up to 7 significant digits, so a column
    rounded to :math:`d` decimals shows at most :math:`d` of them.

    R equivalents, by ``row_names``:

    * ``"index"``: ``print(round(df, d))`` with the frame's index as R's row names;
    * ``"numbered"``: the same with R's automatic row names ``1, 2, ..., n`` (a data frame
      built by ``data.frame()``, ``as.data.frame()`` or a tibble converted to one);
    * ``"none"``: ``print(round(df, d), row.names = FALSE)``.

    Parameters
    ----------
    frame : pandas.DataFrame
        The table to print.
    digits : int, dict or None
        Passed to :func:`round_frame`; ``None`` prints the numbers unrounded.
    row_names : {"index", "numbered", "none"}
        Which row names to print.

    Returns
    -------
    str
        The printed table, without a final newline.

    Raises
    ------
    ValueError
        If ``row_names`` is not one of the three styles.
    """
    if row_names not in _ROW_NAME_STYLES:
        raise ValueError(f"row_names must be one of {_ROW_NAME_STYLES}, got {row_names!r}")
    if not isinstance(frame, pd.DataFrame):
        raise TypeError(f"print_rounded needs a pandas DataFrame, got {type(frame).__name__}")
    table = frame if digits is None else round_frame(frame, digits)
    if row_names == "numbered":
        table = table.set_axis(pd.RangeIndex(1, len(table) + 1), axis=0)
    elif row_names == "none":
        table = table.set_axis(pd.Index([""] * len(table)), axis=0)
    return print_dataframe(table)


def format_rounded(x: float, decimals: int, nsmall: bool = False) -> str:
    """One number rounded to ``decimals`` decimals with R's rule, written as R writes it.

    The value is :math:`\\operatorname{round}(x, d)` (:func:`~mlmtools.rstyle.numbers.round_r`) shown with up to 7
    significant digits. By default trailing zeros are dropped, as R's
    ``cat(round(x, d))`` does (``1.5``); with ``nsmall=True`` the text always has
    :math:`d` decimals, as R's ``format(round(x, d), nsmall = d)`` (``1.50``).

    Parameters
    ----------
    x : float
        The number.
    decimals : int
        Decimals :math:`d` to round to (:math:`d < 0` rounds to tens, hundreds, ...).
    nsmall : bool
        Pad with zeros to exactly :math:`d` decimals (only for :math:`d > 0`).

    Returns
    -------
    str
        The formatted number, without padding blanks.
    """
    places = _check_digits(decimals, "decimals")
    value = round_r(float(x), places)
    if nsmall and places > 0:
        return format_vector([value], nsmall=places)[0]
    return format_number(value)
