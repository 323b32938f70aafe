"""R's text for formula expressions: the labels of variables, columns and terms.

R names a model-matrix column after the deparsed expression of its variable (``log(x)``,
``I((x + 1)^2)``) and prints numbers in formulas with 15 significant digits; these functions
write the same text.
"""

from __future__ import annotations

import math

from mlmtools.formula.syntax import (
    LOGICAL_OPERATORS,
    R_RESERVED_WORDS,
    Bar,
    Call,
    Logical,
    Name,
    Node,
    Num,
    Paren,
    Str,
    Unary,
)


def format_r_number(value: float) -> str:
    """Format a number as R's ``as.character``/``deparse`` do (15 significant digits).

    R writes the shorter of the fixed and the scientific notation, preferring fixed on a
    tie: ``1`` -> ``"1"``, ``0.5`` -> ``"0.5"``, ``1e5`` -> ``"1e+05"``, ``0.001`` -> ``"0.001"``.

    Parameters
    ----------
    value : float
        The number.

    Returns
    -------
    str
        R's text for the number.
    """
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "Inf" if value > 0 else "-Inf"
    if value == 0:
        return "0"
    sci = f"{value:.14e}"
    mantissa, exponent = sci.split("e")
    mantissa = mantissa.rstrip("0").rstrip(".")
    exp_value = int(exponent)
    sci_text = f"{mantissa}e{'-' if exp_value < 0 else '+'}{abs(exp_value):02d}"
    digits = len(mantissa.replace("-", "").replace(".", ""))
    decimals = max(0, digits - 1 - exp_value)
    fixed_text = f"{value:.{decimals}f}"
    return fixed_text if len(fixed_text) <= len(sci_text) else sci_text


_SPACED_OPERATORS = {"+", "-", "*", "~", "|", "||"} | LOGICAL_OPERATORS


def quote_name(name: str) -> str:
    """A column name as R deparses a symbol in a call: backquoted unless syntactic.

    R names model-matrix columns with this text (``"`hours studied`"``).

    Examples
    --------
    >>> quote_name("Days"), quote_name("hours studied"), quote_name("if"), quote_name(".2x")
    ('Days', '`hours studied`', '`if`', '`.2x`')
    """
    starts_well = name[:1].isalpha() or (name[:1] == "." and not name[1:2].isdigit())
    syntactic = starts_well and all(c.isalnum() or c in "._" for c in name) and name not in R_RESERVED_WORDS
    return name if syntactic else f"`{name}`"


def deparse(node: Node) -> str:
    """The expression as R's ``deparse`` prints it (the name of a variable or a column).

    ``+``, ``-``, ``*``, comparisons, ``&`` and ``|`` get spaces around them, ``/``, ``^``
    and ``:`` do not, parentheses written by the user are kept (``I((x + 1)^2)``,
    ``log(x/2)``), named arguments are written ``name = value``, strings in double quotes
    (``relevel(f, ref = "b")``) and names that are not syntactic in backquotes.

    Parameters
    ----------
    node : Node
        A syntax node from :func:`parse_formula`.

    Returns
    -------
    str
        R's text for the expression.
    """
    if isinstance(node, Num):
        return format_r_number(node.value)
    if isinstance(node, Name):
        return quote_name(node.name)
    if isinstance(node, Str):
        return '"' + node.value.replace('"', '\\"') + '"'
    if isinstance(node, Logical):
        return "TRUE" if node.value else "FALSE"
    if isinstance(node, Call):
        arguments = (deparse(arg) if name is None else f"{name} = {deparse(arg)}"
                     for name, arg in zip(node.argument_names(), node.args))
        return f"{node.func}({', '.join(arguments)})"
    if isinstance(node, Unary):
        return f"{node.op}{deparse(node.operand)}"
    if isinstance(node, Paren):
        return f"({deparse(node.inner)})"
    if isinstance(node, Bar):
        op = "||" if node.double else "|"
        return f"{deparse(node.effects)} {op} {deparse(node.group)}"
    if node.op in _SPACED_OPERATORS:
        return f"{deparse(node.left)} {node.op} {deparse(node.right)}"
    return f"{deparse(node.left)}{node.op}{deparse(node.right)}"
