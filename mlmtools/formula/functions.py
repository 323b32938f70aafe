"""The functions a formula may call: R's parameters, what each accepts, and argument matching.

Every function is described by its R signature (:class:`Signature`): the parameters in R's
order, what kind of value each takes (a data expression, a whole number, numbers,
``TRUE``/``FALSE``, a level, a contrast name) and which may be given by position. A call is
checked against it when it is parsed (``check_call``, errors with a caret under the
argument) and its arguments are matched as R matches them (``bound_arguments``: exact
names first, then positions), so evaluation reads ``poly(x, 2, raw = TRUE)`` and
``poly(x, raw = TRUE, degree = 2)`` alike.
"""

from __future__ import annotations

from dataclasses import dataclass

from mlmtools.formula.syntax import (
    COMPARISONS,
    Binary,
    Call,
    Logical,
    Name,
    Node,
    Num,
    Paren,
    Str,
    Unary,
    is_positive_integer,
    located_error,
)

#: Contrast names ``C(x, contr)`` accepts, with R's short forms (``C(x, sum)``).
CONTRAST_NAMES = {"contr.treatment": "contr.treatment", "contr.sum": "contr.sum",
                  "contr.helmert": "contr.helmert", "contr.poly": "contr.poly",
                  "contr.SAS": "contr.SAS", "treatment": "contr.treatment", "sum": "contr.sum",
                  "helmert": "contr.helmert", "poly": "contr.poly", "SAS": "contr.SAS"}

# What an argument accepts.
DATA = "a data expression"
COUNT = "a positive whole number"
NUMBER = "a number"
NUMBERS = "a number or c(...) of numbers"
LOGICAL = "TRUE or FALSE"
LEVEL = "a level: a string, or its position"
CONTRAST = f"a contrast ({', '.join(name for name in CONTRAST_NAMES if name.startswith('contr.'))})"


@dataclass(frozen=True)
class Signature:
    """A function's parameters in R's order, as ``(name, kind)`` pairs.

    Attributes
    ----------
    parameters : tuple
        ``(name, kind)`` pairs: parameter names and the kind of value each takes.
    required : int
        How many leading parameters must be given.
    positional : int
        How many leading parameters may be given by position (R's ``poly(x, ..., degree)``
        takes its degree by position only as the first element of ``...``).
    logical : bool
        Whether comparisons (``I(x > 0)``) may appear in its data arguments.
    """

    parameters: tuple[tuple[str, str], ...]
    required: int = 1
    positional: int = 99
    logical: bool = False

    @property
    def names(self) -> tuple[str, ...]:
        """The parameter names in R's order."""
        return tuple(name for name, _ in self.parameters)


_ONE = Signature((("x", DATA),))
_SPLINE_ENDS = (("intercept", LOGICAL), ("Boundary.knots", NUMBERS))

#: Functions a formula may call, with R's parameters (the first names are those of the
#: original set, in the order error messages list them).
ALLOWED_FUNCTIONS: dict[str, Signature] = {
    "C": Signature((("object", DATA), ("contr", CONTRAST))),
    "factor": Signature((("x", DATA),), logical=True),
    "log": Signature((("x", DATA), ("base", NUMBER))),
    "exp": _ONE,
    "sqrt": _ONE,
    "abs": _ONE,
    "I": Signature((("x", DATA),), logical=True),
    "scale": _ONE,
    "poly": Signature((("x", DATA), ("degree", COUNT), ("raw", LOGICAL)), positional=2),
    "offset": Signature((("object", DATA),)),
    "as.factor": Signature((("x", DATA),), logical=True),
    "relevel": Signature((("x", DATA), ("ref", LEVEL)), required=2),
    "log10": _ONE,
    "log2": _ONE,
    "log1p": _ONE,
    "ns": Signature((("x", DATA), ("df", COUNT), ("knots", NUMBERS)) + _SPLINE_ENDS),
    "bs": Signature((("x", DATA), ("df", COUNT), ("knots", NUMBERS), ("degree", COUNT))
                    + _SPLINE_ENDS),
}
#: Namespaced spellings R users write (``splines::ns``) and the function they mean.
QUALIFIED_FUNCTIONS = {"splines::ns": "ns", "splines::bs": "bs", "stats::poly": "poly",
                       "stats::relevel": "relevel", "base::factor": "factor"}
#: Functions allowed only in one place: ``cbind(successes, failures)`` as the whole response,
#: ``c(...)`` as the value of ``knots``/``Boundary.knots``.
RESPONSE_ONLY_FUNCTIONS: dict[str, Signature] = {
    "cbind": Signature((("successes", DATA), ("failures", DATA)), required=2, positional=2)}
VECTOR = "c"


def canonical_name(func: str) -> str:
    """The function a (possibly namespaced) name calls: ``"splines::ns"`` -> ``"ns"``."""
    return QUALIFIED_FUNCTIONS.get(func, func)


def signature_of(func: str) -> Signature:
    """The signature of an allowed function (namespaced spellings included)."""
    name = canonical_name(func)
    return ALLOWED_FUNCTIONS.get(name) or RESPONSE_ONLY_FUNCTIONS[name]


def bound_arguments(call: Call) -> dict[str, Node]:
    """The arguments of a checked call by parameter name, matched as R matches them: named
    arguments first (exact names), then positional ones in order to the remaining parameters."""
    names = call.argument_names()
    bound = {name: arg for name, arg in zip(names, call.args) if name is not None}
    free = iter(_positional_parameters(signature_of(call.func), bound))
    for name, arg in zip(names, call.args):
        if name is None:
            bound[next(free)] = arg
    return bound


def _positional_parameters(signature: Signature, named: dict[str, Node] | list[str]) -> list[str]:
    """The parameters that positional arguments fill, in order: those R lets be given by
    position and not given by name."""
    return [name for name in signature.names[:signature.positional] if name not in named]


def data_arguments(call: Call) -> list[Node]:
    """The arguments of a call that are evaluated on the data (not numbers or options)."""
    kinds = dict(signature_of(call.func).parameters)
    return [arg for name, arg in bound_arguments(call).items() if kinds[name] == DATA]


def check_call(call: Call, text: str, logical_allowed: bool) -> None:
    """Check a parsed call against its signature (R's matching, each argument's kind).

    ``logical_allowed``: whether an enclosing call (``I()``, ``factor()``, ``as.factor()``)
    already allows comparisons. Raises a located :class:`~mlmtools.exceptions.FormulaError`.
    """
    signature = signature_of(call.func)
    label = f"{call.func}() at column {call.column}"
    names = call.argument_names()
    given = [name for name in names if name is not None]
    for name, arg in zip(names, call.args):
        if name is not None and name not in signature.names:
            raise located_error(f"{label} has no argument '{name}'; its arguments are "
                                f"{', '.join(signature.names)}", text, arg.column)
        if name is not None and given.count(name) > 1:
            raise located_error(f"{label}: argument '{name}' is given twice", text, arg.column)
    n_positional = sum(name is None for name in names)
    if n_positional > len(_positional_parameters(signature, given)):
        if signature.positional < len(signature.parameters):
            by_name = ", ".join(signature.names[signature.positional:])
            message = (f"{label} takes at most {_count(signature.positional)} by position, got "
                       f"{n_positional} (give {by_name} by name)")
        else:
            message = f"{label} takes {_count(len(signature.parameters))}, got {len(call.args)}"
        raise located_error(message, text, call.column)
    bound = bound_arguments(call)
    missing = [name for name in signature.names[:signature.required] if name not in bound]
    if missing:
        raise located_error(f"{label} needs the argument '{missing[0]}'", text, call.column)
    kinds = dict(signature.parameters)
    for name, arg in bound.items():
        _check_kind(call, name, kinds[name], arg, text, logical_allowed or signature.logical)


def _count(n: int) -> str:
    return f"{n} argument{'s' if n != 1 else ''}"


def _check_kind(call: Call, name: str, kind: str, arg: Node, text: str, logical_allowed: bool) -> None:
    if kind == DATA:
        check_data_expression(arg, text, logical_allowed)
        return
    valid = {
        COUNT: is_positive_integer(arg),
        NUMBER: _is_number(arg),
        NUMBERS: _is_number(arg) or (isinstance(arg, Call) and arg.func == VECTOR
                                     and bool(arg.args) and all(map(_is_number, arg.args))),
        LOGICAL: isinstance(arg, Logical),
        LEVEL: isinstance(arg, Str) or is_positive_integer(arg),
        CONTRAST: isinstance(arg, (Name, Str)) and _contrast_text(arg) in CONTRAST_NAMES,
    }[kind]
    if not valid:
        raise located_error(f"argument '{name}' of {call.func}() at column {arg.column} must be {kind}",
                            text, arg.column)


def _contrast_text(node: Name | Str) -> str:
    return node.name if isinstance(node, Name) else node.value


def contrast_argument(node: Node) -> str:
    """R's contrast function named by ``C()``'s second argument (``sum`` -> ``"contr.sum"``)."""
    assert isinstance(node, (Name, Str))  # checked by check_call
    return CONTRAST_NAMES[_contrast_text(node)]


def _is_number(node: Node) -> bool:
    if isinstance(node, Unary) and node.op in "-+":
        node = node.operand
    return isinstance(node, Num)


def check_data_expression(node: Node, text: str, logical_allowed: bool) -> None:
    """Refuse, in an expression evaluated on the data, what may only be an option's value:
    strings (except compared with ``==``/``!=``), ``TRUE``/``FALSE``, ``c()``; and comparisons
    outside ``I()``, ``factor()`` and ``as.factor()``. Calls inside were checked when parsed."""
    if isinstance(node, Str):
        raise located_error(f"strings are not allowed here (column {node.column}); a string can be "
                            "a level, as in relevel(x, ref = \"b\"), or compared with == or != "
                            "inside I()", text, node.column)
    if isinstance(node, Logical):
        raise located_error(f"{'TRUE' if node.value else 'FALSE'} at column {node.column} can only be "
                            "the value of an option, as in poly(x, 2, raw = TRUE)", text, node.column)
    if isinstance(node, Call) and node.func == VECTOR:
        raise located_error(f"c() at column {node.column} is only allowed as the value of knots or "
                            "Boundary.knots", text, node.column)
    if isinstance(node, (Binary, Unary)) and (node.op in COMPARISONS or node.op in "&|!") \
            and not logical_allowed:
        raise located_error(f"'{node.op}' at column {node.column} is only allowed inside I(), factor() "
                            "or as.factor(), e.g. I(x > 0)", text, node.column)
    if isinstance(node, Binary):
        for side, other in ((node.left, node.right), (node.right, node.left)):
            if isinstance(side, Str) and node.op in ("==", "!=") and not isinstance(other, Str):
                continue
            check_data_expression(side, text, logical_allowed)
    elif isinstance(node, Unary):
        check_data_expression(node.operand, text, logical_allowed)
    elif isinstance(node, Paren):
        check_data_expression(node.inner, text, logical_allowed)
