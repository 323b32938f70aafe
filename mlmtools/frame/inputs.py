"""Data frames other than pandas: polars, pyarrow and what else narwhals reads.

A model is built from a :class:`pandas.DataFrame`; any other eager data frame that
`narwhals <https://narwhals-dev.github.io/narwhals/>`_ supports (polars, pyarrow tables,
modin, cuDF, ...) is converted column by column through narwhals' stable API, without
pyarrow for polars. Objects narwhals does not know but that implement the Arrow PyCapsule
interface (``__arrow_c_stream__``) or the dataframe interchange protocol (``__dataframe__``)
go through pandas' own ``pandas.api.interchange.from_dataframe`` (which needs pyarrow for
the first). Columns keep their meaning for R:

* numbers stay numbers (missing values as NaN), booleans stay logical, text stays text
  (a factor with levels sorted, as R's ``factor`` of text);
* an ``Enum`` (polars) or a dictionary column (Arrow) becomes a categorical with its
  categories in their order; it is an *ordered* factor (polynomial contrasts) only when the
  Arrow type says it is ordered (polars has no ordered factors: pass ``contrasts=`` to get
  polynomial contrasts); a polars ``Categorical``, whose categories have no fixed order,
  is text;
* dates and date-times stay dates and date-times (see :mod:`mlmtools.frame.dates` for the
  numbers R gives them).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd


def as_pandas(data: Any, what: str = "data") -> pd.DataFrame:
    """``data`` as a pandas DataFrame (itself when it is one; see the module for the rules).

    Parameters
    ----------
    data : pandas.DataFrame
        A pandas, polars or pyarrow data frame, or any eager frame narwhals supports.
    what : str
        The argument's name, for the error message.

    Returns
    -------
    pandas.DataFrame
        With a default index (0, 1, ...) when converted.

    Raises
    ------
    TypeError
        If ``data`` is not a data frame.

    Examples
    --------
    >>> import polars as pl
    >>> frame = as_pandas(pl.DataFrame({"x": [1.5, None], "g": ["b", "a"],
    ...                                 "dose": pl.Series(["hi", "lo"], dtype=pl.Enum(["lo", "hi"]))}))
    >>> frame
         x  g dose
    0  1.5  b   hi
    1  NaN  a   lo
    >>> list(frame["dose"].cat.categories)
    ['lo', 'hi']
    """
    if isinstance(data, pd.DataFrame):
        return data
    import narwhals.stable.v2 as nw

    try:
        frame = nw.from_native(data, eager_only=True)
    except TypeError:
        if hasattr(data, "__arrow_c_stream__") or hasattr(data, "__dataframe__"):
            return pd.api.interchange.from_dataframe(data)
        raise TypeError(f"{what} must be a data frame (pandas, polars, pyarrow, or any frame narwhals "
                        f"reads), got {type(data).__name__}") from None
    native = frame.to_native()
    if isinstance(native, pd.DataFrame):
        return native
    arrow = frame.implementation is nw.Implementation.PYARROW
    return pd.DataFrame({name: _column(frame[name], arrow) for name in frame.columns})


def _column(series: Any, arrow: bool) -> Any:
    import narwhals.stable.v2 as nw

    dtype = series.dtype
    if isinstance(dtype, nw.Enum) or (arrow and isinstance(dtype, nw.Categorical)):
        categories = list(dtype.categories) if isinstance(dtype, nw.Enum) else \
            series.cat.get_categories().to_list()
        ordered = arrow and bool(getattr(series.to_native().type, "ordered", False))
        return pd.Categorical(series.to_list(), categories=categories, ordered=ordered)
    if isinstance(dtype, (nw.Categorical, nw.String)):
        return np.array(series.to_list(), dtype=object)
    if isinstance(dtype, nw.Boolean):
        return pd.array(series.to_list(), dtype="boolean") if series.null_count() else series.to_numpy()
    if isinstance(dtype, nw.Datetime) and dtype.time_zone is not None:
        utc = pd.to_datetime(series.dt.convert_time_zone("UTC").dt.replace_time_zone(None).to_numpy())
        return pd.Series(utc).dt.tz_localize("UTC").dt.tz_convert(dtype.time_zone)
    if isinstance(dtype, nw.Decimal):
        return np.array(series.to_list(), dtype=float)
    if dtype.is_numeric() or isinstance(dtype, (nw.Date, nw.Datetime, nw.Duration)):
        return series.to_numpy()
    return np.array(series.to_list(), dtype=object)
