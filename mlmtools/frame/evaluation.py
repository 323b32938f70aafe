"""Evaluating formula variables on a data frame, with the encodings learned from it.

An :class:`Evaluator` turns a formula node into the columns it contributes before contrasts
are applied: numbers (``log(x)``, ``I(x^2)``, ``scale(x)``, ``poly(x, 2)``, ``ns(x, df = 3)``,
dates as R's numbers) or a factor (a text or categorical column, ``factor()``,
``as.factor()``, ``C()``, ``relevel()``, or a TRUE/FALSE variable such as ``I(x > 0)``).
When learning, it records what it derives from the data (factor levels, ``scale()`` centre
and scale, ``poly()`` coefficients, spline knots, the unit of a date column) so that new data
are encoded the same way (R's ``makepredictcall``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from mlmtools.exceptions import FormulaError
from mlmtools.formula import (
    COMPARISONS,
    Binary,
    Call,
    Name,
    Node,
    Num,
    Paren,
    Str,
    Unary,
    bound_arguments,
    canonical_name,
    contrast_argument,
    deparse,
    is_logical,
)
from mlmtools.frame.columns import KeptRows, as_float, column_kind, factor_codes, interaction_codes, is_ordered
from mlmtools.frame.dates import time_numbers, time_unit
from mlmtools.frame.polynomials import poly_coefficients, poly_evaluate, raw_powers
from mlmtools.frame.splines import learn_spline

_FACTOR_FUNCTIONS = ("factor", "as.factor", "C", "relevel")
_ARITHMETIC = {"+": np.add, "-": np.subtract, "*": np.multiply, "/": np.divide, "^": np.power,
               ">": np.greater, "<": np.less, ">=": np.greater_equal, "<=": np.less_equal,
               "==": np.equal, "!=": np.not_equal}
_TRANSFORMS = {"exp": np.exp, "sqrt": np.sqrt, "abs": np.abs, "log10": np.log10, "log2": np.log2,
               "log1p": np.log1p}


@dataclass(frozen=True)
class NumericVariable:
    """A numeric variable: ``values`` of shape (n, k) and one name suffix per column."""

    values: np.ndarray
    suffixes: tuple[str, ...]


@dataclass(frozen=True)
class FactorVariable:
    """A factor: level index of each row (-1 for missing), the levels, whether it is ordered
    (R's default contrasts are then polynomial) and the contrast ``C()`` set, if any."""

    codes: np.ndarray
    levels: tuple[str, ...]
    ordered: bool = False
    contrast: str | None = None


@dataclass(frozen=True)
class _FactorSource:
    """A factor before its levels are fixed: positions in ``order`` (the possible levels).
    ``logical``: an R logical, whose levels are always FALSE and TRUE (``model.matrix`` codes
    it as ``factor(x, levels = c(FALSE, TRUE))``), not only those that occur."""

    codes: np.ndarray
    order: list[str]
    ordered: bool = False
    contrast: str | None = None
    logical: bool = False


class Evaluator:
    """Evaluates formula variables on a data frame.

    When ``learning`` is true it records the encodings it derives from the data (levels,
    ``scale()``, ``poly()`` and spline parameters, date units) in ``encodings``; otherwise it
    reuses them.
    """

    def __init__(self, data: pd.DataFrame | KeptRows, encodings: dict[str, Any], learning: bool):
        self.data = data
        self.encodings = encodings
        self.learning = learning

    # -- factors ----------------------------------------------------------------------

    def _codes(self, key: str, what: str, codes: np.ndarray, order: list[str],
               unseen_ok: bool, every_level: bool = False) -> tuple[np.ndarray, tuple[str, ...]]:
        """Recode rows from positions in ``order`` to positions in the factor's levels: the
        labels of ``order`` that occur (all of them with ``every_level``) when learning, or the
        stored levels."""
        occurring = np.flatnonzero(np.bincount(codes + 1, minlength=len(order) + 1)[1:])
        if self.learning:
            present = set(order) if every_level else {order[i] for i in occurring.tolist()}
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
        return codes, levels

    def grouping(self, names: tuple[str, ...]) -> tuple[np.ndarray, tuple[str, ...]]:
        """Codes and levels of the grouping factor ``a:b:...`` (R's ``factor(a:b)``).

        Levels of an interaction are the combinations that occur, ordered with the first
        factor varying slowest and labelled ``"a1:b1"``.
        """
        codes, order = factor_codes(self.data[names[0]])
        for name in names[1:]:
            codes, order = interaction_codes(codes, order, *factor_codes(self.data[name]))
        key = "group:" + ":".join(names)
        return self._codes(key, f"grouping factor '{':'.join(names)}'", codes, order, unseen_ok=True)

    def _factor(self, label: str, node: Node) -> FactorVariable:
        source = self._factor_source(node)
        codes, levels = self._codes("levels:" + label, f"factor '{label}'", source.codes, source.order,
                                    False, every_level=source.logical)
        return FactorVariable(codes, levels, source.ordered, source.contrast)

    def _factor_source(self, node: Node) -> _FactorSource:
        """R's factor of ``node``: a column's categories, or the sorted distinct values of an
        expression; ``factor()`` drops unused categories, ``C()`` sets the contrast,
        ``relevel()`` moves the reference level first."""
        if isinstance(node, Paren):
            return self._factor_source(node.inner)
        if is_logical(node):
            values = self.numeric(node)
            codes = np.where(np.isnan(values), -1, values).astype(np.intp)
            return _FactorSource(codes, ["FALSE", "TRUE"], logical=True)
        if isinstance(node, Name):  # a column's own labels (an integer column's as integers)
            series = self.data[node.name]
            return _FactorSource(*factor_codes(series), ordered=is_ordered(series),
                                 logical=column_kind(series) == "bool")
        if isinstance(node, Call) and canonical_name(node.func) in _FACTOR_FUNCTIONS:
            func, args = canonical_name(node.func), bound_arguments(node)
            inner = self._factor_source(args.get("x") or args["object"])
            if func == "factor" or inner.logical:  # as.factor() of a logical is factor()
                return _without_unused(inner)
            if func == "C":
                contrast = contrast_argument(args["contr"]) if "contr" in args else None
                return _FactorSource(inner.codes, inner.order, inner.ordered, contrast)
            if func == "relevel":
                return self._relevel(node, args["x"], inner, args["ref"])
            return inner
        return _FactorSource(*factor_codes(pd.Series(self.numeric(node))))

    def _relevel(self, node: Call, x: Node, inner: _FactorSource, ref: Node) -> _FactorSource:
        """R's ``relevel(x, ref)``: the level ``ref`` (a label or a position) first."""
        label = deparse(node)
        numeric_input = not (is_logical(x) or (isinstance(x, Call) and canonical_name(x.func)
                                               in _FACTOR_FUNCTIONS)
                             or (isinstance(x, Name) and column_kind(self.data[x.name]) != "numeric"))
        if numeric_input or inner.ordered:
            raise ValueError(f"{label}: relevel() needs an unordered factor; write "
                             f"relevel(factor({deparse(x)}), ref = ...)"
                             + (" after making it unordered" if inner.ordered else ""))
        if not self.learning:
            return inner
        if isinstance(ref, Str):
            position = inner.order.index(ref.value) if ref.value in inner.order else -1
        else:
            assert isinstance(ref, Num)  # the parser accepts a string or a whole number
            position = int(ref.value) - 1 if ref.value <= len(inner.order) else -1
        if position < 0:
            raise ValueError(f"{label}: ref = {deparse(ref)} is not a level of {deparse(x)}; its levels "
                             f"are {', '.join(inner.order)}")
        order = [inner.order[position]] + inner.order[:position] + inner.order[position + 1:]
        moved = np.array([i + 1 if i < position else i for i in range(len(inner.order))] + [-1])
        moved[position] = 0
        return _FactorSource(moved[inner.codes], order, inner.ordered, inner.contrast)

    # -- variables --------------------------------------------------------------------

    def variable(self, node: Node) -> NumericVariable | FactorVariable:
        """The columns a formula variable contributes before contrasts are applied."""
        label = deparse(node)
        if is_logical(node) or (isinstance(node, Name) and column_kind(self.data[node.name])
                                in ("categorical", "bool")):
            return self._factor(label, node)
        func = canonical_name(node.func) if isinstance(node, Call) else ""
        if func in _FACTOR_FUNCTIONS:
            return self._factor(label, node)
        if func in ("poly", "ns", "bs"):
            assert isinstance(node, Call)
            values = self._basis(label, func, bound_arguments(node))
            return NumericVariable(values, tuple(str(k) for k in range(1, values.shape[1] + 1)))
        return NumericVariable(self.numeric(node)[:, None], ("",))

    def numeric(self, node: Node) -> np.ndarray:
        """Evaluate an arithmetic expression on the data, shape ``(n,)`` (TRUE/FALSE as 1/0)."""
        with np.errstate(all="ignore"):
            return self._arith(node)

    def _arith(self, node: Node) -> np.ndarray:
        n = len(self.data)
        if isinstance(node, Num):
            return np.full(n, node.value)
        if isinstance(node, Name):
            return self._column_numbers(node.name)
        if isinstance(node, Paren):
            return self._arith(node.inner)
        if isinstance(node, Unary):
            value = self._arith(node.operand)
            if node.op == "!":
                return np.where(np.isnan(value), np.nan, value == 0)
            return -value if node.op == "-" else value
        if isinstance(node, Binary):
            return self._binary(node)
        if isinstance(node, Call):
            return self._call(node)
        raise FormulaError(f"'{deparse(node)}' cannot be evaluated as a number")

    def _column_numbers(self, name: str) -> np.ndarray:
        series = self.data[name]
        kind = column_kind(series)
        if kind == "categorical":
            raise TypeError(f"column '{name}' is not numeric, so it cannot be used in "
                            f"arithmetic or a numeric transform")
        if kind == "timedelta":
            raise TypeError(f"column '{name}' holds time differences; convert it to numbers first, "
                            f"e.g. data['{name}'].dt.total_seconds() or / pd.Timedelta(days=1)")
        if kind == "bool":
            return np.array([np.nan if pd.isna(v) else float(bool(v)) for v in series])
        if kind == "datetime":
            key = "time:" + name
            if self.learning:
                self.encodings[key] = time_unit(series)
            return time_numbers(series, self.encodings[key])
        return as_float(series)

    def _binary(self, node: Binary) -> np.ndarray:
        if node.op == ":":
            raise FormulaError(f"':' inside an arithmetic expression ('{deparse(node)}') is not "
                               "supported")
        if node.op in ("==", "!=") and (isinstance(node.left, Str) or isinstance(node.right, Str)):
            return self._compare_labels(node)
        left, right = self._arith(node.left), self._arith(node.right)
        if node.op in ("&", "|"):
            return _logical_operation(node.op, left, right)
        result: np.ndarray = _ARITHMETIC[node.op](left, right)
        if node.op in COMPARISONS:
            return np.where(np.isnan(left) | np.isnan(right), np.nan, result)
        return result

    def _compare_labels(self, node: Binary) -> np.ndarray:
        """``f == "b"``: each row's level label compared with the string (NaN where missing)."""
        text, other = (node.left, node.right) if isinstance(node.left, Str) else (node.right, node.left)
        assert isinstance(text, Str)
        factor_like = (isinstance(other, Name) and column_kind(self.data[other.name]) != "numeric") \
            or (isinstance(other, Call) and canonical_name(other.func) in _FACTOR_FUNCTIONS)
        if not factor_like:
            raise TypeError(f"'{deparse(node)}': a string can only be compared with a text or factor "
                            "column; compare numbers with numbers")
        source = self._factor_source(other)
        labels = np.array(source.order + [""], dtype=object)[source.codes]
        equal = (labels == text.value).astype(float)
        result = equal if node.op == "==" else 1 - equal
        return np.where(source.codes < 0, np.nan, result)

    def _call(self, node: Call) -> np.ndarray:
        label = deparse(node)
        func, args = canonical_name(node.func), bound_arguments(node)
        if func in _TRANSFORMS:
            result: np.ndarray = _TRANSFORMS[func](self._arith(args["x"]))
            return result
        if func == "log":
            return _log(self._arith(args["x"]), _number(args["base"]) if "base" in args else None)
        if func == "I":
            return self._arith(args["x"])
        if func == "scale":
            return self._scale(label, self._arith(args["x"]))
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
        center: float
        scale: float
        center, scale = self.encodings[key]
        if scale == 0:
            raise ValueError(f"{label}: the variable is constant (standard deviation 0)")
        return (x - center) / scale

    def _basis(self, label: str, func: str, args: dict[str, Node]) -> np.ndarray:
        """``poly()`` (orthogonal or raw), ``ns()`` or ``bs()`` of a variable, with the
        coefficients or knots learned from the fitting data."""
        x = self.numeric(args["x"])
        if func == "poly":
            degree = int(_number(args["degree"])) if "degree" in args else 1
            if _flag(args, "raw"):
                return raw_powers(x, degree)
            return self._poly(label, x, degree)
        key = "spline:" + label
        if self.learning:
            knots = _numbers(args["knots"]) if "knots" in args else None
            boundary = _numbers(args["Boundary.knots"]) if "Boundary.knots" in args else None
            if boundary is not None and boundary.size != 2:
                raise ValueError(f"{label}: Boundary.knots must be two numbers")
            df = int(_number(args["df"])) if "df" in args else None
            degree = int(_number(args["degree"])) if "degree" in args else 3
            self.encodings[key] = learn_spline(func, x, df, knots, degree, _flag(args, "intercept"),
                                               None if boundary is None else (boundary[0], boundary[1]),
                                               label)
        basis: np.ndarray = self.encodings[key].evaluate(x)
        return basis

    def _poly(self, label: str, x: np.ndarray, degree: int) -> np.ndarray:
        key = "poly:" + label
        if self.learning:
            if np.unique(x[~np.isnan(x)]).size <= degree:
                raise ValueError(f"{label}: the degree must be less than the number of unique "
                                 "points")
            self.encodings[key] = poly_coefficients(x[~np.isnan(x)], degree)
        alpha, norm2 = self.encodings[key]
        return poly_evaluate(x, alpha, norm2)


def _without_unused(source: _FactorSource) -> _FactorSource:
    """R's ``factor(f)``: the categories that occur, in their order."""
    used = np.flatnonzero(np.bincount(source.codes + 1, minlength=len(source.order) + 1)[1:])
    if used.size == len(source.order):
        return _FactorSource(source.codes, source.order, source.ordered)
    recode = np.full(len(source.order) + 1, -1)
    recode[used] = np.arange(used.size)
    return _FactorSource(recode[source.codes], [source.order[i] for i in used.tolist()], source.ordered)


def _logical_operation(op: str, left: np.ndarray, right: np.ndarray) -> np.ndarray:
    """R's ``&`` and ``|`` with missing values: ``FALSE & NA`` is FALSE, ``TRUE | NA`` TRUE."""
    a, b = left != 0, right != 0
    missing = np.isnan(left) | np.isnan(right)
    if op == "&":
        decided = (~a & ~np.isnan(left)) | (~b & ~np.isnan(right))
        return np.where(decided, 0.0, np.where(missing, np.nan, 1.0))
    decided = (a & ~np.isnan(left)) | (b & ~np.isnan(right))
    return np.where(decided, 1.0, np.where(missing, np.nan, 0.0))


def _log(x: np.ndarray, base: float | None) -> np.ndarray:
    """R's ``log(x, base)``: ``log10``/``log2`` for bases 10 and 2, else :math:`\\log x/\\log b`."""
    functions = {None: np.log, 10.0: np.log10, 2.0: np.log2}
    if base in functions:
        result: np.ndarray = functions[base](x)
        return result
    assert base is not None
    ratio: np.ndarray = np.log(x) / np.log(base)
    return ratio


def _number(node: Node) -> float:
    """A number literal, possibly negative (checked by the parser)."""
    if isinstance(node, Unary):
        return -_number(node.operand) if node.op == "-" else _number(node.operand)
    assert isinstance(node, Num)
    return node.value


def _numbers(node: Node) -> np.ndarray:
    """A number or ``c(...)`` of numbers (checked by the parser)."""
    items = node.args if isinstance(node, Call) else (node,)
    return np.array([_number(item) for item in items], dtype=float)


def _flag(args: dict[str, Node], name: str) -> bool:
    """The value of a TRUE/FALSE option (FALSE when not given)."""
    value = args.get(name)
    return bool(value is not None and getattr(value, "value", False))
