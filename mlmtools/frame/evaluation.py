"""Evaluating formula variables on a data frame, with the encodings learned from it.

An :class:`Evaluator` turns a formula node into the columns it contributes before contrasts
are applied: numbers (``log(x)``, ``I(x^2)``, ``scale(x)``, ``poly(x, 2)``) or a factor.
When learning, it records what it derives from the data (factor levels, ``scale()`` centre
and scale, ``poly()`` recurrence coefficients) so that new data are encoded the same way.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from mlmtools.exceptions import FormulaError
from mlmtools.formula import Binary, Call, Name, Node, Num, Paren, Unary, deparse
from mlmtools.frame.columns import KeptRows, as_float, column_kind, factor_codes, interaction_codes


@dataclass(frozen=True)
class NumericVariable:
    """A numeric variable: ``values`` of shape (n, k) and one name suffix per column."""

    values: np.ndarray
    suffixes: tuple[str, ...]


@dataclass(frozen=True)
class FactorVariable:
    """A factor: level index of each row (-1 for missing) and the levels."""

    codes: np.ndarray
    levels: tuple[str, ...]


class Evaluator:
    """Evaluates formula variables on a data frame.

    When ``learning`` is true it records the encodings it derives from the data (levels,
    ``scale()`` and ``poly()`` parameters) in ``encodings``; otherwise it reuses them.
    """

    def __init__(self, data: pd.DataFrame | KeptRows, encodings: dict, learning: bool):
        self.data = data
        self.encodings = encodings
        self.learning = learning

    # -- factors ----------------------------------------------------------------------

    def _codes(self, key: str, what: str, codes: np.ndarray, order: list[str],
               unseen_ok: bool) -> FactorVariable:
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
        return FactorVariable(codes, levels)

    def grouping(self, names: tuple[str, ...]) -> tuple[np.ndarray, tuple[str, ...]]:
        """Codes and levels of the grouping factor ``a:b:...`` (R's ``factor(a:b)``).

        Levels of an interaction are the combinations that occur, ordered with the first
        factor varying slowest and labelled ``"a1:b1"``.
        """
        codes, order = factor_codes(self.data[names[0]])
        for name in names[1:]:
            codes, order = interaction_codes(codes, order, *factor_codes(self.data[name]))
        key = "group:" + ":".join(names)
        factor = self._codes(key, f"grouping factor '{':'.join(names)}'", codes, order,
                             unseen_ok=True)
        return factor.codes, factor.levels

    # -- variables --------------------------------------------------------------------

    def variable(self, node: Node) -> NumericVariable | FactorVariable:
        """The columns a formula variable contributes before contrasts are applied."""
        label = deparse(node)
        if isinstance(node, Name) and column_kind(self.data[node.name]) != "numeric":
            codes, order = factor_codes(self.data[node.name])
            return self._codes("levels:" + label, f"factor '{label}'", codes, order, False)
        if isinstance(node, Call) and node.func in ("factor", "C"):
            codes, order = self._factor_of(node.args[0])
            return self._codes("levels:" + label, f"factor '{label}'", codes, order, False)
        if isinstance(node, Call) and node.func == "poly":
            values = self._poly(label, self.numeric(node.args[0]), int(node.args[1].value))
            return NumericVariable(values, tuple(str(k) for k in range(1, values.shape[1] + 1)))
        return NumericVariable(self.numeric(node)[:, None], ("",))

    def _factor_of(self, node: Node) -> tuple[np.ndarray, list[str]]:
        inner = node.inner if isinstance(node, Paren) else node
        if isinstance(inner, Name):
            return factor_codes(self.data[inner.name])
        return factor_codes(pd.Series(self.numeric(inner)))

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
            kind = column_kind(series)
            if kind == "categorical":
                raise TypeError(f"column '{node.name}' is not numeric, so it cannot be used in "
                                f"arithmetic or a numeric transform")
            if kind == "bool":
                return np.array([np.nan if pd.isna(v) else float(bool(v)) for v in series])
            return as_float(series)
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
