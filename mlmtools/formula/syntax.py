"""The syntax tree of a formula, and errors that point at the offending column.

Nodes are frozen dataclasses; each records the 1-based ``column`` of its first token (ignored
when nodes are compared), so every error can show the formula with a caret under the place
it is about (:func:`located_error`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import TypeAlias, TypeGuard

from mlmtools.exceptions import FormulaError


@dataclass(frozen=True)
class Num:
    """A numeric literal."""

    value: float
    column: int = field(compare=False)


@dataclass(frozen=True)
class Name:
    """A variable (a column of the data); ``name`` is the column name, without backquotes."""

    name: str
    column: int = field(compare=False)


@dataclass(frozen=True)
class Str:
    """A string literal: a level in ``relevel(x, ref = "b")`` or ``I(f == "b")``."""

    value: str
    column: int = field(compare=False)


@dataclass(frozen=True)
class Logical:
    """``TRUE`` or ``FALSE``, the value of an argument such as ``raw = TRUE``."""

    value: bool
    column: int = field(compare=False)


@dataclass(frozen=True)
class Call:
    """A call of an allowed function, e.g. ``log(x)`` or ``poly(x, 2, raw = TRUE)``.

    ``args`` are the arguments in the order written; ``names`` gives each one's name
    (``None`` when given by position), empty when every argument is positional.
    """

    func: str
    args: tuple[Node, ...]
    column: int = field(compare=False)
    names: tuple[str | None, ...] = ()

    def argument_names(self) -> tuple[str | None, ...]:
        """The name of each argument (``None`` for a positional one)."""
        return self.names or (None,) * len(self.args)


@dataclass(frozen=True)
class Unary:
    """A unary ``-``, ``+`` or (inside a function's argument) ``!``."""

    op: str
    operand: Node
    column: int = field(compare=False)


@dataclass(frozen=True)
class Binary:
    """A binary operator: ``+ - * / ^ :``, and inside a function's argument the comparisons
    ``> < >= <= == !=`` and ``&``, ``|``."""

    op: str
    left: Node
    right: Node
    column: int = field(compare=False)


@dataclass(frozen=True)
class Paren:
    """An expression in parentheses (kept so that labels deparse as R prints them)."""

    inner: Node
    column: int = field(compare=False)


@dataclass(frozen=True)
class Bar:
    """A random-effects term ``expr | group`` (``double`` for ``||``)."""

    effects: Node
    group: Node
    double: bool
    column: int = field(compare=False)


Node: TypeAlias = Num | Name | Str | Logical | Call | Unary | Binary | Paren | Bar

#: R's reserved words: never a variable unless backquoted (``TRUE`` and ``FALSE`` are values).
R_RESERVED_WORDS = frozenset({"if", "else", "repeat", "while", "function", "for", "in", "next", "break",
                              "TRUE", "FALSE", "NULL", "Inf", "NaN", "NA", "NA_integer_", "NA_real_",
                              "NA_character_", "NA_complex_"})
#: Operators whose result is TRUE/FALSE (R's comparisons and logical operators).
COMPARISONS = frozenset({">", "<", ">=", "<=", "==", "!="})
LOGICAL_OPERATORS = COMPARISONS | {"&", "|"}


def is_logical(node: Node) -> bool:
    """Whether ``node`` gives TRUE/FALSE (a comparison, ``&``, ``|``, ``!``), parentheses and
    ``I()`` included: such a variable is coded as R codes a logical column."""
    while isinstance(node, Paren) or (isinstance(node, Call) and node.func == "I"):
        node = node.inner if isinstance(node, Paren) else node.args[0]
    if isinstance(node, Binary):
        return node.op in LOGICAL_OPERATORS
    return isinstance(node, Unary) and node.op == "!"


def located_error(message: str, text: str, column: int) -> FormulaError:
    """A FormulaError whose message shows the formula with a caret under ``column`` (1-based)."""
    caret = " " * (column - 1) + "^"
    error = FormulaError(f"{message}\n  {text}\n  {caret}")
    error.column = column
    return error


def is_positive_integer(node: Node) -> TypeGuard[Num]:
    """Whether ``node`` is a whole-number literal of at least 1 (a power or a poly() degree)."""
    return (isinstance(node, Num) and math.isfinite(node.value) and node.value >= 1
            and node.value == int(node.value))
