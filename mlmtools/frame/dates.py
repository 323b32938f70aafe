"""Dates and times as R's numbers: a ``Date`` is days since 1970-01-01, a ``POSIXct`` seconds.

R puts a date or time column into a model as its number. pandas has one type for both, so the
unit is decided from the data the model is built from (:func:`time_unit`) and kept for new
data:

* days (R's ``Date``) for Python ``datetime.date`` values, Arrow ``date`` columns (a polars
  ``Date``), and date-times without a time zone whose every value is at midnight;
* seconds (R's ``POSIXct``, since 1970-01-01 00:00:00 UTC; times without a time zone are
  read as UTC) for every other date-time column.

New data are converted in the unit learned (a time of day gives a fraction of a day).
"""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd

DAYS, SECONDS = "days", "seconds"
_NANOSECONDS_PER_SECOND = 1_000_000_000
_SECONDS_PER_DAY = 86_400
_EPOCH_ORDINAL = dt.date(1970, 1, 1).toordinal()


def is_date_objects(series: pd.Series) -> bool:
    """Whether a column holds only ``datetime.date`` (not date-time) values or an Arrow date type."""
    if str(series.dtype).startswith(("date32", "date64")):
        return True
    if series.dtype != object:
        return False
    present = series.dropna()
    return bool(len(present)) and all(type(v) is dt.date for v in present)


def is_time_column(series: pd.Series) -> bool:
    """Whether a column holds dates or date-times (any datetime64 dtype, Arrow dates and
    timestamps, or Python ``date``/``datetime`` objects)."""
    if pd.api.types.is_datetime64_any_dtype(series.dtype) or is_date_objects(series):
        return True
    if series.dtype != object:
        return False
    present = series.dropna()
    return bool(len(present)) and all(isinstance(v, dt.date) for v in present)


def _nanoseconds(series: pd.Series) -> tuple[np.ndarray, np.ndarray]:
    """Nanoseconds since 1970-01-01 00:00 UTC (wall time for naive values) and the missing mask."""
    stamps = pd.to_datetime(series)
    if isinstance(stamps.dtype, pd.DatetimeTZDtype):
        stamps = stamps.dt.tz_convert("UTC").dt.tz_localize(None)
    values = stamps.to_numpy(dtype="datetime64[ns]")
    missing = np.isnat(values)
    return np.where(missing, 0, values.view(np.int64)), missing


def time_unit(series: pd.Series) -> str:
    """The unit a date or date-time column is turned into: ``"days"`` (``DAYS``) or ``"seconds"`` (``SECONDS``) (see
    the module's rule).

    Examples
    --------
    >>> time_unit(pd.Series(pd.to_datetime(["2024-01-01", "2024-02-01"])))
    'days'
    >>> time_unit(pd.Series(pd.to_datetime(["2024-01-01 08:30", "2024-02-01 00:00"])))
    'seconds'
    """
    if is_date_objects(series):
        return DAYS
    stamps = pd.to_datetime(series)
    if isinstance(stamps.dtype, pd.DatetimeTZDtype):
        return SECONDS
    nanoseconds, missing = _nanoseconds(stamps)
    at_midnight = nanoseconds % (_SECONDS_PER_DAY * _NANOSECONDS_PER_SECOND) == 0
    return DAYS if at_midnight[~missing].all() else SECONDS


def time_numbers(series: pd.Series, unit: str) -> np.ndarray:
    r"""A date or date-time column as R's numbers in ``unit`` (NaN where missing).

    Days: :math:`\text{seconds}/86400`; dates given as ``datetime.date`` count whole days
    from 1970-01-01. Seconds are computed from whole seconds and the remaining nanoseconds
    separately, so that no precision is lost on today's dates.

    Examples
    --------
    >>> stamps = pd.Series(pd.to_datetime(["1970-01-02 00:00", "2024-01-01 12:00"]))
    >>> time_numbers(stamps, DAYS)
    array([1.00000e+00, 1.97235e+04])
    >>> time_numbers(stamps, SECONDS)
    array([8.6400000e+04, 1.7041104e+09])
    """
    if is_date_objects(series) and series.dtype == object:
        days = np.array([np.nan if pd.isna(v) else float(v.toordinal() - _EPOCH_ORDINAL)
                         for v in series], dtype=float)
        return days if unit == DAYS else days * _SECONDS_PER_DAY
    nanoseconds, missing = _nanoseconds(series)
    whole, rest = np.divmod(nanoseconds, _NANOSECONDS_PER_SECOND)
    seconds = whole.astype(float) + rest / _NANOSECONDS_PER_SECOND
    numbers = seconds / _SECONDS_PER_DAY if unit == DAYS else seconds
    return np.where(missing, np.nan, numbers)


def time_labels(series: pd.Series) -> tuple[np.ndarray, list[str]]:
    """Each row's position among the sorted distinct times (-1 if missing), and the labels R's
    ``factor`` gives them: ``%Y-%m-%d`` when every time is at midnight, else
    ``%Y-%m-%d %H:%M`` when every second is 0, else ``%Y-%m-%d %H:%M:%S`` (wall time)."""
    if is_date_objects(series) and series.dtype == object:
        series = pd.to_datetime(series)
    stamps = pd.to_datetime(series)
    wall = stamps.dt.tz_localize(None) if isinstance(stamps.dtype, pd.DatetimeTZDtype) else stamps
    values = wall.to_numpy(dtype="datetime64[ns]")
    missing = np.isnat(values)
    unique, inverse = np.unique(values[~missing], return_inverse=True)
    codes = np.full(len(series), -1, dtype=np.intp)
    codes[~missing] = inverse
    times = pd.DatetimeIndex(unique)
    if (times == times.normalize()).all():
        pattern = "%Y-%m-%d"
    elif (times.second == 0).all() and (times.microsecond == 0).all():
        pattern = "%Y-%m-%d %H:%M"
    else:
        pattern = "%Y-%m-%d %H:%M:%S"
    return codes, [str(label) for label in times.strftime(pattern)]
