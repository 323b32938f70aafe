"""Model frames: from a formula and a data frame to the arrays a model is fitted to.

This module is the second stage of the pipeline ``formula -> model frame -> deviance ->
optimizer -> result``. :func:`build_model` turns a parsed lme4-style formula and a
:class:`pandas.DataFrame` into a :class:`ModelFrame`: the response, the fixed-effects
design ``X`` with R's column names, and one :class:`RandomTerm` per random-effects term.

It follows what lme4's ``lFormula`` does in R:

* rows with a missing value in any used column are dropped (``na.omit``);
* ``X`` is R's ``model.matrix``: treatment contrasts with the first level as reference,
  columns of a term with the first variable varying fastest, terms ordered by degree;
* columns that make ``X`` rank deficient are dropped (``chkRank.drop.cols``);
* random terms are sorted by decreasing number of levels (``mkReTrms``).

The encodings learned from the data (factor levels, ``scale()`` centre and scale,
``poly()`` recurrence coefficients) are stored on the :class:`ModelFrame`, so that
:meth:`ModelFrame.fixed_matrix` and :meth:`ModelFrame.random_matrices` rebuild the same
columns for new data.
"""

from __future__ import annotations

import difflib
import warnings
from dataclasses import dataclass, field
from typing import Any, Sequence

import numpy as np
import pandas as pd

from mlmtools.exceptions import FormulaError, MissingRowsWarning, RankDeficiencyWarning
from mlmtools.formula import (
    Bar,
    Binary,
    Call,
    FixedSpec,
    Name,
    Node,
    Num,
    Paren,
    ParsedFormula,
    RandomSpec,
    Unary,
    deparse,
    format_r_number,
    parse_formula,
)

__all__ = ["ColumnNotFoundError", "ModelFrame", "RandomTerm", "build_model"]

#: Relative tolerance of the rank check, as lme4's ``chkRank.drop.cols(tol = 1e-7)``.
RANK_TOLERANCE = 1e-7
# Smallest squared pivot of the correlation Cholesky factor that proves full rank cheaply.
_FULL_RANK_PIVOT = 1e-4


class ColumnNotFoundError(KeyError, ValueError):
    """A formula (or ``weights``/``offset``/``extra_columns``) names a column the data lacks."""

    def __str__(self) -> str:
        return str(self.args[0]) if self.args else ""


@dataclass(frozen=True)
class RandomTerm:
    """One random-effects term ``(expr | group)`` after expansion.

    Attributes
    ----------
    group : str
        The grouping factor as R prints it (``"Subject"``, ``"a:b"`` for an interaction).
    levels : tuple of str
        Level labels in R's order (``factor()`` sorts them).
    codes : numpy.ndarray
        Integer array of shape ``(n,)``: the level index of each row.
    columns : tuple of str
        Names of the term's model-matrix columns as R names them
        (``"(Intercept)"``, ``"Days"``).
    X : numpy.ndarray
        The term's raw model matrix, shape ``(n, len(columns))``.
    """

    group: str
    levels: tuple[str, ...]
    codes: np.ndarray
    columns: tuple[str, ...]
    X: np.ndarray


@dataclass
class ModelFrame:
    """Everything a mixed model (or a GEE) needs from the formula and the data.

    Attributes
    ----------
    formula : str
        The formula as the user wrote it.
    response_name : str
        The response as written on the left-hand side.
    y : numpy.ndarray
        Response, shape ``(n,)`` (for a ``cbind(s, f)`` response, the proportion s/(s+f)).
    X : numpy.ndarray
        Fixed-effects design, shape ``(n, p)``, rank-deficient columns already dropped.
    fixed_names : tuple of str
        Column names of ``X`` as R names them (``"(Intercept)"``, ``"grpb"``, ``"x:z"``).
    terms : tuple of RandomTerm
        Random-effects terms sorted by decreasing number of levels, as lme4 sorts them.
    weights : numpy.ndarray or None
        Prior weights, shape ``(n,)`` (trials times prior weights for a ``cbind`` response).
    offset : numpy.ndarray or None
        Offset, shape ``(n,)``: the ``offset=`` argument plus any ``offset(...)`` terms of
        the formula.
    row_index : pandas.Index
        Index labels of the rows of the caller's data that were kept.
    n_dropped : int
        Number of rows dropped because of missing values.
    dropped_columns : tuple of str
        Fixed-effects columns dropped for rank deficiency.
    extra : dict
        Extra columns requested by the caller (e.g. a GEE ``id``), as arrays aligned with
        the kept rows.
    response_kind : str
        ``"numeric"``, or ``"cbind"`` for a ``cbind(successes, failures)`` response.
    parsed : ParsedFormula or None
        The parsed formula the frame was built from.
    random_specs : tuple of RandomSpec
        The formula term behind each entry of ``terms`` (same order).
    random_labels : tuple of str
        Each term as lme4 names it, e.g. ``"1 + Days | Subject"`` (same order as ``terms``).
    encodings : dict
        What was learned from the data to build the columns (factor levels, ``scale()``
        centre and scale, ``poly()`` coefficients); reused for new data.
    """

    formula: str
    response_name: str
    y: np.ndarray
    X: np.ndarray
    fixed_names: tuple[str, ...]
    terms: tuple[RandomTerm, ...]
    weights: np.ndarray | None
    offset: np.ndarray | None
    row_index: pd.Index
    n_dropped: int = 0
    dropped_columns: tuple[str, ...] = ()
    extra: dict = field(default_factory=dict)
    response_kind: str = "numeric"
    parsed: ParsedFormula | None = None
    random_specs: tuple[RandomSpec, ...] = ()
    random_labels: tuple[str, ...] = ()
    encodings: dict = field(default_factory=dict)

    @property
    def n(self) -> int:
        """Number of observations (rows kept)."""
        return int(self.y.shape[0])

    def fixed_matrix(self, newdata: pd.DataFrame) -> np.ndarray:
        """Rebuild the fixed-effects design for new rows with the stored encoding.

        Factor levels, ``scale()`` centre and scale and ``poly()`` coefficients are those
        learned from the fitting data, and columns dropped for rank deficiency stay dropped,
        so ``fixed_matrix(newdata) @ beta`` is the fixed part of a prediction.

        Parameters
        ----------
        newdata : pandas.DataFrame
            New rows; only the columns used by the fixed part are needed.

        Returns
        -------
        numpy.ndarray
            Shape ``(len(newdata), p)``, columns named as :attr:`fixed_names`.

        Raises
        ------
        ColumnNotFoundError
            If a needed column is missing.
        ValueError
            If a factor has a level that did not occur in the fitting data.
        """
        spec = self._parsed().fixed
        _require_columns(newdata, _spec_columns(spec), "the fixed part", "newdata")
        evaluator = _Evaluator(newdata, self.encodings, learning=False)
        matrix, names = _design_matrix(spec, evaluator)
        keep = [i for i, name in enumerate(names) if name not in self.dropped_columns]
        return matrix[:, keep]

    def formula_offset(self, newdata: pd.DataFrame) -> np.ndarray | None:
        """The sum of the formula's ``offset(...)`` terms for new rows (None if it has none).

        An offset given through the ``offset=`` argument of :func:`build_model` is not part
        of the formula and is not included (lme4's ``predict`` ignores it too).
        """
        offsets = self._parsed().offsets
        if not offsets:
            return None
        _require_columns(newdata, [name for node in offsets for name in _names_in(node)],
                         "an offset() term", "newdata")
        evaluator = _Evaluator(newdata, self.encodings, learning=False)
        return np.sum([evaluator.numeric(node) for node in offsets], axis=0)

    def random_matrices(self, newdata: pd.DataFrame) -> list[tuple[np.ndarray, np.ndarray]]:
        """Per random-effects term, the level codes and the term's model matrix for new rows.

        Parameters
        ----------
        newdata : pandas.DataFrame
            New rows with the grouping factors and the random-slope variables.

        Returns
        -------
        list of (numpy.ndarray, numpy.ndarray)
            In the order of :attr:`terms`: ``codes`` of shape ``(m,)`` indexing the term's
            ``levels`` (``-1`` for a level not seen when fitting, or a missing group), and
            ``X_i`` of shape ``(m, len(columns))``.
        """
        evaluator = _Evaluator(newdata, self.encodings, learning=False)
        result = []
        for spec in self.random_specs:
            _require_columns(newdata, _spec_columns(spec.effects) + list(spec.group),
                             f"the random-effects term ({spec.text})", "newdata")
            codes, _ = evaluator.grouping(spec.group)
            matrix, _ = _design_matrix(spec.effects, evaluator)
            result.append((codes, matrix))
        return result

    def _parsed(self) -> ParsedFormula:
        return self.parsed if self.parsed is not None else parse_formula(self.formula)


# ---------------------------------------------------------------------------------------
# Columns of the data
# ---------------------------------------------------------------------------------------


def _column_kind(series: pd.Series) -> str:
    """``"bool"``, ``"numeric"`` or ``"categorical"`` (strings, categoricals, objects)."""
    if isinstance(series.dtype, (pd.CategoricalDtype, pd.StringDtype)):
        return "categorical"
    if pd.api.types.is_bool_dtype(series.dtype):
        return "bool"
    if pd.api.types.is_numeric_dtype(series.dtype):
        return "numeric"
    present = series.dropna()
    if len(present) and all(isinstance(v, (bool, np.bool_)) for v in present):
        return "bool"
    return "categorical"


def _as_float(series: pd.Series) -> np.ndarray:
    """A new float array of a numeric column, NaN where missing."""
    if isinstance(series.dtype, np.dtype) and series.dtype.kind in "iuf":
        return np.array(series.to_numpy(), dtype=float)
    return series.to_numpy(dtype=float, na_value=np.nan)


class _KeptRows:
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


def _factor(series: pd.Series) -> tuple[np.ndarray, list[str]]:
    """Each row's position in the list of possible levels (-1 if missing), and that list in
    R's order.

    Categoricals keep their category order; booleans are FALSE < TRUE; numbers are sorted
    numerically; strings are sorted by code point (R's order in the C locale). Two entries
    of the list may carry the same label (two doubles that print alike); rows are matched to
    levels by label.
    """
    kind = _column_kind(series)
    if kind == "categorical" and not isinstance(series.dtype, pd.CategoricalDtype):
        if isinstance(series.dtype, pd.StringDtype):
            first_seen, labels = series.factorize()  # missing values get -1
            labels = labels.tolist()
        else:
            first_seen, labels = pd.factorize(np.array([None if pd.isna(v) else str(v) for v in series],
                                                       dtype=object))
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
        unique, inverse = np.unique(_as_float(series)[~missing], return_inverse=True)
        order = [_level_label(u, integer) for u in unique]
        codes[~missing] = inverse
    return codes, order


# ---------------------------------------------------------------------------------------
# Evaluating formula variables
# ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Numeric:
    """A numeric variable: ``values`` of shape (n, k) and one name suffix per column."""

    values: np.ndarray
    suffixes: tuple[str, ...]


@dataclass(frozen=True)
class _Categorical:
    """A factor: level index of each row (-1 for missing) and the levels."""

    codes: np.ndarray
    levels: tuple[str, ...]


class _Evaluator:
    """Evaluates formula variables on a data frame.

    When ``learning`` is true it records the encodings it derives from the data (levels,
    ``scale()`` and ``poly()`` parameters) in ``encodings``; otherwise it reuses them.
    """

    def __init__(self, data: pd.DataFrame | _KeptRows, encodings: dict, learning: bool):
        self.data = data
        self.encodings = encodings
        self.learning = learning

    # -- factors ----------------------------------------------------------------------

    def _codes(self, key: str, what: str, codes: np.ndarray, order: list[str],
               unseen_ok: bool) -> _Categorical:
        """Recode rows from positions in ``order`` to positions in the factor's levels: the
        labels of ``order`` that occur (when learning) or the stored levels."""
        occurring = np.flatnonzero(np.bincount(codes + 1, minlength=len(order) + 1)[1:])
        if self.learning:
            present = {order[i] for i in occurring.tolist()}
            levels = tuple(level for level in order if level in present)
            self.encodings[key] = levels
        else:
            levels = self.encodings[key]
        position = {level: i for i, level in enumerate(levels)}
        recode = np.array([position.get(level, -2) for level in order] + [-1], dtype=int)
        codes = recode[codes]  # code -1 (missing) picks the final entry, -1
        if (codes == -2).any():
            unseen = sorted({order[i] for i in occurring.tolist() if recode[i] == -2})
            if not unseen_ok:
                raise ValueError(f"{what} has level(s) {', '.join(map(repr, unseen))} that did "
                                 f"not occur in the data the model was built from; known levels: "
                                 f"{', '.join(levels)}")
            codes[codes == -2] = -1
        return _Categorical(codes, levels)

    def grouping(self, names: tuple[str, ...]) -> tuple[np.ndarray, tuple[str, ...]]:
        """Codes and levels of the grouping factor ``a:b:...`` (R's ``factor(a:b)``).

        Levels of an interaction are the combinations that occur, ordered with the first
        factor varying slowest and labelled ``"a1:b1"``.
        """
        codes, order = _factor(self.data[names[0]])
        for name in names[1:]:
            codes, order = _interaction(codes, order, *_factor(self.data[name]))
        key = "group:" + ":".join(names)
        factor = self._codes(key, f"grouping factor '{':'.join(names)}'", codes, order,
                             unseen_ok=True)
        return factor.codes, factor.levels

    # -- variables --------------------------------------------------------------------

    def variable(self, node: Node) -> _Numeric | _Categorical:
        """The columns a formula variable contributes before contrasts are applied."""
        label = deparse(node)
        if isinstance(node, Name) and _column_kind(self.data[node.name]) != "numeric":
            codes, order = _factor(self.data[node.name])
            return self._codes("levels:" + label, f"factor '{label}'", codes, order, False)
        if isinstance(node, Call) and node.func in ("factor", "C"):
            codes, order = self._factor_of(node.args[0])
            return self._codes("levels:" + label, f"factor '{label}'", codes, order, False)
        if isinstance(node, Call) and node.func == "poly":
            values = self._poly(label, self.numeric(node.args[0]), int(node.args[1].value))
            return _Numeric(values, tuple(str(k) for k in range(1, values.shape[1] + 1)))
        return _Numeric(self.numeric(node)[:, None], ("",))

    def _factor_of(self, node: Node) -> tuple[np.ndarray, list[str]]:
        inner = node.inner if isinstance(node, Paren) else node
        if isinstance(inner, Name):
            return _factor(self.data[inner.name])
        return _factor(pd.Series(self.numeric(inner)))

    def numeric(self, node: Node) -> np.ndarray:
        """Evaluate an arithmetic expression on the data, shape ``(n,)``."""
        with np.errstate(all="ignore"):
            return self._arith(node)

    def _arith(self, node: Node) -> np.ndarray:
        n = len(self.data)
        if isinstance(node, Num):
            return np.full(n, node.value)
        if isinstance(node, Name):
            series = self.data[node.name]
            kind = _column_kind(series)
            if kind == "categorical":
                raise TypeError(f"column '{node.name}' is not numeric, so it cannot be used in "
                                f"arithmetic or a numeric transform")
            if kind == "bool":
                return np.array([np.nan if pd.isna(v) else float(bool(v)) for v in series])
            return _as_float(series)
        if isinstance(node, Paren):
            return self._arith(node.inner)
        if isinstance(node, Unary):
            value = self._arith(node.operand)
            return -value if node.op == "-" else value
        if isinstance(node, Binary):
            return self._binary(node)
        if isinstance(node, Call):
            return self._call(node)
        raise FormulaError(f"'{deparse(node)}' cannot be evaluated as a number")

    def _binary(self, node: Binary) -> np.ndarray:
        if node.op == ":":
            raise FormulaError(f"':' inside an arithmetic expression ('{deparse(node)}') is not "
                               "supported")
        left, right = self._arith(node.left), self._arith(node.right)
        operations = {"+": np.add, "-": np.subtract, "*": np.multiply, "/": np.divide,
                      "^": np.power}
        return operations[node.op](left, right)

    def _call(self, node: Call) -> np.ndarray:
        label = deparse(node)
        functions = {"log": np.log, "exp": np.exp, "sqrt": np.sqrt, "abs": np.abs}
        if node.func in functions:
            return functions[node.func](self._arith(node.args[0]))
        if node.func == "I":
            return self._arith(node.args[0])
        if node.func == "scale":
            return self._scale(label, self._arith(node.args[0]))
        raise FormulaError(f"{node.func}() cannot be used inside an arithmetic expression "
                           f"('{label}')")

    # -- stateful transforms ----------------------------------------------------------

    def _scale(self, label: str, x: np.ndarray) -> np.ndarray:
        key = "scale:" + label
        if self.learning:
            finite = x[~np.isnan(x)]
            if finite.size < 2:
                raise ValueError(f"{label} needs at least two values to compute a standard "
                                 "deviation")
            self.encodings[key] = (float(finite.mean()), float(finite.std(ddof=1)))
        center, scale = self.encodings[key]
        if scale == 0:
            raise ValueError(f"{label}: the variable is constant (standard deviation 0)")
        return (x - center) / scale

    def _poly(self, label: str, x: np.ndarray, degree: int) -> np.ndarray:
        key = "poly:" + label
        if self.learning:
            if np.unique(x[~np.isnan(x)]).size <= degree:
                raise ValueError(f"{label}: the degree must be less than the number of unique "
                                 "points")
            self.encodings[key] = _poly_coefficients(x[~np.isnan(x)], degree)
        alpha, norm2 = self.encodings[key]
        return _poly_evaluate(x, alpha, norm2)


def _interaction(codes: np.ndarray, order: list[str], other_codes: np.ndarray,
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


def _poly_coefficients(x: np.ndarray, degree: int) -> tuple[np.ndarray, np.ndarray]:
    r"""Recurrence coefficients of R's orthogonal polynomials ``poly(x, degree)``.

    The monic polynomials orthogonal over the points :math:`x_i` satisfy

    .. math::
        P_0 = 1,\quad P_1 = x - \alpha_0,\quad
        P_{k+1} = (x - \alpha_k) P_k - \frac{\lVert P_k\rVert^2}{\lVert P_{k-1}\rVert^2} P_{k-1},
        \qquad \alpha_k = \frac{\sum_i x_i P_k(x_i)^2}{\lVert P_k\rVert^2},

    and R returns :math:`P_k / \lVert P_k\rVert` for :math:`k = 1..degree`. ``norm2`` is
    R's vector ``(1, ||P_0||^2, ..., ||P_degree||^2)``.
    """
    previous, current = np.zeros_like(x), np.ones_like(x)
    alpha = np.empty(degree)
    norm2 = [1.0, float(x.size)]
    for k in range(degree):
        alpha[k] = float(np.sum(x * current**2) / norm2[-1])
        following = (x - alpha[k]) * current - (norm2[-1] / norm2[-2]) * previous
        previous, current = current, following
        norm2.append(float(np.sum(current**2)))
    return alpha, np.array(norm2)


def _poly_evaluate(x: np.ndarray, alpha: np.ndarray, norm2: np.ndarray) -> np.ndarray:
    degree = alpha.size
    columns = [np.ones_like(x), x - alpha[0]]
    for k in range(1, degree):
        columns.append((x - alpha[k]) * columns[k] - (norm2[k + 1] / norm2[k]) * columns[k - 1])
    basis = np.column_stack(columns[1:])
    return basis / np.sqrt(norm2[2:])


# ---------------------------------------------------------------------------------------
# Design matrices (R's model.matrix)
# ---------------------------------------------------------------------------------------


def _full_dummy_flags(spec: FixedSpec, categorical: set[str]) -> list[list[bool]]:
    """For each term and each of its variables: code a factor by all its levels?

    R's rule (``TermCode`` in ``model.c``): a factor in a term is coded by contrasts when the
    term without it is empty or is contained in an earlier term; otherwise it gets one column
    per level. Without an intercept, the first factor of the first term holding a factor is
    coded by all its levels.
    """
    flags: list[list[bool]] = []
    for j, term in enumerate(spec.terms):
        row = []
        for variable in term:
            rest = set(term) - {variable}
            contrast = (not rest) or any(rest <= set(earlier) for earlier in spec.terms[:j])
            row.append(variable in categorical and not contrast)
        flags.append(row)
    if not spec.intercept:
        for j, term in enumerate(spec.terms):
            first = next((i for i, v in enumerate(term) if v in categorical), None)
            if first is not None:
                flags[j][first] = True
                break
    return flags


def _variable_block(label: str, value: _Numeric | _Categorical,
                    full: bool) -> tuple[np.ndarray, list[str]]:
    if isinstance(value, _Numeric):
        return value.values, [label + suffix for suffix in value.suffixes]
    if len(value.levels) < 2 and not full:
        raise ValueError(f"factor '{label}' has only one level ({', '.join(value.levels)}); "
                         "contrasts need at least two")
    shown = value.levels if full else value.levels[1:]
    start = 0 if full else 1
    block = np.column_stack([(value.codes == start + k).astype(float)
                             for k in range(len(shown))])
    block[value.codes < 0, :] = np.nan
    return block, [label + level for level in shown]


def _design_matrix(spec: FixedSpec, evaluator: _Evaluator) -> tuple[np.ndarray, list[str]]:
    """R's ``model.matrix`` for a one-sided formula spec: the matrix and its column names."""
    n = len(evaluator.data)
    values = {label: evaluator.variable(node) for label, node in spec.variables.items()
              if any(label in term for term in spec.terms)}
    categorical = {label for label, v in values.items() if isinstance(v, _Categorical)}
    flags = _full_dummy_flags(spec, categorical)
    blocks, names = [], []
    if spec.intercept:
        blocks.append(np.ones((n, 1)))
        names.append("(Intercept)")
    for term, term_flags in zip(spec.terms, flags):
        matrix, term_names = None, [""]
        for variable, full in zip(term, term_flags):
            block, block_names = _variable_block(variable, values[variable], full)
            # earlier variables vary fastest, as in R's model.matrix
            matrix = block if matrix is None else np.column_stack(
                [matrix[:, i] * block[:, k] for k in range(block.shape[1])
                 for i in range(matrix.shape[1])])
            term_names = [f"{old}:{new}" if old else new
                          for new in block_names for old in term_names]
        blocks.append(np.ones((n, 1)) if matrix is None else matrix)
        names.extend(term_names)
    matrix = np.column_stack(blocks) if blocks else np.empty((n, 0))
    return matrix, names


def _rank_deficient_columns(X: np.ndarray, tol: float = RANK_TOLERANCE) -> list[int]:
    r"""Columns lme4 drops: those LINPACK's pivoted QR (``dqrdc2``) moves past the rank.

    Columns are taken left to right; column :math:`j` is negligible when the norm of its
    part orthogonal to the columns kept so far is below ``tol`` times its own norm,

    .. math:: \lVert (I - Q Q^\top) x_j \rVert < \mathrm{tol}\,\lVert x_j \rVert,

    and negligible columns are moved to the end, i.e. dropped. A cheap test on
    :math:`X^\top X` settles the common full-rank case (:func:`_clearly_full_rank`).
    """
    return [] if _clearly_full_rank(X) else _negligible_columns(X, tol)


def _negligible_columns(X: np.ndarray, tol: float) -> list[int]:
    """The exact check of :func:`_rank_deficient_columns`, by Gram-Schmidt with
    reorthogonalization."""
    basis = np.empty((X.shape[0], 0))
    dropped = []
    for j in range(X.shape[1]):
        column = X[:, j]
        norm = np.linalg.norm(column)
        residual = column - basis @ (basis.T @ column)
        residual = residual - basis @ (basis.T @ residual)
        residual_norm = np.linalg.norm(residual)
        if norm == 0 or residual_norm < tol * norm:
            dropped.append(j)
        else:
            basis = np.column_stack([basis, residual / residual_norm])
    return dropped


def _clearly_full_rank(X: np.ndarray) -> bool:
    r"""A cheap sufficient test that no column of a finite ``X`` is negligible.

    The squared ratio :math:`\lVert (I - QQ^\top) x_j\rVert^2 / \lVert x_j\rVert^2` is the
    :math:`j`-th pivot of the Cholesky factor of the correlation matrix of the columns
    (from :math:`X^\top X` in one pass over the data). When every pivot exceeds
    :data:`_FULL_RANK_PIVOT` (ratios above 1e-2, five orders of magnitude above the rank
    tolerance, far beyond the rounding error of :math:`X^\top X`), every column is kept by
    the exact check too; otherwise that check decides.
    """
    gram = X.T @ X
    scale = np.sqrt(np.diag(gram))
    if not (scale > 0).all():
        return False
    try:
        factor = np.linalg.cholesky(gram / np.outer(scale, scale))
    except np.linalg.LinAlgError:
        return False
    return bool((np.diag(factor) ** 2 > _FULL_RANK_PIVOT).all())


# ---------------------------------------------------------------------------------------
# Columns used by a formula, and their checks
# ---------------------------------------------------------------------------------------


def _names_in(node: Node) -> list[str]:
    if isinstance(node, Name):
        return [node.name]
    if isinstance(node, Call):
        return [name for arg in node.args for name in _names_in(arg)]
    if isinstance(node, Unary):
        return _names_in(node.operand)
    if isinstance(node, Paren):
        return _names_in(node.inner)
    if isinstance(node, Binary):
        return _names_in(node.left) + _names_in(node.right)
    if isinstance(node, Bar):
        return _names_in(node.effects) + _names_in(node.group)
    return []


def _spec_columns(spec: FixedSpec) -> list[str]:
    used = [label for label in spec.variables if any(label in term for term in spec.terms)]
    return list(dict.fromkeys(name for label in used for name in _names_in(spec.variables[label])))


def _require_columns(data: pd.DataFrame, names: Sequence[str], where: str,
                     source: str = "data") -> None:
    for name in names:
        if name not in data.columns:
            close = difflib.get_close_matches(name, [str(c) for c in data.columns], n=3)
            hint = f"; did you mean {' or '.join(repr(c) for c in close)}?" if close else ""
            raise ColumnNotFoundError(f"column '{name}' (used in {where}) not found in "
                                      f"{source}{hint}")


def _check_unique_columns(data: pd.DataFrame, names: Sequence[str]) -> None:
    if data.columns.is_unique:
        return
    for name in names:
        count = int((data.columns == name).sum())
        if count > 1:
            raise ValueError(f"column '{name}' appears {count} times in data; give the columns "
                             "unique names")


def _resolve_vector(value: Any, data: pd.DataFrame, what: str) -> tuple[np.ndarray, str]:
    """A weights/offset argument given as a column name or an array, and its display name."""
    if isinstance(value, str):
        _require_columns(data, [value], what)
        series = data[value]
        if _column_kind(series) != "numeric":
            raise TypeError(f"{what} column '{value}' must be numeric")
        return _as_float(series), value
    array = np.asarray(value, dtype=float).reshape(-1)
    if array.shape[0] != len(data):
        raise ValueError(f"{what} has length {array.shape[0]} but data has {len(data)} rows")
    return array, f"({what})"


# ---------------------------------------------------------------------------------------
# build_model
# ---------------------------------------------------------------------------------------


def _response(parsed: ParsedFormula, evaluator: _Evaluator) -> tuple[np.ndarray, np.ndarray | None]:
    """The response and, for ``cbind(s, f)``, the number of trials s + f."""
    node = parsed.response
    label = deparse(node)
    if isinstance(node, Call) and node.func == "cbind":
        successes, failures = (_numeric_response(arg, evaluator) for arg in node.args)
        if (successes < 0).any() or (failures < 0).any():
            raise ValueError(f"{label}: counts of successes and failures must be non-negative")
        trials = successes + failures
        with np.errstate(invalid="ignore", divide="ignore"):
            proportion = np.where(trials > 0, successes / trials, 0.0)
        return proportion, trials
    return _numeric_response(node, evaluator), None


def _numeric_response(node: Node, evaluator: _Evaluator) -> np.ndarray:
    label = deparse(node)
    if isinstance(node, Name) and _column_kind(evaluator.data[node.name]) == "categorical":
        series = evaluator.data[node.name]
        example = next((v for v in series if not isinstance(v, (int, float, np.number))), None)
        shown = f" such as {example!r}" if example is not None else ""
        raise TypeError(f"response '{label}' must be numeric, but column '{node.name}' holds "
                        f"{series.dtype} values{shown}; convert it first (e.g. with "
                        "pandas.to_numeric)")
    values = evaluator.numeric(node)
    if not np.isfinite(values).all():
        raise ValueError(f"response '{label}' has infinite or undefined values")
    return values


def _check_response_varies(y: np.ndarray, label: str) -> None:
    """A constant response leaves nothing to model (the residual variance would be 0)."""
    if y.size and np.all(y == y[0]):
        raise ValueError(f"response '{label}' is constant (every value is "
                         f"{format_r_number(float(y[0]))}); there is no variation to model")


def _check_numeric_columns(data: pd.DataFrame | _KeptRows, names: Sequence[str]) -> None:
    for name in names:
        series = data[name]
        if _column_kind(series) == "numeric" and np.isinf(_as_float(series)).any():
            raise ValueError(f"column '{name}' contains infinite values")


def _missing_mask(columns: dict[str, Any], n: int) -> tuple[np.ndarray, list[str]]:
    mask = np.zeros(n, dtype=bool)
    culprits = []
    for name, values in columns.items():
        missing = np.asarray(pd.isna(values), dtype=bool).reshape(n)
        if missing.any():
            culprits.append(name)
            mask |= missing
    return mask, culprits


def _random_terms(parsed: ParsedFormula, evaluator: _Evaluator, n: int, allow_n_levels: bool
                  ) -> tuple[list[RandomTerm], list[RandomSpec]]:
    terms, specs = [], []
    for spec in parsed.random:
        codes, levels = evaluator.grouping(spec.group)
        if len(levels) < 2:
            raise ValueError(f"grouping factor '{spec.group_label}' has only one level "
                             f"({', '.join(levels)}); a random effect needs at least two")
        too_many = len(levels) > n if allow_n_levels else len(levels) >= n
        if too_many:
            relation = "<=" if allow_n_levels else "<"
            raise ValueError(f"number of levels of each grouping factor must be {relation} number "
                             f"of observations (problems: {spec.group_label} has {len(levels)} "
                             f"levels for {n} observations)")
        matrix, names = _design_matrix(spec.effects, evaluator)
        _check_finite(matrix, names, f"the random-effects term ({spec.text})")
        terms.append(RandomTerm(spec.group_label, levels, codes, tuple(names), matrix))
        specs.append(spec)
    counts = [len(term.levels) for term in terms]
    if any(later > earlier for earlier, later in zip(counts, counts[1:])):
        # lme4's mkReTrms: rev(order(nl)), i.e. decreasing, ties in reverse formula order
        ascending = sorted(range(len(terms)), key=counts.__getitem__)
        order = ascending[::-1]
        terms = [terms[i] for i in order]
        specs = [specs[i] for i in order]
    return terms, specs


def _check_finite(matrix: np.ndarray, names: Sequence[str], where: str) -> None:
    bad = ~np.isfinite(matrix)
    if bad.any():
        column = names[int(np.nonzero(bad.any(axis=0))[0][0])]
        row = int(np.nonzero(bad.any(axis=1))[0][0])
        raise ValueError(f"column '{column}' of {where} has an infinite or undefined value "
                         f"(first at row {row} of the rows kept)")


def build_model(
    formula: str,
    data: pd.DataFrame,
    *,
    weights: str | Sequence[float] | np.ndarray | None = None,
    offset: str | Sequence[float] | np.ndarray | None = None,
    extra_columns: Sequence[str] = (),
    require_random: bool = True,
    na_action: str = "omit",
    allow_n_levels: bool = False,
    stacklevel: int = 2,
) -> ModelFrame:
    r"""Build the response, fixed design and random-effects terms of a mixed model.

    This is lme4's ``lFormula`` step. For the model

    .. math:: y = X\beta + \sum_i Z_i b_i + o + \varepsilon,

    it returns :math:`y`, :math:`X` (R's ``model.matrix`` of the fixed part, rank-deficient
    columns dropped) and, per random term :math:`i`, the grouping factor's level codes and
    the raw term matrix :math:`X_i`, from which :math:`Z_i` has the columns
    :math:`X_i \odot 1[g = \ell]` for each level :math:`\ell`.

    Parameters
    ----------
    formula : str
        An lme4 formula, e.g. ``"Reaction ~ Days + (1 + Days | Subject)"``.
    data : pandas.DataFrame
        The data.
    weights, offset : str or array-like, optional
        A column name, or values aligned with the rows of ``data``.
    extra_columns : sequence of str
        Further columns to carry along (and include in the missing-value check), e.g. a GEE
        cluster id; returned in :attr:`ModelFrame.extra`.
    require_random : bool
        Raise if the formula has no random-effects term (lme4's behaviour); GEE passes False.
    na_action : {"omit", "fail"}
        Drop rows with missing values (R's ``na.omit``) with a :class:`MissingRowsWarning`,
        or raise.
    allow_n_levels : bool
        Allow a grouping factor with as many levels as observations (glmer's ``allow.n``);
        lmer forbids it because such a term cannot be told from the residual.
    stacklevel : int
        Passed to :func:`warnings.warn` so warnings point at the user's line; callers that
        wrap this function add one per extra frame.

    Returns
    -------
    ModelFrame

    Raises
    ------
    FormulaError
        Malformed formula, or no random-effects term when one is required.
    ColumnNotFoundError
        A column named in the formula (or in ``weights``/``offset``/``extra_columns``) is not
        in ``data``; the message suggests close names.
    ValueError
        Empty data, no rows left after dropping missing values, infinite values, a constant
        response (unless there is an offset), a grouping factor with fewer than two levels
        or with as many levels as observations.
    TypeError
        A non-numeric response.
    """
    parsed = parse_formula(formula)
    if parsed.response is None:
        raise FormulaError(f"formula '{formula}' has no response (left-hand side)")
    if require_random and not parsed.random:
        raise FormulaError("no random effects terms specified in formula")
    if na_action not in ("omit", "fail"):
        raise ValueError(f"na_action must be 'omit' or 'fail', got {na_action!r}")
    if not isinstance(data, pd.DataFrame):
        raise TypeError(f"data must be a pandas DataFrame, got {type(data).__name__}")
    if len(data) == 0:
        raise ValueError("data has no rows")

    response_columns = _names_in(parsed.response)
    fixed_columns = _spec_columns(parsed.fixed)
    offset_columns = [name for node in parsed.offsets for name in _names_in(node)]
    _require_columns(data, response_columns, f"the response {parsed.response_label}")
    _require_columns(data, fixed_columns, "the fixed part")
    _require_columns(data, offset_columns, "an offset() term")
    random_columns: list[str] = []
    for spec in parsed.random:
        slope_columns = _spec_columns(spec.effects)
        _require_columns(data, slope_columns, f"the random-effects term ({spec.text})")
        _require_columns(data, spec.group, f"the grouping factor of ({spec.text})")
        random_columns += slope_columns + list(spec.group)
    _require_columns(data, list(extra_columns), "extra_columns")

    used = list(dict.fromkeys(response_columns + fixed_columns + offset_columns
                              + random_columns + list(extra_columns)))
    _check_unique_columns(data, used)
    checked: dict[str, Any] = {name: data[name].to_numpy() for name in used}
    weight_values = offset_values = None
    if weights is not None:
        weight_values, weight_name = _resolve_vector(weights, data, "weights")
        checked[weight_name] = weight_values
    if offset is not None:
        offset_values, offset_name = _resolve_vector(offset, data, "offset")
        checked[offset_name] = offset_values

    missing, culprits = _missing_mask(checked, len(data))
    n_dropped = int(missing.sum())
    if n_dropped and na_action == "fail":
        raise ValueError(f"{n_dropped} rows have missing values in: {', '.join(culprits)}")
    if n_dropped == len(data):
        raise ValueError(f"no rows left after dropping rows with missing values in: "
                         f"{', '.join(culprits)}")
    if n_dropped:
        warnings.warn(f"dropped {n_dropped} row{'s' if n_dropped > 1 else ''} with missing values "
                      f"in: {', '.join(culprits)}", MissingRowsWarning, stacklevel=stacklevel)
    keep = ~missing
    frame = _KeptRows(data, keep, len(data) - n_dropped)
    _check_numeric_columns(frame, used)

    encodings: dict = {}
    evaluator = _Evaluator(frame, encodings, learning=True)
    y, trials = _response(parsed, evaluator)
    n = y.shape[0]

    if offset is None and not parsed.offsets:
        _check_response_varies(y, parsed.response_label)

    X, names = _design_matrix(parsed.fixed, evaluator)
    _check_finite(X, names, "the fixed-effects design")
    dropped_idx = _rank_deficient_columns(X) if X.shape[1] else []
    dropped = tuple(names[j] for j in dropped_idx)
    if dropped:
        count = len(dropped)
        noun = "column / coefficient" if count == 1 else "columns / coefficients"
        warnings.warn(f"fixed-effect model matrix is rank deficient so dropping {count} {noun}: "
                      f"{', '.join(dropped)}", RankDeficiencyWarning, stacklevel=stacklevel)
        kept = [j for j in range(X.shape[1]) if j not in dropped_idx]
        X = X[:, kept]
        names = [names[j] for j in kept]

    terms, specs = _random_terms(parsed, evaluator, n, allow_n_levels)

    prior = None if weight_values is None else weight_values[keep]
    if prior is not None and ((prior < 0).any() or not np.isfinite(prior).all()):
        raise ValueError("weights must be finite and non-negative")
    offset_kept = None if offset_values is None else offset_values[keep]
    for node in parsed.offsets:
        term = evaluator.numeric(node)
        offset_kept = term if offset_kept is None else offset_kept + term
    if offset_kept is not None and not np.isfinite(offset_kept).all():
        raise ValueError("offset has infinite or undefined values")
    if trials is not None:
        prior = trials if prior is None else trials * prior

    return ModelFrame(
        formula=formula,
        response_name=parsed.response_label,
        y=y,
        X=X,
        fixed_names=tuple(names),
        terms=tuple(terms),
        weights=prior,
        offset=offset_kept,
        row_index=data.index[keep],
        n_dropped=n_dropped,
        dropped_columns=dropped,
        extra={name: frame[name].to_numpy() for name in extra_columns},
        response_kind="cbind" if trials is not None else "numeric",
        parsed=parsed,
        random_specs=tuple(specs),
        random_labels=tuple(spec.text for spec in specs),
        encodings=encodings,
    )
