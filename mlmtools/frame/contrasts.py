"""R's contrasts: how a factor with :math:`n` levels becomes columns of a design matrix.

A contrast matrix :math:`C` has one row per level and (usually) :math:`n - 1` columns; the
rows of the design matrix for a factor are the rows of :math:`C` of each observation's level,
and R names the columns after :math:`C`'s column names (``recipeB``, ``temperature.L``) or
their numbers when it has none (``recipe1``). The functions here return R's matrices as data
frames (levels as index, R's column names as columns); :func:`coding_of` turns a contrast
given by name (``"contr.sum"``) or as a matrix into the columns a factor gets.

R's defaults are ``contr.treatment`` for a factor and ``contr.poly`` for an ordered factor
(``options(contrasts = c("contr.treatment", "contr.poly"))``).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, TypeAlias

import numpy as np
import pandas as pd

#: A contrast as ``contrasts=`` takes it: R's function name or a matrix (rows: levels).
ContrastSpec: TypeAlias = str | pd.DataFrame | np.ndarray
#: R's contrast functions by name (``contrasts = list(f = "contr.sum")``).
CONTRAST_FUNCTIONS = ("contr.treatment", "contr.sum", "contr.helmert", "contr.poly", "contr.SAS")


def _levels(n: int | Sequence[Any]) -> list[str]:
    if isinstance(n, (int, np.integer)):
        if n < 2:
            raise ValueError(f"contrasts need at least two levels, got {n}")
        return [str(k) for k in range(1, int(n) + 1)]
    levels = [str(level) for level in n]
    if len(levels) < 2:
        raise ValueError(f"contrasts need at least two levels, got {len(levels)}")
    return levels


def contr_treatment(n: int | Sequence[Any], base: int = 1) -> pd.DataFrame:
    """R's ``contr.treatment(n, base)``: each level but ``base`` against the ``base``-th level.

    :math:`C = I_n` without its column ``base``; columns are named after their levels.

    Parameters
    ----------
    n : int or sequence
        The number of levels, or the levels themselves.
    base : int
        The position (1-based) of the reference level.

    Returns
    -------
    pandas.DataFrame
        Shape ``(n, n - 1)``, indexed by level.

    Examples
    --------
    >>> contr_treatment(["A", "B", "C"], base=2)
       A  C
    A  1  0
    B  0  0
    C  0  1
    """
    levels = _levels(n)
    if not 1 <= base <= len(levels):
        raise ValueError(f"base must be a level's position, 1 to {len(levels)}; got {base}")
    keep = [k for k in range(len(levels)) if k != base - 1]
    return pd.DataFrame(np.eye(len(levels), dtype=int)[:, keep], index=levels,
                        columns=[levels[k] for k in keep])


def contr_sum(n: int | Sequence[Any]) -> pd.DataFrame:
    """R's ``contr.sum(n)``: effects coding, each level but the last against the mean.

    :math:`C = \\begin{pmatrix} I_{n-1} \\\\ -\\mathbf{1}^\\top \\end{pmatrix}`; R's columns
    have no names, so the design columns are numbered (``recipe1``, ``recipe2``).

    Examples
    --------
    >>> contr_sum(3)
       1  2
    1  1  0
    2  0  1
    3 -1 -1
    """
    levels = _levels(n)
    matrix = np.vstack([np.eye(len(levels) - 1, dtype=int), -np.ones(len(levels) - 1, dtype=int)])
    return pd.DataFrame(matrix, index=levels, columns=range(1, len(levels)))


def contr_helmert(n: int | Sequence[Any]) -> pd.DataFrame:
    """R's ``contr.helmert(n)``: level :math:`j + 1` against the mean of levels :math:`1..j`.

    Column :math:`j` holds :math:`-1` in rows :math:`1..j`, :math:`j` in row :math:`j + 1`
    and 0 below; columns are numbered.

    Examples
    --------
    >>> contr_helmert(3)
       1  2
    1 -1 -1
    2  1 -1
    3  0  2
    """
    levels = _levels(n)
    k = len(levels)
    matrix = np.zeros((k, k - 1), dtype=int)
    for j in range(1, k):
        matrix[:j, j - 1] = -1
        matrix[j, j - 1] = j
    return pd.DataFrame(matrix, index=levels, columns=range(1, k))


def contr_poly(n: int | Sequence[Any], scores: Sequence[float] | None = None) -> pd.DataFrame:
    r"""R's ``contr.poly(n, scores)``: orthonormal polynomials in the level scores.

    With :math:`y = s - \bar s` (scores :math:`s = 1..n` by default) and
    :math:`X = (y^0, y^1, \dots, y^{n-1})`, the QR decomposition :math:`X = QR` gives the
    columns :math:`Q_j R_{jj}` (the part of :math:`y^j` orthogonal to lower powers), scaled to
    unit length; the constant column is dropped and the others are named ``.L``, ``.Q``,
    ``.C``, ``^4``, ``^5``, ...

    Examples
    --------
    >>> contr_poly(4).round(4)
           .L   .Q      .C
    1 -0.6708  0.5 -0.2236
    2 -0.2236 -0.5  0.6708
    3  0.2236 -0.5 -0.6708
    4  0.6708  0.5  0.2236
    """
    levels = _levels(n)
    k = len(levels)
    values = np.arange(1.0, k + 1) if scores is None else np.asarray(scores, dtype=float)
    if values.shape != (k,) or np.unique(values).size != k:
        raise ValueError(f"scores must be {k} different numbers, one per level")
    centred = values - values.mean()
    powers = centred[:, None] ** np.arange(k)
    q, r = np.linalg.qr(powers)
    raw = q * np.diag(r)
    basis = raw / np.sqrt((raw**2).sum(axis=0))
    names = [".L", ".Q", ".C"][:k - 1] + [f"^{d}" for d in range(4, k)]
    return pd.DataFrame(basis[:, 1:], index=levels, columns=names)


def _contr_sas(levels: Sequence[str]) -> pd.DataFrame:
    """R's ``contr.SAS``: treatment contrasts with the last level as reference."""
    return contr_treatment(levels, base=len(levels))


_FUNCTIONS: dict[str, Callable[[list[str]], pd.DataFrame]] = {
    "contr.treatment": contr_treatment, "contr.sum": contr_sum, "contr.helmert": contr_helmert,
    "contr.poly": contr_poly, "contr.SAS": _contr_sas}


@dataclass(frozen=True)
class Coding:
    """The columns a factor gets: ``matrix`` (levels x columns) and their name ``suffixes``."""

    matrix: np.ndarray
    suffixes: tuple[str, ...]


def default_contrast(ordered: bool) -> str:
    """R's default contrast: ``contr.poly`` for an ordered factor, else ``contr.treatment``."""
    return "contr.poly" if ordered else "contr.treatment"


def coding_of(spec: ContrastSpec, levels: Sequence[str], label: str) -> Coding:
    """The contrast matrix and column suffixes of factor ``label`` with ``levels``.

    ``spec`` is the name of one of R's contrast functions or a matrix with one row per level:
    a :class:`pandas.DataFrame` indexed by the levels (any order) or by position, or an array
    (rows in level order). Columns of a matrix without names (an array, or a data frame with
    the default columns ``0..k-1``) are numbered from 1, as R numbers them.
    """
    if isinstance(spec, str):
        frame = _FUNCTIONS[spec](list(levels))
        return Coding(frame.to_numpy(dtype=float), tuple(str(c) for c in frame.columns))
    if isinstance(spec, pd.DataFrame):
        frame = _aligned_rows(spec, levels, label)
        unnamed = isinstance(frame.columns, pd.RangeIndex) and frame.columns.start == 0
        suffixes = [str(c) for c in (range(1, frame.shape[1] + 1) if unnamed else frame.columns)]
        return _checked(frame.to_numpy(dtype=float), tuple(suffixes), levels, label)
    matrix = np.asarray(spec, dtype=float)
    if matrix.ndim != 2:
        raise ValueError(f"the contrast matrix for '{label}' must be two-dimensional")
    return _checked(matrix, tuple(str(k) for k in range(1, matrix.shape[1] + 1)), levels, label)


def _aligned_rows(frame: pd.DataFrame, levels: Sequence[str], label: str) -> pd.DataFrame:
    if isinstance(frame.index, pd.RangeIndex):
        return frame
    rows = [str(level) for level in frame.index]
    if sorted(rows) != sorted(levels):
        raise ValueError(f"the contrast matrix for '{label}' has rows {', '.join(rows)}; the levels are "
                         f"{', '.join(levels)}")
    return frame.set_axis(rows, axis=0).loc[list(levels)]


def _checked(matrix: np.ndarray, suffixes: tuple[str, ...], levels: Sequence[str], label: str) -> Coding:
    if matrix.shape[0] != len(levels):
        raise ValueError(f"the contrast matrix for '{label}' has {matrix.shape[0]} rows; the factor has "
                         f"{len(levels)} levels ({', '.join(levels)})")
    if not 1 <= matrix.shape[1] <= len(levels) - 1 or not np.isfinite(matrix).all():
        raise ValueError(f"the contrast matrix for '{label}' must have between 1 and {len(levels) - 1} "
                         "finite columns")
    return Coding(matrix, suffixes)


def check_contrast_specs(contrasts: Mapping[str, Any] | None) -> dict[str, ContrastSpec]:
    """Check a ``contrasts=`` argument: a mapping from factor to R's contrast function name or a
    matrix; returns it as a plain dict."""
    if contrasts is None:
        return {}
    if not isinstance(contrasts, Mapping):
        raise TypeError(f"contrasts must be a dict such as {{'f': 'contr.sum'}}, got "
                        f"{type(contrasts).__name__}")
    checked: dict[str, ContrastSpec] = {}
    for name, spec in contrasts.items():
        if isinstance(spec, str):
            if spec not in CONTRAST_FUNCTIONS:
                raise ValueError(f"unknown contrast {spec!r} for '{name}'; use one of "
                                 f"{', '.join(CONTRAST_FUNCTIONS)} or a matrix with one row per level")
        elif not isinstance(spec, (pd.DataFrame, np.ndarray)):
            raise TypeError(f"the contrast for '{name}' must be one of {', '.join(CONTRAST_FUNCTIONS)} "
                            f"or a matrix (DataFrame or array), got {type(spec).__name__}")
        checked[str(name)] = spec
    return checked
