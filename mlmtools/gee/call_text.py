"""How R prints a ``geeglm`` call and a formula: the ``Call:`` line of the summary and the
model lines of a Wald test table."""

from __future__ import annotations

import re
from collections.abc import Sequence

DEPARSE_CUTOFF = 60
"""R's ``print(call)`` breaks the line after an argument once it passes this many characters."""


def deparse_call(function: str, arguments: Sequence[tuple[str, str]]) -> str:
    """A call laid out as R's ``print(call)`` does: ``function(name = value, ...)``, breaking
    the line after an argument once the line passes :data:`DEPARSE_CUTOFF` characters."""
    lines, current = [], f"{function}("
    for position, (name, value) in enumerate(arguments):
        current += f"{name} = {value}"
        if position < len(arguments) - 1:
            current += ", "
            if len(current) > DEPARSE_CUTOFF:
                lines.append(current)
                current = "    "
    lines.append(current + ")")
    return "\n".join(lines)


def formula_text(formula: str) -> str:
    """The formula on one line with single spaces, as R deparses a formula written that way."""
    return re.sub(r"\s+", " ", formula.strip())
