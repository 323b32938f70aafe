"""The syntax tree of a formula, and errors that point at the offending column.

Nodes are frozen dataclasses; each records the 1-based ``column`` of its first token (ignored
when nodes are compared), so every error can show the formula with a caret under the place
it is about (:func:`located_error`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Union

from mlmtools.exceptions import FormulaError

@dataclass(frozen=True)
class Num:
    """A numeric literal."""

    value: float
    column: int = field(compare=False)


@dataclass(frozen=True)
class Name:
    """A variable (a column of the data)."""

    name: str
    column: int = field(compare=False)


@dataclass(frozen=True)
class Call:
    """A call of an allowed function, e.g. ``log(x)``."""

    func: str
    args: tuple["Node", ...]
    column: int = field(compare=False)


@dataclass(frozen=True)
class Unary:
    """A unary ``-`` or ``+``."""

    op: str
    operand: "Node"
    column: int = field(compare=False)


@dataclass(frozen=True)
class Binary:
    """A binary operator: ``+ - * / ^ :``."""

    op: str
    left: "Node"
    right: "Node"
    column: int = field(compare=False)


@dataclass(frozen=True)
class Paren:
    """An expression in parentheses (kept so that labels deparse as R prints them)."""

    inner: "Node"
    column: int = field(compare=False)


@dataclass(frozen=True)
class Bar:
    """A random-effects term ``expr | group`` (``double`` for ``||``)."""

    effects: "Node"
    group: "Node"
    double: bool
    column: int = field(compare=False)


Node = Union[Num, Name, Call, Unary, Binary, Paren, Bar]



def located_error(message: str, text: str, column: int) -> FormulaError:
    """A FormulaError whose message shows the formula with a caret under ``column`` (1-based)."""
    caret = " " * (column - 1) + "^"
    error = FormulaError(f"{message}\n  {text}\n  {caret}")
    error.column = column
    return error


def is_positive_integer(node: Node) -> bool:
    """Whether ``node`` is a whole-number literal of at least 1 (a power or a poly() degree)."""
    return (isinstance(node, Num) and math.isfinite(node.value) and node.value >= 1
            and node.value == int(node.value))
